package transfer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func testLogger() *slog.Logger {
	if os.Getenv("TRANSFER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// events records progress events and received files.
type events struct {
	mu       sync.Mutex
	byID     map[string][]Progress
	received map[string]string // id -> path
	done     chan Progress     // every Done event
}

func newEvents() *events {
	return &events{byID: map[string][]Progress{}, received: map[string]string{}, done: make(chan Progress, 64)}
}

func (e *events) onProgress(p Progress) {
	e.mu.Lock()
	e.byID[p.ID] = append(e.byID[p.ID], p)
	e.mu.Unlock()
	if p.Done {
		e.done <- p
	}
}

func (e *events) onReceived(o Offer, path string) {
	e.mu.Lock()
	e.received[o.ID] = path
	e.mu.Unlock()
}

// waitDone returns the next Done event.
func (e *events) waitDone(t *testing.T) Progress {
	t.Helper()
	select {
	case p := <-e.done:
		return p
	case <-time.After(20 * time.Second):
		t.Fatal("no final progress event")
		return Progress{}
	}
}

// check asserts the events of id are monotonic and end with exactly one
// Done event.
func (e *events) check(t *testing.T, id string, wantErr error) {
	t.Helper()
	e.mu.Lock()
	ps := append([]Progress(nil), e.byID[id]...)
	e.mu.Unlock()
	if len(ps) == 0 {
		t.Fatalf("no progress events for %s", id)
	}
	for i, p := range ps {
		if i > 0 && p.Bytes < ps[i-1].Bytes {
			t.Fatalf("progress went backwards: %d after %d", p.Bytes, ps[i-1].Bytes)
		}
		if p.Done != (i == len(ps)-1) {
			t.Fatalf("event %d of %d has Done=%v", i, len(ps), p.Done)
		}
		if p.Bytes > p.Total {
			t.Fatalf("Bytes %d > Total %d", p.Bytes, p.Total)
		}
	}
	last := ps[len(ps)-1]
	if !errors.Is(last.Err, wantErr) || (wantErr == nil && last.Err != nil) {
		t.Fatalf("last event error %v, want %v", last.Err, wantErr)
	}
	if wantErr == nil && last.Bytes != last.Total {
		t.Fatalf("finished at %d of %d bytes", last.Bytes, last.Total)
	}
}

// side is one end of a test pair.
type side struct {
	c   *Conn
	ev  *events
	dir string
}

// startConn runs a Conn over rw until the test ends; setup functions see
// the Conn before it runs (test seams such as freeSpace).
// The returned channel is closed when Run returned.
func startConn(t *testing.T, rw io.ReadWriteCloser, cfg Config, setup ...func(*Conn)) (*Conn, <-chan struct{}) {
	t.Helper()
	c := NewConn(rw, cfg)
	for _, f := range setup {
		f(c)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Run(context.Background())
	}()
	t.Cleanup(func() {
		_ = c.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after Close")
		}
	})
	return c, done
}

// newSide builds a Config recording into a fresh events and temp dir.
func newSide(t *testing.T, mod func(*Config)) (Config, *events, string) {
	t.Helper()
	ev := newEvents()
	dir := filepath.Join(t.TempDir(), "downloads")
	cfg := Config{
		DownloadDir:   dir,
		AutoAcceptMax: DefaultAutoAcceptMax,
		OnProgress:    ev.onProgress,
		OnReceived:    ev.onReceived,
		Logger:        testLogger(),
	}
	if mod != nil {
		mod(&cfg)
	}
	return cfg, ev, dir
}

// pair connects two Conns over net.Pipe.
func pair(t *testing.T, modA, modB func(*Config)) (side, side) {
	t.Helper()
	return pairRW(t, nil, modA, modB)
}

// pairRW is pair with a wrapper around A's end of the pipe.
func pairRW(t *testing.T, wrapA func(io.ReadWriteCloser) io.ReadWriteCloser, modA, modB func(*Config)) (side, side) {
	t.Helper()
	var ra, rb io.ReadWriteCloser
	ra, rb = net.Pipe()
	if wrapA != nil {
		ra = wrapA(ra)
	}
	ca, eva, da := newSide(t, modA)
	cb, evb, db := newSide(t, modB)
	a, _ := startConn(t, ra, ca)
	b, _ := startConn(t, rb, cb)
	return side{a, eva, da}, side{b, evb, db}
}

// writeFile creates a file of n pseudo-random bytes and returns its path
// and content.
func writeFile(t testing.TB, dir, name string, n int, seed uint64) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// sameFile asserts the file at path holds want.
func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d sent", filepath.Base(path), len(got), len(want))
	}
}

// dirNames lists a folder (empty when it does not exist).
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// slowWriter delays every write, so transfers last long enough for
// progress events and cancels mid-way.
type slowWriter struct {
	io.ReadWriteCloser
	delay time.Duration
}

func (s slowWriter) Write(p []byte) (int, error) {
	time.Sleep(s.delay)
	return s.ReadWriteCloser.Write(p)
}

// cutter closes the stream once more than limit bytes were written.
type cutter struct {
	io.ReadWriteCloser
	mu      sync.Mutex
	left    int
	onLimit func()
}

func (c *cutter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.left -= len(p)
	cut := c.left < 0
	c.mu.Unlock()
	if cut {
		if c.onLimit != nil {
			c.onLimit()
		}
		_ = c.ReadWriteCloser.Close()
		return 0, io.ErrClosedPipe
	}
	return c.ReadWriteCloser.Write(p)
}
