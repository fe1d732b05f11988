package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/transfer"
)

// joinWith joins link as p with the config changed by opt.
func joinWith(t testing.TB, link Link, p participant, opt func(*Config)) *Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := Config{Link: link, Identity: p.id, History: p.hist, LoopbackOnly: true}
	opt(&cfg)
	s, err := Join(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		for range s.Events() {
		}
	})
	return s
}

// bareSession is a Session without signaling or a peer: its file table
// is driven with protocol events directly.
func bareSession(now func() time.Time) *Session {
	s := &Session{log: slog.New(slog.DiscardHandler), events: make(chan Event, 64), ctx: context.Background()}
	s.transfers.now = now
	return s
}

// changes returns the TransferChanged events queued so far.
func changes(s *Session) []Transfer {
	var out []Transfer
	for {
		select {
		case ev := <-s.events:
			if c, ok := ev.(TransferChanged); ok {
				out = append(out, c.Transfer)
			}
		default:
			return out
		}
	}
}

type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *stepClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestIncomingTransferTable: the protocol's events of a received file
// become one transfer: throttled progress, every change of state, the
// interruption shown as waiting, the saved path once verified.
func TestIncomingTransferTable(t *testing.T) {
	t.Parallel()
	clk := &stepClock{now: time.Unix(1000, 0)}
	s := bareSession(clk.Now)
	steps := []struct {
		p       transfer.Progress
		advance time.Duration
		emit    bool
		state   TransferState
	}{
		{transfer.Progress{ID: "t1", Name: "a.txt", Total: 100}, 0, true, TransferActive},
		{transfer.Progress{ID: "t1", Name: "a.txt", Bytes: 10, Total: 100, Rate: 5}, 10 * time.Millisecond, false, TransferActive},
		{transfer.Progress{ID: "t1", Name: "a.txt", Bytes: 20, Total: 100, Rate: 5, ETA: 1500 * time.Millisecond}, 100 * time.Millisecond, true, TransferActive},
		{transfer.Progress{ID: "t1", Name: "a.txt", Bytes: 30, Total: 100, Done: true, Err: transfer.ErrClosed}, time.Millisecond, true, TransferWaiting},
		{transfer.Progress{ID: "t1", Name: "a.txt", Bytes: 30, Total: 100}, time.Millisecond, true, TransferActive},
		{transfer.Progress{ID: "t1", Name: "a.txt", Bytes: 100, Total: 100, Done: true, Path: "/d/a.txt"}, time.Millisecond, true, TransferDone},
	}
	for i, st := range steps {
		clk.Add(st.advance)
		s.onProgress(st.p)
		got := changes(s)
		if (len(got) == 1) != st.emit || len(got) > 1 {
			t.Fatalf("step %d: %d events, want emitted %v", i, len(got), st.emit)
		}
		ts := s.Transfers()
		if len(ts) != 1 || ts[0].State != st.state || ts[0].Bytes != st.p.Bytes || ts[0].Outgoing || ts[0].ID != "t1" {
			t.Fatalf("step %d: %+v", i, ts)
		}
		if i == 2 && (ts[0].Rate != 5 || ts[0].ETA != 1500*time.Millisecond) {
			t.Fatalf("step %d: rate and ETA lost: %+v", i, ts[0])
		}
	}
	if ts := s.Transfers(); ts[0].Path != "/d/a.txt" || ts[0].Err != nil || ts[0].Rate != 0 {
		t.Fatalf("done: %+v", ts[0])
	}
	// A failed incoming transfer keeps its error; a declined one is
	// canceled here (the person said no).
	s.onProgress(transfer.Progress{ID: "t2", Name: "b", Total: 5, Done: true, Err: transfer.ErrHashMismatch})
	s.onProgress(transfer.Progress{ID: "t3", Name: "c", Total: 5, Done: true, Err: transfer.ErrDeclined})
	got := changes(s)
	if len(got) != 2 || got[0].State != TransferFailed || !errors.Is(got[0].Err, transfer.ErrHashMismatch) || got[1].State != TransferCanceled {
		t.Fatalf("failures: %+v", got)
	}
}

