package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/session"
	"github.com/parley-chat/parley/app/transfer"
)

func TestTransferFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		outgoing bool
		code     string
	}{
		{"canceled", fmt.Errorf("send: %w", transfer.ErrCanceled), true, CodeCanceled},
		{"ctx canceled", context.Canceled, true, CodeCanceled},
		{"room closed", session.ErrSessionClosed, true, CodeCanceled},
		{"relative path", session.ErrNotAbsolute, true, CodeFileUnreadable},
		{"special file", session.ErrUnsendable, true, CodeFileUnreadable},
		{"link to a folder", session.ErrFolderLink, true, CodeFileUnreadable},
		{"declined by peer", transfer.ErrDeclined, true, CodeDeclined},
		{"declined here", transfer.ErrDeclined, false, CodeDeclined},
		{"hash mismatch", transfer.ErrHashMismatch, false, CodeTransferFailed},
		{"peer could not save", transfer.ErrPeerFailed, true, CodePeerSaveFailed},
		{"peer has no room", transfer.ErrPeerRefused, true, CodePeerSaveFailed},
		{"disk full here", transfer.ErrDiskFull, false, CodeDiskFull},
		{"room budget used up", transfer.ErrReceiveLimit, false, CodeReceiveLimit},
		{"download folder", fmt.Errorf("%w: it is not a folder", transfer.ErrNoDownloadFolder), false, CodeDownloadFolder},
		{"unreadable", fmt.Errorf("send file: %w", os.ErrNotExist), true, CodeFileUnreadable},
		{"offline", session.ErrPeerOffline, true, session.CodePeerOffline},
		{"other", errors.New("boom"), true, CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if msg := transferFailure(tt.err, tt.outgoing); !strings.HasPrefix(msg, tt.code+": ") {
				t.Fatalf("got %q, want %s: ...", msg, tt.code)
			}
		})
	}
}

