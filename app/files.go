package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley/app/session"
	"github.com/parley-chat/parley/app/transfer"
)

// File transfer: the facade side of docs/app-api.md "File transfer".
// Files never pass through JavaScript: the UI hands over paths (from the
// native dialog or the window's file drop) and Go streams them through the
// room's session, which queues, sends, resumes and reports them. The
// facade keeps a per-room list of this run's transfers (a room closed and
// opened again keeps its cards) and turns session events into
// transfer:update events.

// Event names of file transfer.
const (
	EventTransferUpdate = "transfer:update"
	EventTransferOffer  = "transfer:offer"
	EventFileDrop       = "app:file-drop"
)

// Codes of failed or canceled transfers (Transfer.Error).
const (
	CodeTransferFailed = "TRANSFER_FAILED" // damaged in transit: nothing saved
	CodeCanceled       = "CANCELED"
	CodeDeclined       = "TRANSFER_DECLINED"
	CodePeerSaveFailed = "PEER_SAVE_FAILED"
	CodeFileUnreadable = "FILE_UNREADABLE"
	// Incoming files refused before a byte was written (the sender sees
	// PEER_SAVE_FAILED).
	CodeDiskFull       = "DISK_FULL"                // less than transfer.KeepFreeBytes would stay free
	CodeReceiveLimit   = "RECEIVE_LIMIT"            // the room's budget for this session is used up
	CodeDownloadFolder = "DOWNLOAD_FOLDER_UNUSABLE" // missing, not ours, or writable by others
)

// Transfer states.
const (
	StateWaiting  = "waiting"
	StateActive   = "active"
	StateDone     = "done"
	StateFailed   = "failed"
	StateCanceled = "canceled"
)

// Transfer is one file transfer as the UI shows it.
type Transfer struct {
	ID         string  `json:"id"`
	RoomID     string  `json:"roomId"`
	Name       string  `json:"name"`
	Outgoing   bool    `json:"outgoing"`
	Bytes      int64   `json:"bytes"`
	Total      int64   `json:"total"`
	Rate       float64 `json:"rate"`
	ETASeconds int64   `json:"etaSeconds"`
	State      string  `json:"state"`
	Error      string  `json:"error"`
	Path       string  `json:"path"`
	// Image is the preview state of a finished file: "" (not an image),
	// pending, ready (Thumbnail returns it) or failed (ImageError says
	// why, "CODE: detail").
	Image      string `json:"image"`
	ImageError string `json:"imageError"`
	// Folder marks a whole folder sent or received as one item: Bytes and
	// Total count all its files, FilesDone of Files are saved, Skipped
	// symbolic links and special files were left out by the sender. Path
	// is the folder.
	Folder    bool `json:"folder"`
	Files     int  `json:"files"`
	FilesDone int  `json:"filesDone"`
	Skipped   int  `json:"skipped"`
}

// TransferEvent is the payload of transfer:update.
type TransferEvent struct {
	RoomID   string   `json:"roomId"`
	Transfer Transfer `json:"transfer"`
}

