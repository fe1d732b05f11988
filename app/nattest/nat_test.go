//go:build nattest

package nattest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/proctest"
)

// user is one parley-cli profile living in a namespace.
type user struct {
	t       *testing.T
	tp      *topo
	ns      string
	name    string
	dataDir string
}

func (tp *topo) user(t *testing.T, ns, name string) *user {
	return &user{t: t, tp: tp, ns: ns, name: name, dataDir: t.TempDir()}
}

func (u *user) start(stdin io.Reader, args ...string) *proctest.Proc {
	u.t.Helper()
	env := []string{"PARLEY_PROFILE=" + u.name, "PARLEY_DATA_DIR=" + u.dataDir, "PARLEY_SECRET_STORE=file", "PARLEY_LOG_LEVEL=info"}
	full := append([]string{"netns", "exec", u.tp.ns(u.ns), bins.cli}, args...)
	return proctest.Start(u.t, u.name+" "+args[0], env, stdin, "ip", full...)
}

func (u *user) create(server string) string {
	u.t.Helper()
	p := u.start(nil, "create", "--server", server)
	link := strings.TrimSpace(p.Line(wait))
	if code := p.Wait(wait); code != 0 {
		u.t.Fatalf("create exited %d", code)
	}
	return link
}

// startServer runs parley-signal with its TURN relay in pub.
func (tp *topo) startServer(t *testing.T) string {
	t.Helper()
	p := proctest.Start(t, "parley-signal", nil, nil, "ip", "netns", "exec", tp.ns("pub"), bins.signal,
		"--addr", pubIP+":8787", "--metrics-addr", "off", "--turn-listen", pubIP+":3478", "--turn-public-ip", pubIP,
		"--turn-relay-ports", "50000-50999", "--rate-rooms", "0", "--rate-joins", "0")
	p.WaitStderr(`msg=listening`, 1, wait)
	return "http://" + pubIP + ":8787"
}

// transfer sends a text and a file from a (in nat1) to b (in nat2) and
// returns how long the sender took from start to verified, and its
// receiver's stderr.
func transfer(t *testing.T, tp *topo, server string, extra ...string) (time.Duration, string) {
	t.Helper()
	alice, bob := tp.user(t, "a", "alice"), tp.user(t, "b", "bob")
	link := alice.create(server)
	src := randomFile(t, 4<<20)
	out := t.TempDir()
	recv := bob.start(nil, append(extra, "receive", link, "--out", out, "--count", "2")...)
	recv.WaitStderr(`^waiting for peer$`, 1, wait)
	begin := time.Now()
	send := alice.start(nil, append(extra, "send", link, "--text", "hello across two NATs", "--file", src)...)
	send.WaitStderr(`^verified$`, 1, wait)
	setup := time.Since(begin)
	if code := send.Wait(wait); code != 0 {
		t.Fatalf("send exited %d", code)
	}
	got := map[string]bool{recv.Line(wait): true, recv.Line(wait): true}
	if !got["hello across two NATs"] || !got[filepath.Join(out, "payload.bin")] {
		t.Fatalf("receiver printed %v", got)
	}
	if code := recv.Wait(wait); code != 0 {
		t.Fatalf("receive exited %d", code)
	}
	sameFile(t, src, filepath.Join(out, "payload.bin"))
	return setup, recv.StderrText()
}

func TestNAT(t *testing.T) {
	buildBins(t)
	tp := newTopo(t)
	server := tp.startServer(t)

	t.Run("through both NATs", func(t *testing.T) {
		// Two Linux masquerading NATs often defeat hole punching: the
		// first check to arrive at a NAT leaves a conntrack entry that
		// makes the other side's mapping change (a symmetric NAT in
		// effect). Whichever path ICE finds, it must work.
		setup, states := transfer(t, tp, server)
		path := "relayed"
		if strings.Contains(states, "connected direct") {
			path = "direct"
		}
		t.Logf("NAT setup through two NATs: %v (%s; send start to verified)", setup.Round(time.Millisecond), path)
	})

	t.Run("direct when one side is reachable", func(t *testing.T) {
		tp.publicB(true)
		defer tp.publicB(false)
		setup, states := transfer(t, tp, server)
		if !strings.Contains(states, "connected direct") {
			t.Fatalf("b is reachable, want a direct path:\n%s", states)
		}
		t.Logf("NAT setup direct (one NAT): %v", setup.Round(time.Millisecond))
	})

	t.Run("relay only", func(t *testing.T) {
		setup, states := transfer(t, tp, server, "--relay-only")
		if !strings.Contains(states, "connected relayed") {
			t.Fatalf("want a relayed path:\n%s", states)
		}
		t.Logf("NAT setup relay-only: %v", setup.Round(time.Millisecond))
	})

	t.Run("relayed when direct paths are blocked", func(t *testing.T) {
		tp.blockDirect(true)
		defer tp.blockDirect(false)
		setup, states := transfer(t, tp, server)
		if !strings.Contains(states, "connected relayed") {
			t.Fatalf("direct paths are blocked, want relayed:\n%s", states)
		}
		t.Logf("NAT setup blocked-direct (falls back to relay): %v", setup.Round(time.Millisecond))
	})

	t.Run("link drop", func(t *testing.T) {
		linkDrop(t, tp, server)
	})
}

