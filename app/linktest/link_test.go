//go:build linktest

package linktest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/linkem"
	"github.com/parley-chat/parley/internal/netns"
	"github.com/parley-chat/parley/internal/proctest"
)

// wait is a generous bound for one step across namespaces.
const wait = 60 * time.Second

// exitBound is how soon after the receiver's verification both processes
// must have exited: a condition with room for a loaded machine, not a
// benchmark (the goal is 200 ms; the notes report the figures).
const exitBound = time.Second

// bed is the namespaces a =[emulated link]= srv =[veth]= b with
// parley-signal running in srv.
type bed struct {
	*netns.Bed
	emu    *linkem.Emulator
	server string
}

func newBed(t *testing.T, cfg linkem.Config) *bed {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the link test needs root (network namespaces, /dev/net/tun): run it as root, e.g. sudo make test-link")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("ip is missing: run make deps (apt: iproute2)")
	}
	netns.RemoveStale("parley-link")
	var r [2]byte
	_, _ = rand.Read(r[:])
	tag := fmt.Sprintf("%x", r)
	emu, err := linkem.Open("plk"+tag+"a", "plk"+tag+"b", cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	nameA, nameB := emu.Names()
	tb, err := netns.Routed("parley-link", nameA, nameB, 1500)
	if err != nil {
		emu.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- emu.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("emulator: %v", err)
		}
		if err := tb.Close(); err != nil {
			t.Errorf("remove namespaces: %v", err)
		}
	})
	b := &bed{Bed: tb, emu: emu}
	p := proctest.Start(t, "parley-signal", nil, nil, "ip", "netns", "exec", tb.Name("srv"), bins.signal,
		"--addr", tb.SrvFromA+":8787", "--rate-rooms", "0", "--rate-joins", "0")
	p.WaitStderr(`msg=listening`, 1, wait)
	b.server = "http://" + tb.SrvFromA + ":8787"
	return b
}

