package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
// room's session. The facade only keeps a per-room list of this run's
// transfers and turns session events into transfer:update events.

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

const (
	// updateInterval throttles transfer:update per transfer (state
	// changes are always sent).
	updateInterval = 100 * time.Millisecond
	// defaultOfferTimeout is how long a big offer waits for AnswerOffer
	// before it is declined.
	defaultOfferTimeout = 10 * time.Minute
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
	asks         map[askKey]chan bool
	offerTimeout time.Duration // 0 = defaultOfferTimeout
	now          func() time.Time
	// limits bound what a peer may store per room and session; the zero
	// value is transfer's defaults (tests make them small).
	limits transfer.Limits
}

type askKey struct{ room, id string }

// roomFiles is one room's transfers and its send queue.
type roomFiles struct {
	list    []*transferEntry          // newest last
	byID    map[string]*transferEntry // by Transfer.ID
	byReal  map[string]*transferEntry // outgoing, by transfer.Progress.ID
	queue   []*transferEntry          // outgoing, not started yet
	sending *transferEntry            // outgoing being sent (one at a time)
	running bool                      // a send worker runs for the room
}

// transferEntry is one transfer. Outgoing entries have a provisional ID
// (random, known at once) and learn the protocol's id (real) from their
// first progress event; incoming entries use the protocol's id.
type transferEntry struct {
	t        Transfer
	real     string
	lastEmit time.Time
	emitted  string             // state and error of the last update sent
	cancel   context.CancelFunc // outgoing while it is being sent
}

func terminal(state string) bool {
	return state == StateDone || state == StateFailed || state == StateCanceled
}

// roomLocked returns (creating) the room's transfers; f.mu must be held.
func (f *fileState) roomLocked(roomID string) *roomFiles {
	if f.rooms == nil {
		f.rooms = map[string]*roomFiles{}
	}
	rf := f.rooms[roomID]
	if rf == nil {
		rf = &roomFiles{byID: map[string]*transferEntry{}, byReal: map[string]*transferEntry{}}
		f.rooms[roomID] = rf
	}
	return rf
}

func (f *fileState) clock() time.Time {
	if f.now != nil {
		return f.now()
	}
	return time.Now()
}