func TestDefaultDownloadDir(t *testing.T) {
	home, _ := os.UserHomeDir()
	tests := []struct {
		name, parley, xdg, home, want string
	}{
		{"override", "/tmp/x", "/d", home, "/tmp/x"},
		{"xdg", "", "/data/Downloads", home, "/data/Downloads/Parley"},
		{"relative xdg ignored", "", "Downloads", home, filepath.Join(home, "Downloads", "Parley")},
		{"home", "", "", home, filepath.Join(home, "Downloads", "Parley")},
		// Never a shared fallback such as /tmp/Parley.
		{"no home", "", "", "", ""},
		{"relative home", "", "", "somewhere", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PARLEY_DOWNLOAD_DIR", tt.parley)
			t.Setenv("XDG_DOWNLOAD_DIR", tt.xdg)
			t.Setenv("HOME", tt.home)
			if got := DefaultDownloadDir(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// updates returns the transfer:update payloads emitted so far.
func (w *fakeWindow) updates() []Transfer {
	var out []Transfer
	for _, p := range w.recorded(EventTransferUpdate) {
		out = append(out, p.(TransferEvent).Transfer)
	}
	return out
}

// opener records OpenPath calls.
type opener struct {
	mu    sync.Mutex
	paths []string
}

func (o *opener) open(p string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.paths = append(o.paths, p)
	return nil
}

func (o *opener) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.paths...)
}

// TestTransferEvents drives the facade with the session's transfer
// events directly: each becomes a transfer:update with the UI's fields,
// a failure carries its code, and only files received in this run can be
// opened.
func TestTransferEvents(t *testing.T) {
	t.Parallel()
	op := &opener{}
	u := newUser(t, "", func(c *Config) { c.OpenPath = op.open })
	if _, err := u.ready(); err != nil { // wires the window
		t.Fatal(err)
	}
	const room = "room1"
	saved := filepath.Join(t.TempDir(), "a.txt")
	if err := os.WriteFile(saved, []byte("hi"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := session.Transfer{ID: "t1", Name: "a.txt", State: session.TransferActive, Bytes: 20, Total: 100, Rate: 5, ETA: 1500 * time.Millisecond}
	u.onTransfer(room, in)
	if ups := u.win.updates(); len(ups) != 1 || ups[0].ETASeconds != 2 || ups[0].Rate != 5 || ups[0].State != StateActive || ups[0].RoomID != room {
		t.Fatalf("update %+v: want the ETA rounded up", ups)
	}
	// Not received yet: it cannot be opened.
	if err := u.OpenFile(saved); codeOf(err) != CodeInternal {
		t.Fatalf("OpenFile(before it arrived) = %v", err)
	}
	in.State, in.Bytes, in.Rate, in.ETA, in.Path = session.TransferDone, 100, 0, 0, saved
	u.onTransfer(room, in)
	ts, err := u.Transfers(room)
	if err != nil || len(ts) != 1 || ts[0].State != StateDone || ts[0].Path != saved {
		t.Fatalf("transfers %+v, %v", ts, err)
	}

	// Only received files can be opened.
	if err := u.OpenFile("/etc/passwd"); codeOf(err) != CodeInternal {
		t.Fatalf("OpenFile(arbitrary) = %v", err)
	}
	if err := u.OpenFile(saved); err != nil {
		t.Fatal(err)
	}
	if err := u.ShowInFolder(saved + "/"); err != nil {
		t.Fatal(err)
	}
	if got := op.list(); len(got) != 2 || got[0] != saved || got[1] != filepath.Dir(saved) {
		t.Fatalf("opened %q", got)
	}
	if err := os.Remove(saved); err != nil {
		t.Fatal(err)
	}
	if err := u.OpenFile(saved); codeOf(err) != CodeFileUnreadable {
		t.Fatalf("OpenFile(removed) = %v", err)
	}

	// A failed transfer carries its code; a file sent is never "received".
	u.onTransfer(room, session.Transfer{ID: "t2", Name: "b", State: session.TransferFailed, Err: transfer.ErrHashMismatch})
	u.onTransfer(room, session.Transfer{ID: "out-1", Outgoing: true, Name: "c", State: session.TransferDone, Path: "/etc/hostname"})
	ts, _ = u.Transfers(room)
	if len(ts) != 3 || ts[1].State != StateFailed || !strings.HasPrefix(ts[1].Error, CodeTransferFailed+": ") {
		t.Fatalf("transfers %+v", ts)
	}
	if err := u.OpenFile("/etc/hostname"); codeOf(err) != CodeInternal {
		t.Fatalf("OpenFile(a file sent) = %v", err)
	}
	if ts, err := u.Transfers("other"); err != nil || ts == nil || len(ts) != 0 {
		t.Fatalf("unknown room: %v, %v (want an empty list)", ts, err)
	}
}

// writeRandom writes n random bytes to a new file in dir.
func writeRandom(t *testing.T, dir, name string, n int) (string, []byte) {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, b
}

// dataDirWith returns a data folder whose profile "p" has settings.json
// as the settings screen writes it.
func dataDirWith(t *testing.T, s storedSettings) string {
	t.Helper()
	dir := t.TempDir()
	profileDir := filepath.Join(dir, "p")
	if err := os.MkdirAll(profileDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := saveSettings(profileDir, s); err != nil {
		t.Fatal(err)
	}
	return dir
}

// finalUpdate waits for a transfer:update of id in a terminal state.
func finalUpdate(t *testing.T, w *fakeWindow, id string) Transfer {
	t.Helper()
	return w.wait(t, EventTransferUpdate, func(p any) bool {
		tr := p.(TransferEvent).Transfer
		return tr.ID == id && session.TransferState(tr.State).Terminal()
	}).(TransferEvent).Transfer
}

// TestTwoWindowsFiles sends files between two facades over real pion
// peers on loopback: auto-accepted, dropped, declined, accepted after
// asking, canceled while queued, and a folder.
func TestTwoWindowsFiles(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	op := &opener{}
	alice := newUser(t, srv)
	bobDownloads := filepath.Join(t.TempDir(), "dl")
	// Bob asks above 64 KiB.
	bobData := dataDirWith(t, storedSettings{AutoAcceptMaxBytes: 64 << 10})
	bob := newUser(t, srv, func(c *Config) {
		c.Profile.DataDir = bobData
		c.DownloadDir = bobDownloads
		c.OpenPath = op.open
	})
	bob.files.offerTimeout = 2 * time.Second

	av, err := alice.CreateRoom(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SendFiles("nope", []string{"/etc/hostname"}); codeOf(err) != session.CodePeerOffline {
		t.Fatalf("SendFiles into a closed room = %v", err)
	}
	src := t.TempDir()
	small, smallBytes := writeRandom(t, src, "small.bin", 40<<10)

	// Queued before the peer is there: it waits, then goes.
	sent, err := alice.SendFiles(av.ID, []string{small, filepath.Join(src, "missing.bin"), "relative.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 3 || sent[0].State != StateWaiting || !sent[0].Outgoing || sent[0].Name != "small.bin" || sent[0].Total != 40<<10 || sent[0].Path != small {
		t.Fatalf("SendFiles = %+v", sent)
	}
	for _, bad := range sent[1:] {
		if bad.State != StateFailed || !strings.HasPrefix(bad.Error, CodeFileUnreadable+": ") {
			t.Fatalf("not a file: %+v", bad)
		}
	}
	if _, err := bob.OpenRoom(av.Link); err != nil {
		t.Fatal(err)
	}
	got := finalUpdate(t, alice.win, sent[0].ID)
	if got.State != StateDone || got.Bytes != got.Total {
		t.Fatalf("alice's final update %+v", got)
	}
	recv := bob.win.wait(t, EventTransferUpdate, func(p any) bool { return p.(TransferEvent).Transfer.State == StateDone }).(TransferEvent).Transfer
	if b, err := os.ReadFile(recv.Path); err != nil || !bytes.Equal(b, smallBytes) || filepath.Dir(recv.Path) != bobDownloads || recv.Outgoing || recv.Name != "small.bin" {
		t.Fatalf("bob's file %+v: %v", recv, err)
	}
	if st, err := os.Stat(bobDownloads); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("download dir: %v, %v", st.Mode(), err)
	}
	if err := bob.OpenFile(recv.Path); err != nil || len(op.list()) != 1 {
		t.Fatalf("OpenFile: %v, %v", err, op.list())
	}
	if bob.GetDownloadDir() != bobDownloads {
		t.Fatalf("GetDownloadDir = %q", bob.GetDownloadDir())
	}

	// A drop goes to the room in view; a big file is offered to bob, who
	// declines; the next one he accepts; the third he leaves unanswered.
	big, bigBytes := writeRandom(t, src, "big.bin", 300<<10)
	alice.SetActiveRoom(av.ID)
	alice.dropFiles([]string{big})
	if ev := alice.win.wait(t, EventFileDrop, nil).(FileDropEvent); ev.RoomID != av.ID || ev.Count != 1 {
		t.Fatalf("file drop event %+v", ev)
	}
	offer := bob.win.wait(t, EventTransferOffer, nil).(OfferEvent)
	if offer.Name != "big.bin" || offer.Size != 300<<10 || offer.RoomID != av.ID {
		t.Fatalf("offer %+v", offer)
	}
	if err := bob.AnswerOffer(av.ID, offer.ID, false); err != nil {
		t.Fatal(err)
	}
	dropped, _ := alice.Transfers(av.ID)
	got = finalUpdate(t, alice.win, dropped[len(dropped)-1].ID)
	if got.State != StateFailed || !strings.HasPrefix(got.Error, CodeDeclined+": ") {
		t.Fatalf("declined send %+v", got)
	}
	if err := bob.AnswerOffer(av.ID, offer.ID, true); codeOf(err) != CodeInternal {
		t.Fatalf("answering twice = %v", err)
	}

	// Two files at once: the second is canceled while the first waits.
	again, err := alice.SendFiles(av.ID, []string{big, small})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.CancelTransfer(av.ID, again[1].ID); err != nil {
		t.Fatal(err)
	}
	if got := finalUpdate(t, alice.win, again[1].ID); got.State != StateCanceled || !strings.HasPrefix(got.Error, CodeCanceled) {
		t.Fatalf("canceled while queued: %+v", got)
	}
	// The same content has the same id: wait for the new offer to be pending.
	deadline := time.Now().Add(step)
	for bob.AnswerOffer(av.ID, offer.ID, true) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the second offer never waited for an answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := finalUpdate(t, alice.win, again[0].ID); got.State != StateDone {
		t.Fatalf("accepted send %+v", got)
	}
	bobDone := bob.win.wait(t, EventTransferUpdate, func(p any) bool {
		tr := p.(TransferEvent).Transfer
		return tr.State == StateDone && tr.Name == "big.bin"
	}).(TransferEvent).Transfer
	if b, err := os.ReadFile(bobDone.Path); err != nil || !bytes.Equal(b, bigBytes) {
		t.Fatalf("big file: %v", err)
	}

	// Unanswered: declined after the offer timeout.
	third, _ := writeRandom(t, src, "third.bin", 100<<10)
	ts, err := alice.SendFiles(av.ID, []string{third})
	if err != nil {
		t.Fatal(err)
	}
	if got := finalUpdate(t, alice.win, ts[0].ID); got.State != StateFailed || !strings.HasPrefix(got.Error, CodeDeclined) {
		t.Fatalf("unanswered offer: %+v", got)
	}

	// A folder goes whole, as one transfer, into a new folder of bob's.
	tree := filepath.Join(t.TempDir(), "tree")
	if err := os.MkdirAll(filepath.Join(tree, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, leafBytes := writeRandom(t, filepath.Join(tree, "sub"), "leaf.bin", 10<<10)
	if err := os.Mkdir(filepath.Join(tree, "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	folderSent, err := alice.SendFiles(av.ID, []string{tree})
	if err != nil || len(folderSent) != 1 || folderSent[0].State != StateWaiting || !folderSent[0].Folder {
		t.Fatalf("SendFiles(folder) = %+v, %v", folderSent, err)
	}
	if got := finalUpdate(t, alice.win, folderSent[0].ID); got.State != StateDone || !got.Folder || got.Files != 1 || got.FilesDone != 1 || got.Total != 10<<10 {
		t.Fatalf("folder sent: %+v", got)
	}
	bobTree := bob.win.wait(t, EventTransferUpdate, func(p any) bool {
		tr := p.(TransferEvent).Transfer
		return tr.State == StateDone && tr.Folder
	}).(TransferEvent).Transfer
	if bobTree.Path != filepath.Join(bobDownloads, "tree") || bobTree.Files != 1 || bobTree.Name != "tree" {
		t.Fatalf("bob's folder %+v", bobTree)
	}
	if b, err := os.ReadFile(filepath.Join(bobTree.Path, "sub", "leaf.bin")); err != nil || !bytes.Equal(b, leafBytes) {
		t.Fatalf("folder's file: %v", err)
	}
	if st, err := os.Stat(filepath.Join(bobTree.Path, "empty")); err != nil || !st.IsDir() {
		t.Fatalf("empty folder: %v", err)
	}
	list, _ := alice.Transfers(av.ID)
	if len(list) != 8 {
		t.Fatalf("alice's transfers: %d, want 8", len(list))
	}
}

// TestReceiveLimitsTwoWindows drives bob's limits through settings.json,
// the facade, the session and transfer over real pion peers: with the
// auto-accept limit at 0 even a tiny file is asked about; once the room's
// budget is used up the next file is refused without asking
// (RECEIVE_LIMIT here, PEER_SAVE_FAILED for alice); a download folder that
// became writable by others refuses files (DOWNLOAD_FOLDER_UNUSABLE).
func TestReceiveLimitsTwoWindows(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice := newUser(t, srv)
	bobDownloads := filepath.Join(t.TempDir(), "dl")
	bobData := dataDirWith(t, storedSettings{AutoAcceptMaxBytes: 0}) // "0 = always ask"
	bob := newUser(t, srv, func(c *Config) {
		c.Profile.DataDir = bobData
		c.DownloadDir = bobDownloads
	})
	bob.files.limits = transfer.Limits{MaxFiles: 1}
	if s, err := bob.GetSettings(); err != nil || s.AutoAcceptMaxBytes != 0 {
		t.Fatalf("bob's settings %+v, %v", s, err)
	}

	av, err := alice.CreateRoom(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.OpenRoom(av.Link); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	tiny, tinyBytes := writeRandom(t, src, "tiny.txt", 10)
	sent, err := alice.SendFiles(av.ID, []string{tiny})
	if err != nil {
		t.Fatal(err)
	}
	offer := bob.win.wait(t, EventTransferOffer, nil).(OfferEvent)
	if offer.Name != "tiny.txt" || offer.Size != 10 {
		t.Fatalf("offer %+v", offer)
	}
	if err := bob.AnswerOffer(av.ID, offer.ID, true); err != nil {
		t.Fatal(err)
	}
	if got := finalUpdate(t, alice.win, sent[0].ID); got.State != StateDone {
		t.Fatalf("tiny file: %+v", got)
	}
	if got := finalUpdate(t, bob.win, offer.ID); got.State != StateDone {
		t.Fatalf("bob's tiny file: %+v", got)
	} else if b, err := os.ReadFile(got.Path); err != nil || !bytes.Equal(b, tinyBytes) {
		t.Fatalf("bob's tiny file: %v", err)
	}

	// The budget (one file) is used up: refused without asking.
	second, _ := writeRandom(t, src, "second.txt", 10)
	sent, err = alice.SendFiles(av.ID, []string{second})
	if err != nil {
		t.Fatal(err)
	}
	if got := finalUpdate(t, alice.win, sent[0].ID); got.State != StateFailed || !strings.HasPrefix(got.Error, CodePeerSaveFailed+": ") {
		t.Fatalf("alice's refused file: %+v", got)
	}
	refused := bob.win.wait(t, EventTransferUpdate, func(p any) bool {
		tr := p.(TransferEvent).Transfer
		return tr.Name == "second.txt" && session.TransferState(tr.State).Terminal()
	}).(TransferEvent).Transfer
	if refused.State != StateFailed || !strings.HasPrefix(refused.Error, CodeReceiveLimit+": ") {
		t.Fatalf("bob's refused file: %+v", refused)
	}
	if n := len(bob.win.recorded(EventTransferOffer)); n != 1 {
		t.Fatalf("bob was asked %d times, want once", n)
	}

	// Someone made the folder writable by everyone: refused, and said so.
	if err := os.Chmod(bobDownloads, 0o777); err != nil {
		t.Fatal(err)
	}
	third, _ := writeRandom(t, src, "third.txt", 10)
	if _, err := alice.SendFiles(av.ID, []string{third}); err != nil {
		t.Fatal(err)
	}
	refused = bob.win.wait(t, EventTransferUpdate, func(p any) bool {
		tr := p.(TransferEvent).Transfer
		return tr.Name == "third.txt" && session.TransferState(tr.State).Terminal()
	}).(TransferEvent).Transfer
	if refused.State != StateFailed || !strings.HasPrefix(refused.Error, CodeDownloadFolder+": ") {
		t.Fatalf("bob's file into a shared folder: %+v", refused)
	}
	if names, _ := os.ReadDir(bobDownloads); len(names) != 1 {
		t.Fatalf("download folder holds %d entries, want only tiny.txt", len(names))
	}
}

// TestFinishedCardsAreForgotten: the facade's cards of a room stay
// bounded when a peer offers and cancels file after file; the card of a
// transfer under way is kept, and the newest finished ones.
func TestFinishedCardsAreForgotten(t *testing.T) {
	t.Parallel()
	a := &App{}
	const room = "R"
	a.recordTransfer(room, session.Transfer{ID: "live", Name: "big.iso", Total: 1 << 30, State: session.TransferActive}, true)
	const offers = 3 * session.KeepFinished
	for i := range offers {
		id := fmt.Sprintf("f%05d", i)
		a.recordTransfer(room, session.Transfer{ID: id, Name: "x", Total: 10, State: session.TransferActive}, true)
		a.recordTransfer(room, session.Transfer{ID: id, Name: "x", Total: 10, State: session.TransferCanceled, Err: transfer.ErrCanceled}, true)
	}
	a.files.mu.Lock()
	list := append([]*transferEntry(nil), a.files.rooms[room].list...)
	n := len(a.files.rooms[room].byID)
	a.files.mu.Unlock()
	if len(list) > session.KeepFinished+session.KeepFinished/4+1 || n != len(list) {
		t.Fatalf("%d cards (%d by id) after %d canceled offers", len(list), n, offers)
	}
	if list[0].t.ID != "live" || list[len(list)-1].t.ID != fmt.Sprintf("f%05d", offers-1) {
		t.Fatalf("kept %s … %s", list[0].t.ID, list[len(list)-1].t.ID)
	}
	if list[1].t.ID == "f00000" {
		t.Fatal("the oldest finished card is still there")
	}
}
