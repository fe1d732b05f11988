package transfer

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestSatAdd(t *testing.T) {
	t.Parallel()
	tests := []struct{ a, b, want int64 }{
		{0, 0, 0},
		{1, 2, 3},
		{math.MaxInt64 - 10, 10, math.MaxInt64},
		{math.MaxInt64 - 10, 1 << 40, math.MaxInt64},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{-1, 5, math.MaxInt64},
	}
	for _, tt := range tests {
		if got := satAdd(tt.a, tt.b); got != tt.want {
			t.Errorf("satAdd(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestBudget(t *testing.T) {
	t.Parallel()
	b := NewBudget(Limits{MaxBytes: 100, MaxFiles: 3})
	steps := []struct {
		op      string
		n       int64
		wantErr error
	}{
		{"reserve", -1, ErrReceiveLimit}, // never from a checked offer: refused anyway
		{"reserve", math.MaxInt64, ErrReceiveLimit},
		{"reserve", 101, ErrReceiveLimit},
		{"reserve", 60, nil},
		{"check", 41, ErrReceiveLimit},
		{"reserve", 40, nil},
		{"reserve", 1, ErrReceiveLimit},
		{"release", 40, nil}, // an unfinished file gives its bytes back
		{"reserve", 0, nil},
		{"reserve", 0, nil},
		{"reserve", 0, ErrReceiveLimit}, // 3 files: empty files are counted too
	}
	for i, s := range steps {
		var err error
		switch s.op {
		case "reserve":
			err = b.reserve(s.n)
		case "check":
			err = b.check(s.n)
		case "release":
			b.release(s.n)
		}
		if !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
			t.Fatalf("step %d: %s(%d) = %v, want %v", i, s.op, s.n, err, s.wantErr)
		}
	}
	if n, files := b.Used(); n != 60 || files != 3 {
		t.Fatalf("used %d bytes in %d files, want 60 in 3", n, files)
	}
	if d := NewBudget(Limits{}); d.max != DefaultMaxReceiveBytes || d.maxFiles != DefaultMaxReceiveFiles {
		t.Fatalf("default budget %d bytes, %d files", d.max, d.maxFiles)
	}
}

// hostile is a test playing the sending side frame by frame against a
// real receiving Conn.
type hostile struct {
	t      *testing.T
	rw     net.Conn
	frames chan frame
	ev     *events
	asked  chan Offer
}

// newHostile starts a receiving Conn with cfg and the setup seams. Its Ask
// reports each offer on h.asked and answers ask (nil: never, until the
// test ends).
func newHostile(t *testing.T, cfg Config, ask func(Offer) bool, setup ...func(*Conn)) *hostile {
	t.Helper()
	a, b := net.Pipe()
	h := &hostile{t: t, rw: a, frames: make(chan frame, 64), ev: newEvents(), asked: make(chan Offer, 16)}
	stop := make(chan struct{})
	cfg.OnProgress = h.ev.onProgress
	cfg.Ask = func(o Offer) bool {
		h.asked <- o
		if ask != nil {
			return ask(o)
		}
		<-stop
		return false
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	startConn(t, b, cfg, setup...)
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, maxFrameBytes)
		for {
			body, err := readFrame(a, buf)
			if err != nil {
				return
			}
			f, err := decodeFrame(body)
			if err != nil {
				return
			}
			f.Data = nil
			h.frames <- f
		}
	}()
	t.Cleanup(func() {
		close(stop)
		_ = a.Close()
		<-read
	})
	return h
}

func (h *hostile) offer(id string, size int64) {
	h.t.Helper()
	// The hash is right for an empty file only: no test sends data.
	f := frame{Type: typeOffer, ID: id, Size: size, Name: id + ".bin", SHA256: sha256.Sum256(nil)}
	if _, err := h.rw.Write(encodeFrame(f)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hostile) send(f frame) {
	h.t.Helper()
	if _, err := h.rw.Write(encodeFrame(f)); err != nil {
		h.t.Fatal(err)
	}
}

// answer waits for the receiver's next frame.
func (h *hostile) answer() frame {
	h.t.Helper()
	select {
	case f := <-h.frames:
		return f
	case <-time.After(10 * time.Second):
		h.t.Fatal("no answer from the receiver")
		return frame{}
	}
}

// wantAsked waits until the receiver asks about offer id.
func (h *hostile) wantAsked(id string) {
	h.t.Helper()
	select {
	case o := <-h.asked:
		if o.ID != id {
			h.t.Fatalf("asked about %s, want %s", o.ID, id)
		}
	case f := <-h.frames:
		h.t.Fatalf("the receiver answered %s with type %d instead of asking", f.ID, f.Type)
	case <-time.After(10 * time.Second):
		h.t.Fatalf("offer %s was never asked", id)
	}
}

func unlimitedDisk(c *Conn) {
	c.freeSpace = func(string) (int64, bool) { return math.MaxInt64, true }
}

// TestAutoAcceptSumSaturates: an offer near MaxInt64 waiting for the user,
// then a 1 TiB offer. The sizes of pending offers add up without
// wrapping, so the 1 TiB file is asked about too, not accepted because a
// wrapped sum looked small. Disk and budget are unlimited here, so only
// the auto-accept limit decides.
func TestAutoAcceptSumSaturates(t *testing.T) {
	t.Parallel()
	h := newHostile(t, Config{
		DownloadDir:   t.TempDir(),
		AutoAcceptMax: 1 << 30,
		Budget:        NewBudget(Limits{MaxBytes: math.MaxInt64}),
	}, nil, unlimitedDisk)
	h.offer("huge", math.MaxInt64-10)
	h.wantAsked("huge")
	h.offer("tebi", 1<<40)
	h.wantAsked("tebi")
}

// TestAutoAcceptEachOffer: each offer is checked on its own and with the
// others in flight.
func TestAutoAcceptEachOffer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		limit int64
		size  int64
		auto  bool
	}{
		{"zero asks for everything", 0, 10, false},
		{"zero asks for empty files", 0, 0, false},
		{"negative asks for everything", -1, 10, false},
		{"under the limit", 1000, 1000, true},
		{"over the limit", 1000, 1001, false},
		{"near MaxInt64", 1000, math.MaxInt64, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := NewConn(nopRW{}, Config{AutoAcceptMax: tt.limit})
			in := &incoming{offer: Offer{ID: "x", Size: tt.size}}
			c.in["x"] = in
			if got := c.autoAccept(in); got != tt.auto {
				t.Fatalf("autoAccept = %v, want %v", got, tt.auto)
			}
		})
	}
}