// OfferEvent is the payload of transfer:offer: a file above the
// auto-accept limit waits for AnswerOffer.
type OfferEvent struct {
	RoomID string `json:"roomId"`
	ID     string `json:"id"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	// Folder: the offer is a whole folder of Files files (Size in all).
	Folder bool `json:"folder"`
	Files  int  `json:"files"`
}

// FileDropEvent is the payload of app:file-drop.
type FileDropEvent struct {
	RoomID string `json:"roomId"`
	Count  int    `json:"count"`
}

// filePicker is implemented by windows that have a native file dialog.
type filePicker interface {
	PickFiles(title string) ([]string, error)
}

// fileState is the facade's memory of this run's transfers. Its mutex is
// never held together with App.mu.
type fileState struct {
	mu           sync.Mutex
	active       string // room in view ("" = home)
	activeSet    bool   // the UI called SetActiveRoom at least once
	rooms        map[string]*roomFiles
	received     map[string]bool // cleaned paths of files received in this run
	offerTimeout time.Duration   // 0: the session's default
	// limits bound what a peer may store per room and session; the zero
	// value is transfer's defaults (tests make them small).
	limits transfer.Limits
}

// roomFiles is one room's transfers of this run.
type roomFiles struct {
	list    []*transferEntry          // newest last
	byID    map[string]*transferEntry // by Transfer.ID
	pruneAt int                       // list length of the next forgetFinishedLocked
}

// transferEntry is one transfer as last reported by the room's session.
type transferEntry struct{ t Transfer }

// roomLocked returns (creating) the room's transfers; f.mu must be held.
func (f *fileState) roomLocked(roomID string) *roomFiles {
	if f.rooms == nil {
		f.rooms = map[string]*roomFiles{}
	}
	rf := f.rooms[roomID]
	if rf == nil {
		rf = &roomFiles{byID: map[string]*transferEntry{}}
		f.rooms[roomID] = rf
	}
	return rf
}

// addLocked appends a new entry; f.mu must be held. Beyond
// session.KeepFinished finished cards the oldest finished ones go (a peer
// offering and canceling file after file would otherwise grow the list,
// and the UI's, for as long as the app runs).
func (rf *roomFiles) addLocked(e *transferEntry) {
	rf.list = append(rf.list, e)
	rf.byID[e.t.ID] = e
	if len(rf.list) > max(rf.pruneAt, session.KeepFinished+session.KeepFinished/4) {
		rf.forgetFinishedLocked()
		rf.pruneAt = len(rf.list) + session.KeepFinished/4
	}
}

// forgetFinishedLocked drops the oldest finished cards until at most
// session.KeepFinished are left; cards under way stay.
func (rf *roomFiles) forgetFinishedLocked() {
	finished := 0
	for _, e := range rf.list {
		if finishedState(e.t.State) {
			finished++
		}
	}
	drop := finished - session.KeepFinished
	if drop <= 0 {
		return
	}
	kept := rf.list[:0]
	for _, e := range rf.list {
		if drop > 0 && finishedState(e.t.State) {
			drop--
			delete(rf.byID, e.t.ID)
			continue
		}
		kept = append(kept, e)
	}
	clear(rf.list[len(kept):])
	rf.list = kept
}

// finishedState says whether a card's state is final.
func finishedState(state string) bool {
	return state == StateDone || state == StateFailed || state == StateCanceled
}

func (a *App) emitTransfer(t Transfer) {
	a.emit(EventTransferUpdate, TransferEvent{RoomID: t.RoomID, Transfer: t})
}

// DefaultDownloadDir is where received files go: $PARLEY_DOWNLOAD_DIR,
// else $XDG_DOWNLOAD_DIR/Parley, else ~/Downloads/Parley. Without a home
// folder it is "" (incoming files are refused with
// DOWNLOAD_FOLDER_UNUSABLE), never a shared folder such as /tmp/Parley,
// where another account could read the files or plant the folder first.
func DefaultDownloadDir() string {
	if d := os.Getenv("PARLEY_DOWNLOAD_DIR"); d != "" {
		return d
	}
	// The XDG spec says relative paths are to be ignored.
	if d := os.Getenv("XDG_DOWNLOAD_DIR"); filepath.IsAbs(d) {
		return filepath.Join(d, "Parley")
	}
	home, err := os.UserHomeDir()
	if err != nil || !filepath.IsAbs(home) {
		return ""
	}
	return filepath.Join(home, "Downloads", "Parley")
}

// GetDownloadDir returns the folder received files are saved in.
func (a *App) GetDownloadDir() string {
	if a.cfg.DownloadDir != "" {
		return a.cfg.DownloadDir
	}
	return DefaultDownloadDir()
}

// downloadDir returns the download folder, created 0700 when missing.
// When it is unusable (see transfer.PrepareDownloadDir) it is returned all
// the same: every offer checks it again, so incoming files are refused
// with DOWNLOAD_FOLDER_UNUSABLE until the user fixes the folder, and
// then work without reopening the room.
func (a *App) downloadDir() string {
	dir := a.GetDownloadDir()
	if dir == "" {
		a.log.Warn("no download folder (no home folder, PARLEY_DOWNLOAD_DIR unset); incoming files will be refused")
		return ""
	}
	d, err := filepath.Abs(dir)
	if err != nil {
		a.log.Warn("download folder unusable; incoming files will be refused", "err", err)
		return ""
	}
	if err := transfer.PrepareDownloadDir(d); err != nil {
		a.log.Warn("download folder unusable; incoming files will be refused", "err", err)
	}
	return d
}

// receiveLimits are the limits of a room joined now.
func (a *App) receiveLimits() transfer.Limits {
	a.files.mu.Lock()
	defer a.files.mu.Unlock()
	return a.files.limits
}

// offerTimeout is how long offers of a room joined now wait for an answer.
func (a *App) offerTimeout() time.Duration {
	a.files.mu.Lock()
	defer a.files.mu.Unlock()
	return a.files.offerTimeout
}

// SetActiveRoom tells Go which room is in view ("" on the home screen),
// so that files dropped on the window go to that room.
func (a *App) SetActiveRoom(roomID string) {
	a.files.mu.Lock()
	a.files.active, a.files.activeSet = roomID, true
	a.files.mu.Unlock()
}

// dropTarget is the room dropped files go to: the room in view, or,
// while the UI never said, the only open room.
func (a *App) dropTarget() string {
	a.files.mu.Lock()
	active, set := a.files.active, a.files.activeSet
	a.files.mu.Unlock()
	if set {
		return active
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.rooms) != 1 {
		return ""
	}
	for id := range a.rooms {
		return id
	}
	return ""
}

// dropFiles handles a file drop on the window (runtime.OnFileDrop): the
// files are sent into the room in view and the UI is told.
func (a *App) dropFiles(paths []string) {
	if len(paths) == 0 {
		return
	}
	roomID := a.dropTarget()
	if roomID == "" {
		a.log.Info("file drop ignored: no room in view", "files", len(paths))
		return
	}
	ts, err := a.SendFiles(roomID, paths)
	if err != nil {
		a.log.Warn("file drop", "room", session.LogID(roomID), "err", err)
		return
	}
	a.emit(EventFileDrop, FileDropEvent{RoomID: roomID, Count: len(ts)})
}

// PickAndSendFiles opens the native multi-file dialog and sends the chosen
// files into the room. It returns an empty list when the dialog is
// canceled.
func (a *App) PickAndSendFiles(roomID string) ([]Transfer, error) {
	if _, err := a.ready(); err != nil {
		return nil, err
	}
	if _, ok := a.openSession(roomID); !ok {
		return nil, apiErrorf(session.CodePeerOffline, "the room is not open")
	}
	a.mu.Lock()
	w := a.win
	a.mu.Unlock()
	p, ok := w.(filePicker)
	if !ok {
		return nil, apiErrorf(CodeInternal, "no file dialog without a window")
	}
	paths, err := p.PickFiles("Send files")
	if err != nil {
		return nil, apiErrorf(CodeInternal, "file dialog: %v", err)
	}
	if len(paths) == 0 {
		return []Transfer{}, nil
	}
	return a.SendFiles(roomID, paths)
}

// SendFiles queues the files and folders at paths (absolute) for the
// room and returns their entries at once, in state waiting. The room's
// session sends them one after the other; each waits for the peer and
// resumes after reconnects. A path that cannot be sent gets a failed
// entry.
func (a *App) SendFiles(roomID string, paths []string) ([]Transfer, error) {
	if _, err := a.ready(); err != nil {
		return nil, err
	}
	r, ok := a.openSession(roomID)
	if !ok {
		return nil, apiErrorf(session.CodePeerOffline, "the room is not open")
	}
	out := []Transfer{}
	for _, st := range r.sess.SendFiles(paths) {
		t := a.recordTransfer(roomID, st, false)
		out = append(out, t)
		a.emitTransfer(t)
	}
	return out, nil
}

// transferOf is the UI's view of a session transfer.
func transferOf(roomID string, st session.Transfer) Transfer {
	t := Transfer{ID: st.ID, RoomID: roomID, Name: st.Name, Outgoing: st.Outgoing, Path: st.Path,
		Bytes: st.Bytes, Total: st.Total, Rate: st.Rate, ETASeconds: int64((st.ETA + time.Second - 1) / time.Second),
		State: string(st.State), Folder: st.Folder, Files: st.Files, FilesDone: st.FilesDone, Skipped: st.Skipped}
	if st.Err != nil {
		t.Error = transferFailure(st.Err, st.Outgoing)
	}
	return t
}

// recordTransfer keeps the room's transfer as the session reported it and
// returns it as the UI sees it. An entry already known is only replaced
// by a newer report (update): SendFiles' first view must not overwrite
// what the event pump already recorded.
func (a *App) recordTransfer(roomID string, st session.Transfer, update bool) Transfer {
	t := transferOf(roomID, st)
	a.files.mu.Lock()
	rf := a.files.roomLocked(roomID)
	e := rf.byID[t.ID]
	switch {
	case e == nil:
		e = &transferEntry{t: t}
		rf.addLocked(e)
	case update:
		t.Image, t.ImageError = e.t.Image, e.t.ImageError
		e.t = t
	default:
		t = e.t
	}
	if !t.Outgoing && t.State == StateDone && t.Path != "" {
		a.files.markReceivedLocked(t.Path)
	}
	a.files.mu.Unlock()
	return t
}

// onTransfer applies a session.TransferChanged of the room: the UI is
// told, and a file that just finished gets its preview.
func (a *App) onTransfer(roomID string, st session.Transfer) {
	a.files.mu.Lock()
	var was string
	if rf := a.files.rooms[roomID]; rf != nil && rf.byID[st.ID] != nil {
		was = rf.byID[st.ID].t.State
	}
	a.files.mu.Unlock()
	t := a.recordTransfer(roomID, st, true)
	if t.Error != "" && t.Outgoing && was != t.State {
		a.log.Info("file not sent", "room", session.LogID(roomID), "state", t.State, "err", t.Error)
	}
	a.emitTransfer(t)
	if t.State == StateDone && was != StateDone && !t.Folder && t.Path != "" {
		a.queueThumb(roomID, t.ID, t.Path)
	}
}

// transferFailure says why a transfer ended, as "CODE: detail".
func transferFailure(err error, outgoing bool) string {
	switch {
	case errors.Is(err, transfer.ErrCanceled), errors.Is(err, context.Canceled):
		return CodeCanceled + ": the transfer was canceled"
	case errors.Is(err, session.ErrSessionClosed):
		return CodeCanceled + ": the room was closed"
	case errors.Is(err, session.ErrNotAbsolute):
		return CodeFileUnreadable + ": not an absolute path"
	case errors.Is(err, session.ErrUnsendable):
		return CodeFileUnreadable + ": only regular files and folders can be sent"
	case errors.Is(err, session.ErrFolderLink):
		return CodeFileUnreadable + ": a link to a folder cannot be sent (send the folder itself)"
	case errors.Is(err, transfer.ErrPeerRefused) && outgoing:
		return CodePeerSaveFailed + ": the other computer has no room for the file (its disk space or its limit for this room)"
	case errors.Is(err, transfer.ErrDiskFull):
		return fmt.Sprintf("%s: not enough free disk space for this file (Parley keeps %s free)", CodeDiskFull, sizeText(transfer.KeepFreeBytes))
	case errors.Is(err, transfer.ErrReceiveLimit):
		return CodeReceiveLimit + ": this room has received as much as it may in one session"
	case errors.Is(err, transfer.ErrNoDownloadFolder):
		return CodeDownloadFolder + ": " + strings.TrimPrefix(err.Error(), "transfer: ")
	case errors.Is(err, transfer.ErrPeerNoFolders):
		return CodeDeclined + ": the other person's Parley cannot receive folders (it needs an update)"
	case errors.Is(err, transfer.ErrPeerRejectedFolder):
		return CodeDeclined + ": the other computer refused the folder's list of files as unsafe"
	case errors.Is(err, transfer.ErrFolderTooLarge):
		return fmt.Sprintf("%s: the folder holds more than %d files and folders or is more than %d levels deep", CodeFileUnreadable, transfer.MaxFolderEntries, transfer.MaxFolderDepth)
	case errors.Is(err, transfer.ErrDeclined) && outgoing:
		return CodeDeclined + ": the other person declined the file"
	case errors.Is(err, transfer.ErrDeclined):
		return CodeDeclined + ": the file was declined"
	case errors.Is(err, transfer.ErrHashMismatch):
		return CodeTransferFailed + ": the file was damaged in transit (checksum mismatch); nothing was saved"
	case errors.Is(err, transfer.ErrPeerFailed):
		return CodePeerSaveFailed + ": the other computer could not save the file"
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return CodeFileUnreadable + ": the file cannot be read"
	}
	return toAPI(err).Error()
}

// sizeText writes a whole number of GiB or MiB.
func sizeText(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// markReceivedLocked remembers path as a file received in this run (the
// only paths OpenFile and ShowInFolder accept). f.mu must be held.
func (f *fileState) markReceivedLocked(path string) {
	if f.received == nil {
		f.received = map[string]bool{}
	}
	f.received[filepath.Clean(path)] = true
}

// Transfers returns the room's transfers of this run of the app, newest
// last.
func (a *App) Transfers(roomID string) ([]Transfer, error) {
	if _, err := a.ready(); err != nil {
		return nil, err
	}
	a.files.mu.Lock()
	defer a.files.mu.Unlock()
	out := []Transfer{}
	if rf := a.files.rooms[roomID]; rf != nil {
		for _, e := range rf.list {
			out = append(out, e.t)
		}
	}
	return out, nil
}

// CancelTransfer cancels a transfer in either direction; the peer is told.
// Canceling a finished transfer does nothing.
func (a *App) CancelTransfer(roomID, id string) error {
	if _, err := a.ready(); err != nil {
		return err
	}
	a.files.mu.Lock()
	var e *transferEntry
	if rf := a.files.rooms[roomID]; rf != nil {
		e = rf.byID[id]
	}
	a.files.mu.Unlock()
	if e == nil {
		return apiErrorf(CodeInternal, "no such transfer")
	}
	r, ok := a.openSession(roomID)
	if !ok {
		return nil // the room is closed: nothing of it runs
	}
	if err := r.sess.CancelTransfer(id); err != nil && !errors.Is(err, session.ErrNoTransfer) {
		return toAPI(err)
	}
	return nil
}

// AnswerOffer accepts or declines a file offer announced by transfer:offer.
func (a *App) AnswerOffer(roomID, id string, accept bool) error {
	if _, err := a.ready(); err != nil {
		return err
	}
	r, ok := a.openSession(roomID)
	if !ok || r.sess.AnswerOffer(id, accept) != nil {
		return apiErrorf(CodeInternal, "the offer is no longer waiting for an answer")
	}
	return nil
}

// receivedPath checks that path is a file received in this run that still
// exists, and returns it cleaned.
func (a *App) receivedPath(path string) (string, error) {
	if _, err := a.ready(); err != nil {
		return "", err
	}
	p := filepath.Clean(path)
	a.files.mu.Lock()
	ok := a.files.received[p]
	a.files.mu.Unlock()
	if !ok {
		return "", apiErrorf(CodeInternal, "only files received in this session can be opened")
	}
	if _, err := os.Stat(p); err != nil {
		return "", apiErrorf(CodeFileUnreadable, "the file is no longer there")
	}
	return p, nil
}

// OpenFile opens a received file with the desktop's default application.
func (a *App) OpenFile(path string) error {
	p, err := a.receivedPath(path)
	if err != nil {
		return err
	}
	return a.openPath(p)
}

// ShowInFolder opens the folder of a received file in the file manager.
func (a *App) ShowInFolder(path string) error {
	p, err := a.receivedPath(path)
	if err != nil {
		return err
	}
	return a.openPath(filepath.Dir(p))
}

// openPath hands path to Config.OpenPath, or starts xdg-open on it
// without waiting for it to finish (it is reaped in the background).
func (a *App) openPath(path string) error {
	if a.cfg.OpenPath != nil {
		if err := a.cfg.OpenPath(path); err != nil {
			return apiErrorf(CodeInternal, "open: %v", err)
		}
		return nil
	}
	bin, err := exec.LookPath("xdg-open")
	if err != nil {
		return apiErrorf(CodeInternal, "xdg-open is not installed")
	}
	cmd := exec.Command(bin, path)
	if err := cmd.Start(); err != nil {
		return apiErrorf(CodeInternal, "xdg-open: %v", err)
	}
	a.wg.Go(func() { _ = cmd.Wait() })
	return nil
}