// linkDrop takes alice's link down for a few seconds in the middle of a
// file transfer and a chat: both recover without anyone doing anything.
func linkDrop(t *testing.T, tp *topo, server string) {
	alice, bob := tp.user(t, "a", "alice"), tp.user(t, "b", "bob")
	link := alice.create(server)
	stdinR, stdinW := io.Pipe()
	chat := alice.start(stdinR, "chat", link)
	t.Cleanup(func() { stdinW.Close() })
	chat.WaitStderr(`^waiting for peer$`, 1, wait)
	out := t.TempDir()
	recv := bob.start(nil, "receive", link, "--out", out)
	chat.WaitStderr(`^verified$`, 1, wait)
	io.WriteString(stdinW, "before the drop\n")
	if got := recv.Line(wait); got != "before the drop" {
		t.Fatalf("bob got %q", got)
	}

	down := func(d time.Duration) time.Time {
		tp.in("a", "ip", "link", "set", "eth0", "down")
		time.Sleep(d)
		tp.in("a", "ip", "link", "set", "eth0", "up")
		tp.in("a", "ip", "route", "replace", "default", "via", "10.0.1.1")
		return time.Now()
	}
	up := down(8 * time.Second)
	chat.WaitStderr(`^reconnecting$`, 1, wait)
	chat.WaitStderr(`^verified$`, 2, wait)
	recovered := time.Since(up)
	io.WriteString(stdinW, "after the drop\n")
	if got := recv.Line(wait); got != "after the drop" {
		t.Fatalf("bob got %q after the drop", got)
	}
	t.Logf("NAT recovery after an 8 s link drop: %v (link up to verified again)", recovered.Round(time.Millisecond))
	stdinW.Close()
	chat.Wait(wait)
	recv.Signal(interruptSignal)
	recv.Wait(wait)

	// A transfer cut by a drop finishes by itself, byte-identical.
	link2 := alice.create(server)
	src := randomFile(t, 200<<20)
	out2 := t.TempDir()
	r2 := bob.start(nil, "receive", link2, "--out", out2, "--count", "1")
	r2.WaitStderr(`^waiting for peer$`, 1, wait)
	send := alice.start(nil, "send", link2, "--file", src)
	send.WaitStderr(`^verified$`, 1, wait)
	waitPartial(t, out2, 16<<20) // the transfer is under way
	// Longer than the session's 6 s path timeout, so the peer connection
	// is rebuilt and the transfer resumes on the new one.
	up = down(8 * time.Second)
	send.WaitStderr(`^reconnecting$`, 1, wait)
	if code := send.Wait(3 * wait); code != 0 {
		t.Fatalf("send exited %d after the drop", code)
	}
	done := time.Since(up)
	if got := r2.Line(wait); got != filepath.Join(out2, "payload.bin") {
		t.Fatalf("receiver printed %q", got)
	}
	sameFile(t, src, filepath.Join(out2, "payload.bin"))
	t.Logf("NAT transfer of 200 MiB cut by an 8 s drop completed %v after the link came back (%s)", done.Round(time.Millisecond),
		fmt.Sprint(strings.Count(send.StderrText(), "reconnecting"), " reconnecting line(s)"))
}

// waitPartial waits until the receiver's partial file in dir (*.part) has
// at least n bytes.
func waitPartial(t *testing.T, dir string, n int64) {
	t.Helper()
	var have int64
	for deadline := time.Now().Add(wait); have < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the partial file in %s has %d bytes after %v, want %d", dir, have, wait, n)
		}
		parts, _ := filepath.Glob(filepath.Join(dir, "*.part"))
		for _, p := range parts {
			if st, err := os.Stat(p); err == nil {
				have = max(have, st.Size())
			}
		}
	}
}