// nopRW is a stream for Conns that never Run.
type nopRW struct{}

func (nopRW) Read([]byte) (int, error)    { return 0, os.ErrClosed }
func (nopRW) Write(p []byte) (int, error) { return len(p), nil }
func (nopRW) Close() error                { return nil }

// TestDiskSpaceRefusals: offers that would leave less than KeepFreeBytes
// free are refused before anyone is asked, counting what accepted
// transfers still have to write; a cancel gives the space back.
func TestDiskSpaceRefusals(t *testing.T) {
	t.Parallel()
	free := KeepFreeBytes + 1<<20 // 1 MiB above the margin
	h := newHostile(t, Config{DownloadDir: t.TempDir(), AutoAcceptMax: 1 << 20}, func(Offer) bool { return true },
		func(c *Conn) { c.freeSpace = func(string) (int64, bool) { return free, true } })

	steps := []struct {
		id      string
		size    int64
		want    byte // answer frame type
		wantErr error
	}{
		{"big", 2 << 20, typeFail, ErrDiskFull},      // more than the disk has: not even asked
		{"first", 600 << 10, typeAccept, nil},        // fits; stays pending (no data sent)
		{"second", 600 << 10, typeFail, ErrDiskFull}, // fits alone, not beside "first"
		{"empty", 0, typeAccept, nil},                // no bytes: fits, saved at once
	}
	for _, s := range steps {
		h.offer(s.id, s.size)
		a := h.answer()
		if a.ID != s.id || a.Type != s.want || (a.Type == typeFail && a.Code != failCannotStore) {
			t.Fatalf("offer %s answered %+v, want type %d", s.id, a, s.want)
		}
		if s.wantErr != nil {
			if p := h.ev.waitDone(t); p.ID != s.id || !errors.Is(p.Err, s.wantErr) {
				t.Fatalf("offer %s ended %+v, want %v", s.id, p, s.wantErr)
			}
		}
	}
	if a := h.answer(); a.ID != "empty" || a.Type != typeDone {
		t.Fatalf("empty file: %+v, want done", a)
	}
	select {
	case o := <-h.asked:
		t.Fatalf("asked about %s, which could not be stored", o.ID)
	default:
	}
	// The sender cancels "first": its space is free again.
	h.send(frame{Type: typeCancel, ID: "first", Code: roleSender})
	// The receiver gives the reservation back before it reports the end.
	p := h.ev.waitDone(t)
	if p.ID == "empty" { // saved at once; its event may still be queued
		p = h.ev.waitDone(t)
	}
	if p.ID != "first" || !errors.Is(p.Err, ErrCanceled) {
		t.Fatalf("cancel of first ended %+v", p)
	}
	h.offer("third", 600<<10)
	if a := h.answer(); a.Type != typeAccept {
		t.Fatalf("space of a canceled transfer did not come back: %+v", a)
	}
}