// TestOutgoingProgressMatching: the queue's file being sent learns its
// protocol id from its first event; events of other transfers and the
// protocol's own Done change nothing (the queue reports the outcome).
func TestOutgoingProgressMatching(t *testing.T) {
	t.Parallel()
	s := bareSession(nil)
	ts := &s.transfers
	done := &entry{t: Transfer{ID: "out-1", Outgoing: true, Name: "a", State: TransferDone, Total: 9}, real: "A"}
	cur := &entry{t: Transfer{ID: "out-2", Outgoing: true, Name: "b", State: TransferWaiting, Total: 50}}
	ts.addLocked(done)
	ts.addLocked(cur)
	ts.byReal["A"] = done
	ts.sending = cur

	s.onProgress(transfer.Progress{ID: "A", Name: "a", Outgoing: true, Bytes: 9, Total: 9, Done: true})
	if got := changes(s); len(got) != 0 {
		t.Fatalf("a finished transfer's late event emitted %+v", got)
	}
	s.onProgress(transfer.Progress{ID: "B", Name: "b", Outgoing: true, Bytes: 20, Total: 50, Rate: 10})
	s.onProgress(transfer.Progress{ID: "X", Name: "other", Outgoing: true, Bytes: 1, Total: 2})
	got := changes(s)
	if len(got) != 1 || got[0].ID != "out-2" || got[0].State != TransferActive || got[0].Bytes != 20 {
		t.Fatalf("events %+v", got)
	}
	s.onProgress(transfer.Progress{ID: "B", Name: "b", Outgoing: true, Bytes: 30, Total: 50, Done: true, Err: transfer.ErrClosed})
	if got := changes(s); len(got) != 1 || got[0].State != TransferWaiting || got[0].Rate != 0 {
		t.Fatalf("interrupted: %+v", got)
	}
	s.onProgress(transfer.Progress{ID: "B", Name: "b", Outgoing: true, Bytes: 30, Total: 50, Rate: 5})
	s.onProgress(transfer.Progress{ID: "B", Name: "b", Outgoing: true, Bytes: 50, Total: 50, Done: true})
	if cur.t.State != TransferActive {
		t.Fatalf("state %s after the protocol's Done", cur.t.State)
	}
}

// TestSendFilesRefusesAtOnce: what cannot be sent fails when queued,
// with a reason, and nothing of it is queued.
func TestSendFilesRefusesAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(sub, link); err != nil {
		t.Fatal(err)
	}
	s := bareSession(nil)
	s.transfers.closed = true // nothing may start: only the checks run
	got := s.SendFiles([]string{"relative", filepath.Join(dir, "missing"), link, file, sub})
	want := []error{ErrNotAbsolute, os.ErrNotExist, ErrFolderLink, ErrSessionClosed, ErrSessionClosed}
	for i, tr := range got {
		if !errors.Is(tr.Err, want[i]) || !tr.State.Terminal() || !tr.Outgoing || tr.ID == "" {
			t.Errorf("%d: %+v, want %v", i, tr, want[i])
		}
	}
	if got[3].Total != 5 || !got[4].Folder {
		t.Fatalf("what was known: %+v %+v", got[3], got[4])
	}
	if len(s.transfers.queue) != 0 {
		t.Fatal("something was queued")
	}
}

