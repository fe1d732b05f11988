package transfer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(runChildReceiver(dir))
	}
	goleak.VerifyTestMain(m)
}

func TestSendReceiveSizes(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 1000, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 17, 1<<20 + 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			a, b := pair(t, nil, nil)
			path, data := writeFile(t, t.TempDir(), "report.pdf", n, uint64(n))
			p, err := a.c.Send(testCtx(t), path)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if p.Bytes != int64(n) || !p.Done || !p.Outgoing {
				t.Fatalf("final progress %+v", p)
			}
			b.ev.waitDone(t)
			b.ev.mu.Lock()
			got := b.ev.received[p.ID]
			b.ev.mu.Unlock()
			if got != filepath.Join(b.dir, "report.pdf") {
				t.Fatalf("received at %q", got)
			}
			sameFile(t, got, data)
			if names := dirNames(t, b.dir); !slices.Equal(names, []string{"report.pdf"}) {
				t.Fatalf("download folder holds %v", names)
			}
			a.ev.check(t, p.ID, nil)
			b.ev.check(t, p.ID, nil)
			b.ev.mu.Lock()
			last := b.ev.byID[p.ID][len(b.ev.byID[p.ID])-1]
			b.ev.mu.Unlock()
			if last.Path != got || last.Outgoing {
				t.Fatalf("receiver's last event %+v", last)
			}
		})
	}
}

// TestNeverOverwrites sends the same name three times with different
// content, plus once with the same content.
func TestNeverOverwrites(t *testing.T) {
	t.Parallel()
	a, b := pair(t, nil, nil)
	src := t.TempDir()
	want := map[string][]byte{}
	for i, name := range []string{"report.pdf", "report (1).pdf", "report (2).pdf"} {
		path, data := writeFile(t, filepath.Join(src, fmt.Sprint(i)), "report.pdf", 1000+i, uint64(i))
		if _, err := a.c.Send(testCtx(t), path); err != nil {
			t.Fatal(err)
		}
		b.ev.waitDone(t)
		want[name] = data
	}
	path, data := writeFile(t, filepath.Join(src, "t"), "archive.tar.gz", 10, 1)
	for _, name := range []string{"archive.tar.gz", "archive (1).tar.gz"} {
		if _, err := a.c.Send(testCtx(t), path); err != nil {
			t.Fatal(err)
		}
		b.ev.waitDone(t)
		want[name] = data
	}
	for name, data := range want {
		sameFile(t, filepath.Join(b.dir, name), data)
	}
	if n := len(dirNames(t, b.dir)); n != len(want) {
		t.Fatalf("%d files in the download folder, want %d", n, len(want))
	}
}

