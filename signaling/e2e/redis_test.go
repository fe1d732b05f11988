package e2e

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/sigclient"
	"github.com/parley-chat/parley/signaling/internal/redistest"
	"github.com/parley-chat/parley/signaling/protocol"
)

// startCluster runs redis-server and two parley-signal nodes sharing it,
// as behind a load balancer.
func startCluster(t *testing.T) (n1, n2 *signalProc) {
	t.Helper()
	rs := redistest.Start(t)
	n1 = startSignal(t, "--redis", rs.URL(0))
	n2 = startSignal(t, "--redis", rs.URL(0))
	return n1, n2
}

func TestRedisTwoNodes(t *testing.T) {
	t.Parallel()
	n1, n2 := startCluster(t)
	r, err := sigclient.CreateRoom(ctxT(t), nil, n1.URL, 0, testVerifier)
	if err != nil {
		t.Fatal(err)
	}
	ka, kb := newKey(t), newKey(t)
	a, ja := join(t, n1.URL, r.RoomID, ka)
	if ja.Peer != nil || ja.PeerOnline {
		t.Errorf("first joiner sees a peer: %+v", ja)
	}
	b, jb := join(t, n2.URL, r.RoomID, kb)
	if !jb.PeerOnline {
		t.Errorf("joiner on node 2 does not see node 1's participant online: %+v", jb)
	}
	expectPeer(t, a, protocol.PeerJoined, kb)

	// A third key is refused on either node.
	for _, n := range []*signalProc{n1, n2} {
		_, err := sigclient.Dial(ctxT(t), sigclient.Config{ServerURL: n.URL, RoomID: r.RoomID, Key: newKey(t), RoomKey: testRoomKey})
		if !sigclient.IsCode(err, protocol.CodeRoomFull) {
			t.Fatalf("third participant on %s: %v, want ROOM_FULL", n.URL, err)
		}
	}

	offer := protocol.Signal{Session: "1", Description: &protocol.SessionDescription{Type: "offer", SDP: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}}
	answer := protocol.Signal{Session: "1", Description: &protocol.SessionDescription{Type: "answer", SDP: "v=0\r\n"}}
	relay(t, a, b, offer)
	relay(t, b, a, answer)

	// B drops and comes back through node 1: A hears it left and rejoined.
	b.Close()
	expectPeer(t, a, protocol.PeerLeft, kb)
	b, _ = join(t, n1.URL, r.RoomID, kb)
	expectPeer(t, a, protocol.PeerRejoined, kb)
	relay(t, a, b, offer)

	if err := b.Destroy(ctxT(t)); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	expectEnd(t, a, protocol.CodeRoomDestroyed)
	expectEnd(t, b, protocol.CodeRoomDestroyed)
	for _, n := range []*signalProc{n1, n2} {
		if status, body := getStatus(t, n.URL, r.RoomID); status != http.StatusGone || body.Error != protocol.CodeRoomDestroyed {
			t.Errorf("GET on %s after destroy = %d %q, want 410 ROOM_DESTROYED", n.URL, status, body.Error)
		}
	}
}

func TestRedisReplaceAcrossNodes(t *testing.T) {
	t.Parallel()
	n1, n2 := startCluster(t)
	r, err := sigclient.CreateRoom(ctxT(t), nil, n2.URL, 0, testVerifier)
	if err != nil {
		t.Fatal(err)
	}
	ka, kb := newKey(t), newKey(t)
	a1, _ := join(t, n1.URL, r.RoomID, ka)
	b, _ := join(t, n2.URL, r.RoomID, kb)
	expectPeer(t, a1, protocol.PeerJoined, kb)
	// The same key on the other node replaces the first connection.
	a2, _ := join(t, n2.URL, r.RoomID, ka)
	expectEnd(t, a1, protocol.CodeReplaced)
	expectPeer(t, b, protocol.PeerRejoined, ka)
	relay(t, b, a2, protocol.Signal{Session: "2", Description: &protocol.SessionDescription{Type: "offer", SDP: "v=0\r\n"}})
}

func TestRedisSelfDestruct(t *testing.T) {
	t.Parallel()
	n1, n2 := startCluster(t)
	r, err := sigclient.CreateRoom(ctxT(t), nil, n1.URL, 2*time.Second, testVerifier)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := join(t, n1.URL, r.RoomID, newKey(t))
	b, _ := join(t, n2.URL, r.RoomID, newKey(t))
	expect[sigclient.PeerEvent](t, a)
	expectEnd(t, a, protocol.CodeTimerExpired)
	expectEnd(t, b, protocol.CodeTimerExpired)
	for _, n := range []*signalProc{n1, n2} {
		if status, body := getStatus(t, n.URL, r.RoomID); status != http.StatusGone || body.Error != protocol.CodeTimerExpired {
			t.Errorf("GET on %s after expiry = %d %q, want 410 TIMER_EXPIRED", n.URL, status, body.Error)
		}
	}
}

func TestRedisBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://user:s3cret@127.0.0.1:1/0", "redis://user:s3cret@127.0.0.1:1/0"} {
		out, err := runSignalOnce(t, "--redis", u)
		if err == nil {
			t.Fatalf("--redis %s: exited 0", u)
		}
		if !containsAll(out, "--redis") || containsAll(out, "s3cret") {
			t.Errorf("--redis %s: log should name --redis and never the password:\n%s", u, out)
		}
	}
}

// runSignalOnce runs parley-signal expecting it to exit by itself and
// returns its log.
func runSignalOnce(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctxT(t), signalBin, append([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "off"}, args...)...)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
