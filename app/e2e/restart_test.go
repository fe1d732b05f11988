package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
)

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitConnected polls GET /api/rooms/{id} until n participants are
// connected.
func waitConnected(t *testing.T, server, id string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		resp, err := http.Get(server + "/api/rooms/" + id)
		if err == nil {
			var info protocol.RoomInfo
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
			if resp.StatusCode == 200 && json.Unmarshal(body, &info) == nil && info.Connected == n {
				return
			}
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("room never had %d participants connected; last answer: %s", n, last)
}

// A crashed and restarted parley-signal (in-memory rooms, --state-dir kept)
// does not end the conversation: both clients rejoin it with their room
// tickets and get the room back, chat goes on, and a peer that restarts
// afterwards can still get in.
func TestServerRestartKeepsConversation(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	server := "http://" + addr
	startServerAt := func() *proc {
		p := start(t, "parley-signal", nil, nil, bins.signal, "--addr", addr, "--metrics-addr", "off", "--state-dir", state)
		p.WaitStderr(`msg=listening`, 1, 20*time.Second)
		return p
	}
	sig := startServerAt()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	id := roomIDOf(t, link)

	stdinR, stdinW := io.Pipe()
	chat := alice.start(stdinR, "chat", link)
	t.Cleanup(func() { stdinW.Close() })
	chat.WaitStderr(`^waiting for peer$`, 1, step)
	b := bob.start(nil, "receive", link)
	chat.WaitStderr(`^verified$`, 1, step)
	io.WriteString(stdinW, "before the server crash\n")
	if got := b.Line(step); got != "before the server crash" {
		t.Fatalf("bob received %q", got)
	}

	sig.Kill9()
	sig = startServerAt()
	// Both come back on their own (backoff is at most 10 s) and the room
	// exists again, with both in it.
	waitConnected(t, server, id, 2, 30*time.Second)
	io.WriteString(stdinW, "after the server restart\n")
	if got := b.Line(step); got != "after the server restart" {
		t.Fatalf("bob received %q", got)
	}

	// Bob's app restarts too: its saved ticket and the restored room let
	// it back in (without tickets this was ROOM_NOT_FOUND).
	b.Kill9()
	chat.WaitStderr(`^peer left$`, 1, step)
	b2 := bob.start(nil, "receive", link, "--count", "1")
	chat.WaitStderr(`^verified$`, 2, step)
	io.WriteString(stdinW, "welcome back\n")
	if got := b2.Line(step); got != "welcome back" {
		t.Fatalf("bob received %q after his restart", got)
	}
	if code := b2.Wait(step); code != 0 {
		t.Fatalf("receive exited %d", code)
	}
	if !strings.Contains(sig.StderrText(), "room restored from ticket") {
		t.Fatalf("restarted server did not restore the room:\n%s", sig.StderrText())
	}
}