// TestSendQueue is the queue between two real sessions: files go one
// after the other and arrive whole, a queued file canceled is skipped,
// and when the sender leaves, what is still queued ends (canceled, the
// room closed) before its Closed event, so no one waits for it.
func TestSendQueue(t *testing.T) {
	srv := newServer(t)
	link := newRoom(t, srv)
	out := t.TempDir()
	dir := t.TempDir()
	alice := joinWith(t, link, newParticipant(t), func(*Config) {})
	bob := joinWith(t, link, newParticipant(t), func(c *Config) { c.DownloadDir, c.AutoAcceptMax = out, 1<<30 })
	waitFor(t, alice, "alice verified", isStatus(StatusVerified))
	waitFor(t, bob, "bob verified", isStatus(StatusVerified))

	var paths []string
	var contents [][]byte
	for i := range 4 {
		b := bytes.Repeat([]byte{byte('a' + i)}, 64<<10+i)
		p := filepath.Join(dir, fmt.Sprintf("f%d.bin", i))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		paths, contents = append(paths, p), append(contents, b)
	}
	queued := alice.SendFiles(paths)
	if err := alice.CancelTransfer(queued[2].ID); err != nil {
		t.Fatal(err)
	}
	final := map[string]Transfer{}
	order := []string{}
	waitFor(t, alice, "the queue's outcomes", func(ev Event) bool {
		c, ok := ev.(TransferChanged)
		if !ok || !c.Transfer.State.Terminal() {
			return false
		}
		if _, seen := final[c.Transfer.ID]; !seen {
			order = append(order, c.Transfer.ID)
		}
		final[c.Transfer.ID] = c.Transfer
		return len(final) == len(queued)
	})
	for i, q := range queued {
		want := TransferDone
		if i == 2 {
			want = TransferCanceled
		}
		if f := final[q.ID]; f.State != want || (want == TransferDone && f.Bytes != int64(len(contents[i]))) {
			t.Errorf("file %d: %+v, want %s", i, f, want)
		}
	}
	if order[0] != queued[2].ID { // canceled at once, then in order
		t.Errorf("order %v", order)
	}
	for i, b := range contents {
		got, err := os.ReadFile(filepath.Join(out, filepath.Base(paths[i])))
		if i == 2 {
			if err == nil {
				t.Error("the canceled file arrived")
			}
			continue
		}
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("file %d arrived damaged or not at all: %v", i, err)
		}
	}

	// Bob is gone: a new file waits for him; alice's leaving ends it
	// before Closed.
	leave(bob)
	waitFor(t, alice, "peer left", isStatus(StatusPeerLeft))
	more := alice.SendFiles(paths[:1])
	if err := alice.Close(); err != nil {
		t.Fatal(err)
	}
	ended := false
	for ev := range alice.Events() {
		switch ev := ev.(type) {
		case TransferChanged:
			if ev.Transfer.ID == more[0].ID && ev.Transfer.State.Terminal() {
				ended = ev.Transfer.State == TransferCanceled && errors.Is(ev.Transfer.Err, ErrSessionClosed)
			}
		case Closed:
			if !ended {
				t.Fatal("Closed came before the queued file ended")
			}
		}
	}
	if !ended {
		t.Fatal("the queued file never ended")
	}
	if err := alice.CancelTransfer("out-unknown"); !errors.Is(err, ErrNoTransfer) {
		t.Fatalf("cancel of an unknown id: %v", err)
	}
}