// TestHostileSizesWithDefaults: with the default limits a MaxInt64 offer
// is refused by the room's budget, whatever the disk says.
func TestHostileSizesWithDefaults(t *testing.T) {
	t.Parallel()
	h := newHostile(t, Config{DownloadDir: t.TempDir(), AutoAcceptMax: DefaultAutoAcceptMax}, func(Offer) bool { return true }, unlimitedDisk)
	h.offer("max", math.MaxInt64)
	if a := h.answer(); a.Type != typeFail || a.Code != failCannotStore {
		t.Fatalf("MaxInt64 offer answered %+v", a)
	}
	if p := h.ev.waitDone(t); !errors.Is(p.Err, ErrReceiveLimit) {
		t.Fatalf("ended with %v, want ErrReceiveLimit", p.Err)
	}
}

// TestReceiveBudgetPerRoom: the budget bounds bytes and files across
// files and across connections sharing it (a reconnect does not reset
// it); the sender learns the file was refused for good (ErrPeerRefused,
// a kind of ErrDeclined, so it does not retry).
func TestReceiveBudgetPerRoom(t *testing.T) {
	t.Parallel()
	budget := NewBudget(Limits{MaxBytes: 100000, MaxFiles: 4})
	src := t.TempDir()
	connect := func() (side, side) {
		return pair(t, nil, func(c *Config) { c.Budget = budget })
	}
	a, b := connect()
	steps := []struct {
		size    int
		wantErr error
	}{
		{40000, nil},
		{40000, nil},
		{40000, ErrReceiveLimit}, // 120000 > 100000
		{10000, nil},             // 90000
	}
	for i, s := range steps {
		path, _ := writeFile(t, src, fmt.Sprintf("f%d.bin", i), s.size, uint64(i))
		_, err := a.c.Send(testCtx(t), path)
		if s.wantErr == nil && err != nil {
			t.Fatalf("file %d: Send = %v", i, err)
		}
		if s.wantErr != nil && (!errors.Is(err, ErrPeerRefused) || !errors.Is(err, ErrDeclined)) {
			t.Fatalf("file %d: Send = %v, want ErrPeerRefused", i, err)
		}
		if p := b.ev.waitDone(t); !errors.Is(p.Err, s.wantErr) || (s.wantErr == nil && p.Err != nil) {
			t.Fatalf("file %d: receiver ended with %v, want %v", i, p.Err, s.wantErr)
		}
	}
	// A new connection of the same room: 3 files and 90000 bytes used.
	_ = a.c.Close()
	_ = b.c.Close()
	a, b = connect()
	path, _ := writeFile(t, src, "last.bin", 10000, 99)
	if _, err := a.c.Send(testCtx(t), path); err != nil {
		t.Fatalf("the 4th file (100000 bytes in all): %v", err)
	}
	b.ev.waitDone(t)
	path, _ = writeFile(t, src, "one-too-many.bin", 0, 100)
	if _, err := a.c.Send(testCtx(t), path); !errors.Is(err, ErrPeerRefused) {
		t.Fatalf("a 5th file after a reconnect: %v, want ErrPeerRefused", err)
	}
	if p := b.ev.waitDone(t); !errors.Is(p.Err, ErrReceiveLimit) {
		t.Fatalf("receiver ended with %v, want ErrReceiveLimit", p.Err)
	}
	if n, files := budget.Used(); n != 100000 || files != 4 {
		t.Fatalf("budget used %d bytes, %d files", n, files)
	}
}

func TestPrepareDownloadDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mk := func(name string, mode os.FileMode) string {
		p := filepath.Join(root, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // not subject to the umask
			t.Fatal(err)
		}
		return p
	}
	notMine := "/usr" // owned by root: someone else unless this runs as root
	if os.Getuid() == 0 {
		notMine = mk("nobodys", 0o755)
		if err := os.Chown(notMine, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "link")
	if err := os.Symlink(mk("target", 0o700), link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
		ok   bool
	}{
		{"missing: created", filepath.Join(root, "new", "Parley"), true},
		{"private", mk("private", 0o700), true},
		{"readable by others", mk("readable", 0o755), true},
		{"symlink to a private folder", link, true},
		{"writable by everyone", mk("shared", 0o777), false},
		{"sticky and writable by everyone (like /tmp)", mk("sticky", 0o1777), false},
		{"writable by the group", mk("group", 0o770), false},
		{"owned by another user", notMine, false},
		{"a file", file, false},
		{"not configured", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := PrepareDownloadDir(tt.dir)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrNoDownloadFolder)) {
				t.Fatalf("PrepareDownloadDir = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if st, err := os.Stat(filepath.Join(root, "new", "Parley")); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("created folder: %v, %v", st, err)
	}
}

// TestOfferRefusedWithoutSafeFolder: a shared or missing download folder
// refuses offers (nothing is written into it) and both sides say why.
func TestOfferRefusedWithoutSafeFolder(t *testing.T) {
	t.Parallel()
	shared := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		dir     string
		sendErr error
	}{
		{shared, ErrPeerRefused},
		{"", ErrDeclined}, // takes no files at all (parley-cli without --out)
	} {
		dir := tt.dir
		a, b := pair(t, nil, func(c *Config) { c.DownloadDir = dir })
		path, _ := writeFile(t, t.TempDir(), "a.txt", 100, 1)
		if _, err := a.c.Send(testCtx(t), path); !errors.Is(err, tt.sendErr) || (tt.sendErr == ErrDeclined && errors.Is(err, ErrPeerRefused)) {
			t.Fatalf("%q: Send = %v, want %v", dir, err, tt.sendErr)
		}
		if p := b.ev.waitDone(t); !errors.Is(p.Err, ErrNoDownloadFolder) {
			t.Fatalf("%q: receiver ended with %v", dir, p.Err)
		}
	}
	if names := dirNames(t, shared); len(names) != 0 {
		t.Fatalf("files written into the shared folder: %v", names)
	}
}

// TestDiskFreeStatfs makes the real free-space call on this machine.
func TestDiskFreeStatfs(t *testing.T) {
	t.Parallel()
	free, ok := diskFree(t.TempDir())
	if runtime.GOOS != "linux" {
		if ok {
			t.Fatalf("diskFree known outside Linux: %d", free)
		}
		return
	}
	if !ok || free <= 0 {
		t.Fatalf("diskFree = %d, %v", free, ok)
	}
	if _, ok := diskFree(filepath.Join(t.TempDir(), "missing")); ok {
		t.Fatal("diskFree of a missing folder is known")
	}
}

// TestDiskFilledWhileAsking: the disk fills up while the user decides; the
// accepted offer is refused after all and its new partial file removed.
func TestDiskFilledWhileAsking(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var calls atomic.Int32
	h := newHostile(t, Config{DownloadDir: dir}, func(Offer) bool { return true }, func(c *Conn) {
		c.freeSpace = func(string) (int64, bool) {
			if calls.Add(1) == 1 { // before asking
				return math.MaxInt64, true
			}
			return KeepFreeBytes, true // after: nothing to spare
		}
	})
	h.offer("late", 4096)
	h.wantAsked("late")
	if a := h.answer(); a.Type != typeFail || a.Code != failCannotStore {
		t.Fatalf("answered %+v, want fail (cannot store)", a)
	}
	if p := h.ev.waitDone(t); !errors.Is(p.Err, ErrDiskFull) {
		t.Fatalf("ended with %v, want ErrDiskFull", p.Err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Fatalf("left behind: %v", names)
	}
}