// TestConcurrentBothWays sends several files at once in both directions
// over the one stream, including the same file both ways.
func TestConcurrentBothWays(t *testing.T) {
	t.Parallel()
	a, b := pair(t, nil, nil)
	type job struct {
		from, to side
		name     string
		size     int
	}
	shared, sharedData := writeFile(t, t.TempDir(), "same.bin", 300<<10, 99)
	jobs := []job{
		{a, b, "one.bin", 2 << 20},
		{a, b, "two.bin", 700<<10 + 5},
		{a, b, "three.bin", 0},
		{b, a, "four.bin", 1 << 20},
		{b, a, "five.bin", 10},
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(jobs)+2)
	datas := make([][]byte, len(jobs))
	for i, j := range jobs {
		path, data := writeFile(t, t.TempDir(), j.name, j.size, uint64(i+10))
		datas[i] = data
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := j.from.c.Send(testCtx(t), path); err != nil {
				errs <- fmt.Errorf("%s: %w", j.name, err)
			}
		}()
	}
	for _, s := range []side{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.c.Send(testCtx(t), shared); err != nil {
				errs <- fmt.Errorf("shared: %w", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, j := range jobs {
		sameFile(t, filepath.Join(j.to.dir, j.name), datas[i])
	}
	sameFile(t, filepath.Join(a.dir, "same.bin"), sharedData)
	sameFile(t, filepath.Join(b.dir, "same.bin"), sharedData)
}

func TestOfferDecisions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		max     int64
		ask     func(Offer) bool
		wantErr error
		asked   bool
	}{
		{"small auto-accepted", 1 << 20, nil, nil, false},
		{"big without Ask declined", 1000, nil, ErrDeclined, false},
		{"big, user says no", 1000, func(Offer) bool { return false }, ErrDeclined, true},
		{"big, user says yes", 1000, func(Offer) bool { return true }, nil, true},
		{"ask for everything", -1, func(Offer) bool { return true }, nil, true},
		{"zero asks for everything", 0, func(Offer) bool { return true }, nil, true},
		{"zero without Ask declined", 0, nil, ErrDeclined, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var offers []Offer
			a, b := pair(t, nil, func(c *Config) {
				c.AutoAcceptMax = tt.max
				if tt.ask != nil {
					c.Ask = func(o Offer) bool {
						mu.Lock()
						offers = append(offers, o)
						mu.Unlock()
						return tt.ask(o)
					}
				}
			})
			path, data := writeFile(t, t.TempDir(), "../weird name.bin", 5000, 5)
			_, err := a.c.Send(testCtx(t), path)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Send = %v, want %v", err, tt.wantErr)
			}
			last := b.ev.waitDone(t)
			if !errors.Is(last.Err, tt.wantErr) || (tt.wantErr == nil && last.Err != nil) {
				t.Fatalf("receiver ended with %v", last.Err)
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.asked != (len(offers) == 1) {
				t.Fatalf("Ask called %d times", len(offers))
			}
			if tt.asked && (offers[0].Size != 5000 || offers[0].Name != "weird name.bin") {
				t.Fatalf("Ask got %+v", offers[0])
			}
			if tt.wantErr == nil {
				sameFile(t, filepath.Join(b.dir, "weird name.bin"), data)
			} else if names := dirNames(t, b.dir); len(names) != 0 {
				t.Fatalf("declined offer left %v", names)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	for _, who := range []string{"sender", "receiver"} {
		t.Run(who, func(t *testing.T) {
			t.Parallel()
			var a, b side
			cancelOnce := func(c **Conn) func(Progress) {
				var once sync.Once
				return func(p Progress) {
					if !p.Done && p.Bytes > 2*ChunkSize {
						once.Do(func() {
							if err := (*c).Cancel(p.ID); err != nil {
								t.Errorf("Cancel: %v", err)
							}
						})
					}
				}
			}
			var ca, cb *Conn
			slow := func(rw io.ReadWriteCloser) io.ReadWriteCloser { return slowWriter{rw, 2 * time.Millisecond} }
			a, b = pairRW(t, slow, func(c *Config) {
				if who == "sender" {
					next := c.OnProgress
					hook := cancelOnce(&ca)
					c.OnProgress = func(p Progress) { next(p); hook(p) }
				}
			}, func(c *Config) {
				if who == "receiver" {
					next := c.OnProgress
					hook := cancelOnce(&cb)
					c.OnProgress = func(p Progress) { next(p); hook(p) }
				}
			})
			ca, cb = a.c, b.c
			path, _ := writeFile(t, t.TempDir(), "big.bin", 8<<20, 3)
			p, err := a.c.Send(testCtx(t), path)
			if !errors.Is(err, ErrCanceled) {
				t.Fatalf("Send = %v, want ErrCanceled", err)
			}
			last := b.ev.waitDone(t)
			if !errors.Is(last.Err, ErrCanceled) {
				t.Fatalf("receiver ended with %v", last.Err)
			}
			a.ev.check(t, p.ID, ErrCanceled)
			b.ev.check(t, p.ID, ErrCanceled)
			if names := dirNames(t, b.dir); len(names) != 0 {
				t.Fatalf("canceled transfer left %v", names)
			}
			if err := a.c.Cancel(p.ID); err == nil {
				t.Fatal("Cancel of a finished transfer succeeded")
			}
		})
	}
}

func TestHashMismatch(t *testing.T) {
	t.Parallel()
	a, b := pair(t, nil, nil)
	a.c.SetCorruptHookForTest(func(off int64, chunk []byte) {
		if off == 2*ChunkSize {
			chunk[7] ^= 0x40
		}
	})
	path, _ := writeFile(t, t.TempDir(), "data.bin", 5*ChunkSize, 4)
	p, err := a.c.Send(testCtx(t), path)
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("Send = %v, want ErrHashMismatch", err)
	}
	last := b.ev.waitDone(t)
	if !errors.Is(last.Err, ErrHashMismatch) {
		t.Fatalf("receiver ended with %v", last.Err)
	}
	a.ev.check(t, p.ID, ErrHashMismatch)
	if names := dirNames(t, b.dir); len(names) != 0 {
		t.Fatalf("corrupted transfer left %v", names)
	}
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	a, _ := pair(t, nil, nil)
	if _, err := a.c.Send(testCtx(t), filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("Send of a missing file succeeded")
	}
	if _, err := a.c.Send(testCtx(t), t.TempDir()); err == nil {
		t.Fatal("Send of a directory succeeded")
	}
	path, _ := writeFile(t, t.TempDir(), "x", 10, 1)
	_ = a.c.Close()
	if _, err := a.c.Send(testCtx(t), path); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close = %v, want ErrClosed", err)
	}
}