// TestOfferWaitsForAnswer: an offer above the auto-accept size waits for
// AnswerOffer; a no reaches the sender as a decline, a second answer is
// ErrNoOffer, canceling a waiting offer declines it, and a yes lets it
// through.
func TestOfferWaitsForAnswer(t *testing.T) {
	srv := newServer(t)
	link := newRoom(t, srv)
	out := t.TempDir()
	alice := joinWith(t, link, newParticipant(t), func(*Config) {})
	bob := joinWith(t, link, newParticipant(t), func(c *Config) { c.DownloadDir, c.AutoAcceptMax = out, 1 })
	waitFor(t, alice, "alice verified", isStatus(StatusVerified))
	waitFor(t, bob, "bob verified", isStatus(StatusVerified))
	file := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(file, bytes.Repeat([]byte("x"), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	offered := func() Transfer {
		ev := waitFor(t, bob, "an offer", func(ev Event) bool { _, ok := ev.(OfferWaiting); return ok })
		return ev.(OfferWaiting).Transfer
	}
	outcome := func(id string) Transfer {
		ev := waitFor(t, alice, "the outcome", func(ev Event) bool {
			c, ok := ev.(TransferChanged)
			return ok && c.Transfer.ID == id && c.Transfer.State.Terminal()
		})
		return ev.(TransferChanged).Transfer
	}

	id := alice.SendFiles([]string{file})[0].ID
	o := offered()
	if o.Name != "big.bin" || o.Total != 1000 || o.State != TransferWaiting {
		t.Fatalf("offer %+v", o)
	}
	if err := bob.AnswerOffer(o.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := bob.AnswerOffer(o.ID, true); !errors.Is(err, ErrNoOffer) {
		t.Fatalf("second answer: %v", err)
	}
	if got := outcome(id); got.State != TransferFailed || !errors.Is(got.Err, transfer.ErrDeclined) {
		t.Fatalf("declined: %+v", got)
	}

	id = alice.SendFiles([]string{file})[0].ID
	if err := bob.CancelTransfer(offered().ID); err != nil {
		t.Fatal(err)
	}
	if got := outcome(id); got.State != TransferFailed || !errors.Is(got.Err, transfer.ErrDeclined) {
		t.Fatalf("canceled offer: %+v", got)
	}

	id = alice.SendFiles([]string{file})[0].ID
	if err := bob.AnswerOffer(offered().ID, true); err != nil {
		t.Fatal(err)
	}
	if got := outcome(id); got.State != TransferDone {
		t.Fatalf("accepted: %+v", got)
	}
}

// TestSendFilesDoesNotWaitForReaders: queuing returns at once however
// many files, before anyone reads events (parley-cli queues before its
// event loop; an event per file used to fill the channel and block it).
func TestSendFilesDoesNotWaitForReaders(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var paths []string
	for i := range 2 * cap(bareSession(nil).events) {
		p := filepath.Join(dir, fmt.Sprintf("f%d", i))
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	s := bareSession(nil)
	s.transfers.closed = true // nothing starts: only queuing is measured
	done := make(chan []Transfer, 1)
	go func() { done <- s.SendFiles(paths) }()
	select {
	case got := <-done:
		if len(got) != len(paths) {
			t.Fatalf("%d transfers for %d paths", len(got), len(paths))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SendFiles blocked with nobody reading events")
	}
}

// TestFinishedTransfersAreForgotten: a peer offering and canceling file
// after file does not grow the table without bound; the oldest finished
// transfers go first and one still under way is never forgotten.
func TestFinishedTransfersAreForgotten(t *testing.T) {
	t.Parallel()
	s := bareSession(nil)
	s.onProgress(transfer.Progress{ID: "live", Name: "big.iso", Total: 1 << 30})
	const offers = 3 * KeepFinished
	for i := range offers {
		id := fmt.Sprintf("f%05d", i)
		s.onProgress(transfer.Progress{ID: id, Name: "x", Total: 10})
		s.onProgress(transfer.Progress{ID: id, Name: "x", Total: 10, Done: true, Err: transfer.ErrCanceled})
		changes(s)
	}
	byID := map[string]Transfer{}
	for _, tr := range s.Transfers() {
		byID[tr.ID] = tr
	}
	if n := len(byID); n > KeepFinished+KeepFinished/4+1 {
		t.Fatalf("%d transfers remembered after %d canceled offers (keep %d finished)", n, offers, KeepFinished)
	}
	if tr, ok := byID["live"]; !ok || tr.State != TransferActive {
		t.Fatalf("the transfer under way was forgotten: %+v", tr)
	}
	if _, ok := byID[fmt.Sprintf("f%05d", offers-1)]; !ok {
		t.Fatal("the newest finished transfer was forgotten")
	}
	if _, ok := byID["f00000"]; ok {
		t.Fatal("the oldest finished transfer is still there")
	}
	if err := s.CancelTransfer("f00000"); !errors.Is(err, ErrNoTransfer) {
		t.Fatalf("cancel of a forgotten transfer: %v", err)
	}
}