// set changes the emulated link now.
func (b *bed) set(t *testing.T, settings string) {
	t.Helper()
	cfg, err := linkem.Parse(b.emu.Config(), settings)
	if err == nil {
		err = b.emu.Set(cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// user is one parley-cli profile living in namespace ns.
type user struct {
	t       *testing.T
	b       *bed
	ns      string
	name    string
	dataDir string
}

func (b *bed) user(t *testing.T, ns, name string) *user {
	return &user{t: t, b: b, ns: ns, name: name, dataDir: t.TempDir()}
}

func (u *user) start(args ...string) *proctest.Proc {
	u.t.Helper()
	env := []string{"PARLEY_PROFILE=" + u.name, "PARLEY_DATA_DIR=" + u.dataDir, "PARLEY_SECRET_STORE=file", "PARLEY_LOG_LEVEL=info"}
	full := append([]string{"netns", "exec", u.b.Name(u.ns), bins.cli}, args...)
	return proctest.Start(u.t, u.name+" "+args[0], env, nil, "ip", full...)
}

func (u *user) create() string {
	u.t.Helper()
	p := u.start("create", "--server", u.b.server)
	link := strings.TrimSpace(p.Line(wait))
	if code := p.Wait(wait); code != 0 {
		u.t.Fatalf("create exited %d", code)
	}
	return link
}

// exited returns a channel that receives the time p exits.
func exited(p *proctest.Proc) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() { <-p.Done(); ch <- time.Now() }()
	return ch
}

// transfer is one file sent from a to b over the bed.
type transfer struct {
	src, out   string
	send, recv *proctest.Proc
	sendExit   <-chan time.Time
	recvExit   <-chan time.Time
}

func startTransfer(t *testing.T, b *bed, size int) *transfer {
	t.Helper()
	alice, bob := b.user(t, "a", "alice"), b.user(t, "b", "bob")
	link := alice.create()
	tr := &transfer{src: randomFile(t, size), out: t.TempDir()}
	tr.recv = bob.start("receive", link, "--out", tr.out, "--count", "1")
	tr.recvExit = exited(tr.recv)
	tr.recv.WaitStderr(`^waiting for peer$`, 1, wait)
	tr.send = alice.start("send", link, "--file", tr.src)
	tr.sendExit = exited(tr.send)
	return tr
}

// finish waits for the receiver to print the verified file, checks it is
// byte-identical and that both processes succeeded, and returns how long
// after that line each process took to exit.
func (tr *transfer) finish(t *testing.T, timeout time.Duration) (sendAfter, recvAfter time.Duration) {
	t.Helper()
	got := tr.recv.Line(timeout)
	verified := time.Now()
	if want := filepath.Join(tr.out, "payload.bin"); got != want {
		t.Fatalf("receiver printed %q, want %q", got, want)
	}
	for _, w := range []struct {
		p    *proctest.Proc
		at   <-chan time.Time
		took *time.Duration
	}{{tr.send, tr.sendExit, &sendAfter}, {tr.recv, tr.recvExit, &recvAfter}} {
		select {
		case at := <-w.at:
			*w.took = at.Sub(verified)
		case <-time.After(wait):
			t.Fatalf("%s did not exit within %v of the receiver's verification", w.p.Name(), wait)
		}
		if code := w.p.Wait(wait); code != 0 {
			t.Fatalf("%s exited %d", w.p.Name(), code)
		}
	}
	sameFile(t, tr.src, filepath.Join(tr.out, "payload.bin"))
	return sendAfter, recvAfter
}

func TestLink(t *testing.T) {
	buildBins(t)

	t.Run("lossy link", func(t *testing.T) {
		// 20 Mbit/s, 40 ms round trip, 1% loss each way.
		b := newBed(t, linkem.Config{Rate: 20e6, Delay: 20 * time.Millisecond, Loss: 0.01})
		begin := time.Now()
		tr := startTransfer(t, b, 3<<20)
		s, r := tr.finish(t, 3*wait)
		ab, ba := b.emu.Stats()
		t.Logf("3 MiB over 20 Mbit/s, 40 ms RTT, 1%% loss: %v; exits after verification: send %v, receive %v; link a->b lost %d, b->a lost %d",
			time.Since(begin).Round(time.Millisecond), s.Round(time.Millisecond), r.Round(time.Millisecond), ab.LossDrops, ba.LossDrops)
		if ab.LossDrops == 0 {
			t.Fatal("the emulated link dropped nothing: the transfer did not cross it")
		}
	})

	t.Run("link drops for 10 s", func(t *testing.T) {
		// 10 Mbit/s caps the transfer at 1.25 MB/s, so 8 MiB is still
		// under way when the link goes down.
		b := newBed(t, linkem.Config{Rate: 10e6, Delay: 10 * time.Millisecond})
		tr := startTransfer(t, b, 8<<20)
		tr.send.WaitStderr(`^verified$`, 1, wait)
		waitDelivered(t, b, 1<<20)
		b.set(t, "loss=100")
		down := time.Now()
		// Longer than the session's path timeout: the connection is
		// rebuilt and the transfer resumes from what the receiver has.
		tr.send.WaitStderr(`^reconnecting$`, 1, wait)
		time.Sleep(10*time.Second - time.Since(down))
		b.set(t, "loss=0")
		up := time.Now()
		tr.finish(t, 3*wait)
		t.Logf("8 MiB cut by a 10 s drop: done %v after the link came back", time.Since(up).Round(time.Millisecond))
	})

	t.Run("both exit promptly after verification", func(t *testing.T) {
		// The close must not wait for a drain timer (it sat up to 2 s):
		// with a real round trip the peer's SACK came too late, and with
		// none the closing side's last datagrams (SCTP ABORT, DTLS
		// close_notify) were dropped from its send queue.
		for _, link := range []struct {
			name string
			cfg  linkem.Config
		}{
			{"40 ms RTT", linkem.Config{Rate: 50e6, Delay: 20 * time.Millisecond}},
			{"no delay", linkem.Config{}},
		} {
			b := newBed(t, link.cfg)
			var worst time.Duration
			var figures []string
			for range 4 {
				tr := startTransfer(t, b, 1<<20)
				s, r := tr.finish(t, wait)
				worst = max(worst, s, r)
				figures = append(figures, fmt.Sprintf("send %v receive %v", s.Round(time.Millisecond), r.Round(time.Millisecond)))
			}
			t.Logf("exit after the receiver's verification (%s): %s", link.name, strings.Join(figures, "; "))
			if worst > exitBound {
				t.Fatalf("%s: a process exited %v after the receiver's verification, want within %v (%s)", link.name, worst, exitBound, strings.Join(figures, "; "))
			}
		}
	})
}

// waitDelivered waits until the link has carried n bytes from a to b.
func waitDelivered(t *testing.T, b *bed, n uint64) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ab, _ := b.emu.Stats()
		if ab.DelivBytes >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the link carried %d bytes a->b within %v, want %d", ab.DelivBytes, wait, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bins holds parley-signal and parley-cli, built once per test binary.
var bins struct{ signal, cli string }

func buildBins(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	bins.signal, bins.cli = filepath.Join(dir, "parley-signal"), filepath.Join(dir, "parley-cli")
	for out, pkg := range map[string]string{
		bins.signal: "github.com/parley-chat/parley/signaling/cmd/parley-signal",
		bins.cli:    "github.com/parley-chat/parley/app/cmd/parley-cli",
	} {
		if out, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
}

func randomFile(t *testing.T, size int) string {
	t.Helper()
	b := make([]byte, size)
	_, _ = rand.Read(b)
	p := filepath.Join(t.TempDir(), "payload.bin")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
		t.Fatalf("%s and %s differ (%v, %v; %d vs %d bytes)", a, b, err1, err2, len(x), len(y))
	}
}