// addLocked appends a new entry; f.mu must be held.
func (rf *roomFiles) addLocked(e *transferEntry) {
	rf.list = append(rf.list, e)
	rf.byID[e.t.ID] = e
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

// SendFiles queues the files at paths (absolute) for the room and returns
// their entries at once, in state waiting. They are sent one after the
// other; each waits for the peer and resumes after reconnects. A path that
// is not a readable regular file gets a failed entry.
func (a *App) SendFiles(roomID string, paths []string) ([]Transfer, error) {
	if _, err := a.ready(); err != nil {
		return nil, err
	}
	if _, ok := a.openSession(roomID); !ok {
		return nil, apiErrorf(session.CodePeerOffline, "the room is not open")
	}
	entries := make([]*transferEntry, 0, len(paths))
	for _, p := range paths {
		e := &transferEntry{t: Transfer{ID: provisionalID(), RoomID: roomID, Name: filepath.Base(p), Outgoing: true, State: StateWaiting, Path: p}}
		st, err := os.Stat(p)
		switch {
		case !filepath.IsAbs(p):
			e.t.State, e.t.Error = StateFailed, CodeFileUnreadable+": not an absolute path"
		case err != nil:
			e.t.State, e.t.Error = StateFailed, CodeFileUnreadable+": the file cannot be read"
		case st.IsDir():
			e.t.Folder = true // its size is known once it was walked
		case !st.Mode().IsRegular():
			e.t.State, e.t.Error = StateFailed, CodeFileUnreadable+": only regular files and folders can be sent"
		default:
			e.t.Total = st.Size()
		}
		entries = append(entries, e)
	}
	out := make([]Transfer, 0, len(entries))
	a.files.mu.Lock()
	rf := a.files.roomLocked(roomID)
	start := false
	for _, e := range entries {
		rf.addLocked(e)
		a.files.emittedLocked(e)
		out = append(out, e.t)
		if e.t.State == StateWaiting {
			rf.queue = append(rf.queue, e)
		}
	}
	if len(rf.queue) > 0 && !rf.running {
		rf.running, start = true, true
	}
	a.files.mu.Unlock()
	for _, t := range out {
		a.emitTransfer(t)
	}
	if start {
		a.startWorker(roomID, rf)
	}
	return out, nil
}

// startWorker runs the room's send queue on a goroutine the App waits for.
func (a *App) startWorker(roomID string, rf *roomFiles) {
	a.mu.Lock()
	if !a.closed {
		ctx := a.ctx
		a.wg.Go(func() { a.sendQueue(ctx, roomID, rf) })
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	// close() may be past waiting for goroutines: fail what is queued.
	a.failQueue(roomID, rf)
}

func (a *App) failQueue(roomID string, rf *roomFiles) {
	a.files.mu.Lock()
	var fail []Transfer
	for _, e := range rf.queue {
		e.t.State, e.t.Error = StateFailed, CodeInternal+": the app is shutting down"
		fail = append(fail, e.t)
	}
	rf.queue, rf.running = nil, false
	a.files.mu.Unlock()
	for _, t := range fail {
		a.emitTransfer(t)
	}
}

// sendQueue sends the room's queued files one at a time until the queue
// is empty.
func (a *App) sendQueue(ctx context.Context, roomID string, rf *roomFiles) {
	for {
		a.files.mu.Lock()
		if len(rf.queue) == 0 || ctx.Err() != nil {
			rf.running, rf.sending = false, nil
			for _, e := range rf.queue { // only left when the app closes
				e.t.State, e.t.Error = StateCanceled, CodeCanceled+": the app quit"
			}
			rf.queue = nil
			a.files.mu.Unlock()
			return
		}
		e := rf.queue[0]
		rf.queue = rf.queue[1:]
		if e.t.State != StateWaiting { // canceled while queued
			a.files.mu.Unlock()
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		e.cancel, rf.sending = cancel, e
		path := e.t.Path
		a.files.mu.Unlock()

		var p transfer.Progress
		var err error
		if r, ok := a.openSession(roomID); ok {
			p, err = r.sess.SendFile(sctx, path)
		} else {
			err = apiErrorf(session.CodePeerOffline, "the room is not open")
		}
		cancel()
		a.finishOutgoing(roomID, rf, e, p, err)
	}
}

// finishOutgoing records how SendFile ended for e.
func (a *App) finishOutgoing(roomID string, rf *roomFiles, e *transferEntry, p transfer.Progress, err error) {
	a.files.mu.Lock()
	e.cancel = nil
	if rf.sending == e {
		rf.sending = nil
	}
	if p.ID != "" && e.real == "" {
		e.real = p.ID
		rf.byReal[p.ID] = e
	}
	if err == nil {
		e.t.State, e.t.Error = StateDone, ""
		e.t.Bytes, e.t.Rate, e.t.ETASeconds = e.t.Total, 0, 0
		if p.Total > 0 {
			e.t.Bytes, e.t.Total = p.Total, p.Total
		}
		if p.Folder {
			e.t.Files, e.t.FilesDone, e.t.Skipped = p.Files, p.FilesDone, p.Skipped
		}
	} else {
		e.t.State, e.t.Error = transferFailure(err, true)
		e.t.Rate, e.t.ETASeconds = 0, 0
	}
	a.files.emittedLocked(e)
	t := e.t
	a.files.mu.Unlock()
	if err != nil {
		a.log.Info("file not sent", "room", session.LogID(roomID), "state", t.State, "err", t.Error)
	}
	a.emitTransfer(t)
	if t.State == StateDone && !t.Folder {
		a.queueThumb(roomID, t.ID, t.Path)
	}
}

// transferFailure maps why a transfer ended to its state and "CODE: detail".
func transferFailure(err error, outgoing bool) (state, msg string) {
	switch {
	case errors.Is(err, transfer.ErrCanceled), errors.Is(err, context.Canceled):
		return StateCanceled, CodeCanceled + ": the transfer was canceled"
	case errors.Is(err, transfer.ErrPeerRefused) && outgoing:
		return StateFailed, CodePeerSaveFailed + ": the other computer has no room for the file (its disk space or its limit for this room)"
	case errors.Is(err, transfer.ErrDiskFull):
		return StateFailed, fmt.Sprintf("%s: not enough free disk space for this file (Parley keeps %s free)", CodeDiskFull, sizeText(transfer.KeepFreeBytes))
	case errors.Is(err, transfer.ErrReceiveLimit):
		return StateFailed, CodeReceiveLimit + ": this room has received as much as it may in one session"
	case errors.Is(err, transfer.ErrNoDownloadFolder):
		return StateFailed, CodeDownloadFolder + ": " + strings.TrimPrefix(err.Error(), "transfer: ")
	case errors.Is(err, transfer.ErrPeerNoFolders):
		return StateFailed, CodeDeclined + ": the other person's Parley cannot receive folders (it needs an update)"
	case errors.Is(err, transfer.ErrPeerRejectedFolder):
		return StateFailed, CodeDeclined + ": the other computer refused the folder's list of files as unsafe"
	case errors.Is(err, transfer.ErrFolderTooLarge):
		return StateFailed, fmt.Sprintf("%s: the folder holds more than %d files and folders or is more than %d levels deep", CodeFileUnreadable, transfer.MaxFolderEntries, transfer.MaxFolderDepth)
	case errors.Is(err, transfer.ErrDeclined) && outgoing:
		return StateFailed, CodeDeclined + ": the other person declined the file"
	case errors.Is(err, transfer.ErrDeclined):
		return StateCanceled, CodeDeclined + ": the file was declined"
	case errors.Is(err, transfer.ErrHashMismatch):
		return StateFailed, CodeTransferFailed + ": the file was damaged in transit (checksum mismatch); nothing was saved"
	case errors.Is(err, transfer.ErrPeerFailed):
		return StateFailed, CodePeerSaveFailed + ": the other computer could not save the file"
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return StateFailed, CodeFileUnreadable + ": the file cannot be read"
	}
	return StateFailed, toAPI(err).Error()
}

// sizeText writes a whole number of GiB or MiB.
func sizeText(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// onProgress applies a session.TransferProgress of the room.
func (a *App) onProgress(roomID string, p transfer.Progress) {
	a.files.mu.Lock()
	rf := a.files.roomLocked(roomID)
	var e *transferEntry
	var thumbPath string
	if p.Outgoing {
		e = rf.byReal[p.ID]
		// The first event of the file being sent names its real id.
		if s := rf.sending; s != nil && s.real == "" && s.t.Name == p.Name && (e == nil || terminal(e.t.State)) {
			s.real, e = p.ID, s
			rf.byReal[p.ID] = s
		}
		// The send worker reports the outcome; late events change nothing.
		interrupted := p.Done && errors.Is(p.Err, transfer.ErrClosed)
		if e == nil || terminal(e.t.State) || (p.Done && !interrupted) {
			a.files.mu.Unlock()
			return
		}
		e.t.State = StateActive
		if interrupted { // SendFile resumes when the peer is back
			e.t.State = StateWaiting
		}
	} else {
		e = rf.byID[p.ID]
		if e == nil {
			e = &transferEntry{t: Transfer{ID: p.ID, RoomID: roomID, Name: p.Name, State: StateWaiting}}
			rf.addLocked(e)
		}
		switch {
		case !p.Done:
			e.t.State, e.t.Error = StateActive, ""
		case p.Err == nil:
			if e.t.State != StateDone && p.Path != "" {
				thumbPath = p.Path // verified: make its preview
			}
			e.t.State, e.t.Error, e.t.Path = StateDone, "", p.Path
			if p.Path != "" {
				a.files.markReceivedLocked(p.Path)
			}
		case errors.Is(p.Err, transfer.ErrClosed):
			// Interrupted: the partial file stays and the peer resumes it
			// when it comes back.
			e.t.State, e.t.Error = StateWaiting, ""
		default:
			e.t.State, e.t.Error = transferFailure(p.Err, false)
		}
	}
	e.t.Bytes, e.t.Total, e.t.Rate = p.Bytes, p.Total, p.Rate
	if p.Folder {
		e.t.Folder, e.t.Files, e.t.FilesDone, e.t.Skipped = true, p.Files, p.FilesDone, p.Skipped
		thumbPath = "" // a folder has no preview
	}
	e.t.ETASeconds = int64((p.ETA + time.Second - 1) / time.Second)
	if e.t.State != StateActive {
		e.t.Rate, e.t.ETASeconds = 0, 0
	}
	send := a.files.shouldEmitLocked(e)
	t := e.t
	a.files.mu.Unlock()
	if send {
		a.emitTransfer(t)
	}
	if thumbPath != "" {
		a.queueThumb(roomID, t.ID, thumbPath)
	}
}

// shouldEmitLocked says whether to send e's update now: always on a
// change of state or error, else at most every updateInterval. It records
// the emission. f.mu must be held.
func (f *fileState) shouldEmitLocked(e *transferEntry) bool {
	now := f.clock()
	key := e.t.State + "\x00" + e.t.Error
	if key != e.emitted || now.Sub(e.lastEmit) >= updateInterval {
		e.emitted, e.lastEmit = key, now
		return true
	}
	return false
}

// emittedLocked records an update of e that is sent unconditionally.
func (f *fileState) emittedLocked(e *transferEntry) {
	e.emitted, e.lastEmit = e.t.State+"\x00"+e.t.Error, f.clock()
}

// markReceivedLocked remembers path as a file received in this run (the
// only paths OpenFile and ShowInFolder accept). f.mu must be held.
func (f *fileState) markReceivedLocked(path string) {
	if f.received == nil {
		f.received = map[string]bool{}
	}
	f.received[filepath.Clean(path)] = true
}

// onFileReceived applies a session.FileReceived.
func (a *App) onFileReceived(e session.FileReceived) {
	a.files.mu.Lock()
	a.files.markReceivedLocked(e.Path)
	a.files.mu.Unlock()
}

// provisionalID is the id of an outgoing transfer, known before the file
// is hashed (the protocol's id derives from the content).
func provisionalID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "out-" + hex.EncodeToString(b)
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
	if e == nil {
		a.files.mu.Unlock()
		return apiErrorf(CodeInternal, "no such transfer")
	}
	if terminal(e.t.State) {
		a.files.mu.Unlock()
		return nil
	}
	real, cancel, outgoing := e.real, e.cancel, e.t.Outgoing
	if !outgoing {
		real = e.t.ID
	}
	queued := outgoing && cancel == nil // not started yet: the worker skips it
	if queued {
		e.t.State, e.t.Error = StateCanceled, CodeCanceled+": the transfer was canceled"
		a.files.emittedLocked(e)
	}
	t := e.t
	ch := a.files.asks[askKey{roomID, id}]
	delete(a.files.asks, askKey{roomID, id})
	a.files.mu.Unlock()

	if queued {
		a.emitTransfer(t)
		return nil
	}
	if ch != nil { // an offer still waiting for an answer
		select {
		case ch <- false:
		default:
		}
		return nil
	}
	told := false
	if real != "" {
		if r, ok := a.openSession(roomID); ok {
			told = r.sess.CancelTransfer(real) == nil
		}
	}
	if !told && cancel != nil {
		// Hashing, waiting for the peer, or interrupted: stop SendFile.
		cancel()
		told = true
	}
	if !told {
		// An interrupted incoming file: nothing runs until the peer resumes.
		a.files.mu.Lock()
		e.t.State, e.t.Error = StateCanceled, CodeCanceled+": the transfer was canceled"
		a.files.emittedLocked(e)
		t = e.t
		a.files.mu.Unlock()
		a.emitTransfer(t)
	}
	return nil
}

// askFunc returns the session's AskLargeFile for roomID: the offer is
// shown to the UI (transfer:offer) and waits for AnswerOffer, the offer
// timeout, the room's end or the app's.
func (a *App) askFunc(ctx context.Context, roomID string) func(transfer.Offer) bool {
	return func(o transfer.Offer) bool {
		name := transfer.SanitizeName(o.Name)
		ch := make(chan bool, 1)
		k := askKey{roomID, o.ID}
		a.files.mu.Lock()
		if a.files.asks == nil {
			a.files.asks = map[askKey]chan bool{}
		}
		a.files.asks[k] = ch
		rf := a.files.roomLocked(roomID)
		e := rf.byID[o.ID]
		if e == nil {
			e = &transferEntry{t: Transfer{ID: o.ID, RoomID: roomID, Name: name}}
			rf.addLocked(e)
		}
		e.t.State, e.t.Error, e.t.Total, e.t.Bytes = StateWaiting, "", o.Size, 0
		if o.Folder {
			e.t.Folder, e.t.Files, e.t.Skipped = true, o.Files, o.Skipped
		}
		a.files.emittedLocked(e)
		t := e.t
		timeout := a.files.offerTimeout
		a.files.mu.Unlock()
		if timeout <= 0 {
			timeout = defaultOfferTimeout
		}
		a.emitTransfer(t)
		a.emit(EventTransferOffer, OfferEvent{RoomID: roomID, ID: o.ID, Name: name, Size: o.Size, Folder: o.Folder, Files: o.Files})

		timer := time.NewTimer(timeout)
		defer timer.Stop()
		accept := false
		select {
		case accept = <-ch:
		case <-timer.C:
			a.log.Info("file offer unanswered; declined", "room", session.LogID(roomID))
		case <-ctx.Done():
		}
		a.files.mu.Lock()
		if a.files.asks[k] == ch {
			delete(a.files.asks, k)
		}
		a.files.mu.Unlock()
		return accept
	}
}

// AnswerOffer accepts or declines a file offer announced by transfer:offer.
func (a *App) AnswerOffer(roomID, id string, accept bool) error {
	if _, err := a.ready(); err != nil {
		return err
	}
	k := askKey{roomID, id}
	a.files.mu.Lock()
	ch := a.files.asks[k]
	delete(a.files.asks, k) // answered once
	a.files.mu.Unlock()
	if ch == nil {
		return apiErrorf(CodeInternal, "the offer is no longer waiting for an answer")
	}
	select {
	case ch <- accept:
	default: // answered already
	}
	return nil
}

// declineOffers declines the room's unanswered offers (the room ended).
func (a *App) declineOffers(roomID string) {
	a.files.mu.Lock()
	defer a.files.mu.Unlock()
	for k, ch := range a.files.asks {
		if k.room == roomID {
			delete(a.files.asks, k)
			select {
			case ch <- false:
			default:
			}
		}
	}
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
