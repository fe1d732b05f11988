package e2e

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-chat/parley/signaling/protocol"
)

const (
	exitRoomFull      = 4
	exitRoomDestroyed = 5
	exitTimerExpired  = 6
	exitVerifyFailed  = 7
	exitPeerOffline   = 8
	exitCannotChange  = 26
)

const step = 60 * time.Second // generous: CI machines are slow and shared

func roomIDOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/r/")
}

func TestTextBothWaysWithAcks(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	if !strings.HasPrefix(link, server+"/r/") || !strings.Contains(link, "#") {
		t.Fatalf("create printed %q, want %s/r/<id>#<secret>", link, server)
	}

	recv := bob.start(nil, "receive", link, "--count", "2")
	recv.WaitStderr(`^waiting for peer$`, 1, step)
	alice.mustRun("send", link, "--text", "hello bob")
	alice.mustRun("send", link, "--text", "line one\nline two")
	if got := recv.Line(step); got != "hello bob" {
		t.Fatalf("bob received %q", got)
	}
	if got := recv.Line(step); got != `line one\nline two` {
		t.Fatalf("bob received %q", got)
	}
	if code := recv.Wait(step); code != 0 {
		t.Fatalf("receive exited %d", code)
	}
	recv.WaitStderr(`^connected direct$`, 1, time.Second)
	recv.WaitStderr(`^verified$`, 1, time.Second)

	back := alice.start(nil, "receive", link, "--count", "1")
	back.WaitStderr(`^waiting for peer$`, 1, step)
	bob.mustRun("send", link, "--text", "hi alice")
	if got := back.Line(step); got != "hi alice" {
		t.Fatalf("alice received %q", got)
	}
	back.Wait(step)

	rooms := alice.mustRun("rooms")
	if !strings.Contains(rooms, roomIDOf(t, link)) || !strings.Contains(rooms, "hi alice") {
		t.Fatalf("alice's rooms lacks the room or its last message:\n%s", rooms)
	}
	alice.mustRun("rename", link, "Project X")
	if rooms := alice.mustRun("rooms"); !strings.Contains(rooms, "Project X") {
		t.Fatalf("rename not shown:\n%s", rooms)
	}
	an := strings.TrimSpace(alice.mustRun("verify", link))
	bn := strings.TrimSpace(bob.mustRun("verify", link))
	if an == "" || an != bn {
		t.Fatalf("safety numbers differ: %q vs %q", an, bn)
	}
}

func TestThirdPersonGetsRoomFull(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	alice, bob, carol := newUser(t, "alice"), newUser(t, "bob"), newUser(t, "carol")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	a := alice.start(nil, "receive", link)
	a.WaitStderr(`^waiting for peer$`, 1, step)
	b := bob.start(nil, "receive", link)
	b.WaitStderr(`^verified$`, 1, step)
	_, errs, code := carol.run("receive", link, "--count", "1")
	if code != exitRoomFull || !strings.Contains(errs, "ROOM_FULL") {
		t.Fatalf("third person: exit %d, stderr %q; want %d and ROOM_FULL", code, errs, exitRoomFull)
	}
	// Sending while the peer is not there keeps the text and says why.
	b.Kill9()
	a.WaitStderr(`^peer left$`, 1, step)
}

func TestKilledPeerRejoinsAndChatContinues(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))

	stdinR, stdinW := io.Pipe()
	chat := alice.start(stdinR, "chat", link)
	// Registered after start so it runs first: the process's stdin copier
	// ends only when the pipe does.
	t.Cleanup(func() { stdinW.Close() })
	chat.WaitStderr(`^waiting for peer$`, 1, step)

	b := bob.start(nil, "receive", link)
	chat.WaitStderr(`^verified$`, 1, step)
	io.WriteString(stdinW, "before the crash\n")
	if got := b.Line(step); got != "before the crash" {
		t.Fatalf("bob received %q", got)
	}
	chat.WaitStderr(`^delivered$`, 1, step)

	b.Kill9()
	chat.WaitStderr(`^peer left$`, 1, step)
	io.WriteString(stdinW, "while away\n")
	chat.WaitStderr(`PEER_OFFLINE`, 1, step)

	b2 := bob.start(nil, "receive", link, "--count", "1")
	chat.WaitStderr(`^verified$`, 2, step)
	io.WriteString(stdinW, "after the restart\n")
	if got := b2.Line(step); got != "after the restart" {
		t.Fatalf("bob received %q after restart", got)
	}
	if code := b2.Wait(step); code != 0 {
		t.Fatalf("receive exited %d", code)
	}
	chat.WaitStderr(`^delivered$`, 2, step)
}

func TestDestroyReachesPeerAndWipesHistory(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	id := roomIDOf(t, link)

	a := alice.start(nil, "receive", link)
	a.WaitStderr(`^waiting for peer$`, 1, step)
	bob.mustRun("send", link, "--text", "soon gone")
	if got := a.Line(step); got != "soon gone" {
		t.Fatalf("alice received %q", got)
	}
	bob.mustRun("destroy", link)
	if code := a.Wait(step); code != exitRoomDestroyed {
		t.Fatalf("alice exited %d, want %d (ROOM_DESTROYED)", code, exitRoomDestroyed)
	}
	a.WaitStderr(`ROOM_DESTROYED`, 1, time.Second)
	for _, u := range []*user{alice, bob} {
		if rooms := u.mustRun("rooms"); strings.Contains(rooms, id) {
			t.Fatalf("%s still lists the destroyed room:\n%s", u.profile, rooms)
		}
	}
	resp, err := http.Get(server + "/api/rooms/" + id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("GET destroyed room: %d, want 410", resp.StatusCode)
	}
	_, errs, code := bob.run("receive", link, "--count", "1")
	if code != exitRoomDestroyed || !strings.Contains(errs, "ROOM_DESTROYED") {
		t.Fatalf("joining a destroyed room: exit %d, %q", code, errs)
	}
}

func TestSelfDestructEndsWithTimerExpired(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server, "--self-destruct", "4s"))
	a := alice.start(nil, "receive", link)
	b := bob.start(nil, "receive", link)
	for _, p := range []*proc{a, b} {
		if code := p.Wait(step); code != exitTimerExpired {
			t.Fatalf("%s exited %d, want %d (TIMER_EXPIRED)", p.Name(), code, exitTimerExpired)
		}
		p.WaitStderr(`TIMER_EXPIRED`, 1, time.Second)
	}
	// Self-destruct means nothing of the room stays on either computer.
	for _, u := range []*user{alice, bob} {
		if rooms := u.mustRun("rooms"); strings.Contains(rooms, roomIDOf(t, link)) {
			t.Fatalf("%s still lists the self-destructed room:\n%s", u.profile, rooms)
		}
	}
}

// TestMaliciousServerIsCaught puts a signaling server in the middle that
// swaps the participants' identity keys (flipping one bit of each key it
// announces). The apps' HMAC over (identity key, DTLS fingerprints) keyed by
// the link secret must catch it: both end with VERIFY_FAILED and nothing
// is delivered. (app/peer has the stronger test: a relay that rewrites the
// SDP fingerprints and terminates DTLS on both sides.)
func TestMaliciousServerIsCaught(t *testing.T) {
	t.Parallel()
	real := startSignal(t)
	evil := newKeySwappingProxy(t, real)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	link := strings.TrimSpace(alice.mustRun("create", "--server", evil))
	a := alice.start(nil, "receive", link)
	a.WaitStderr(`^waiting for peer$`, 1, step)
	_, errs, code := bob.run("send", link, "--text", "must never arrive", "--wait", "45s")
	if code != exitVerifyFailed || !strings.Contains(errs, "VERIFY_FAILED") {
		t.Fatalf("bob: exit %d, stderr:\n%s", code, errs)
	}
	if code := a.Wait(step); code != exitVerifyFailed {
		t.Fatalf("alice exited %d, want %d", code, exitVerifyFailed)
	}
	if l, ok := a.TryLine(); ok {
		t.Fatalf("alice printed %q despite failed verification", l)
	}
}

// newKeySwappingProxy serves the HTTP API by proxying to upstream and
// relays /ws frames, rewriting every peer key the server announces.
func newKeySwappingProxy(t *testing.T, upstream string) string {
	t.Helper()
	up, _ := url.Parse(upstream)
	rp := httputil.NewSingleHostReverseProxy(up)
	upgrader := websocket.Upgrader{}
	var wg sync.WaitGroup
	mux := http.NewServeMux()
	mux.Handle("/", rp)
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		client, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		server, _, err := websocket.DefaultDialer.Dial("ws://"+up.Host+"/ws", nil)
		if err != nil {
			client.Close()
			return
		}
		wg.Add(2)
		go func() { // client → server, untouched
			defer wg.Done()
			defer server.Close()
			for {
				mt, b, err := client.ReadMessage()
				if err != nil {
					return
				}
				if server.WriteMessage(mt, b) != nil {
					return
				}
			}
		}()
		go func() { // server → client, keys swapped
			defer wg.Done()
			defer client.Close()
			for {
				mt, b, err := server.ReadMessage()
				if err != nil {
					return
				}
				var m protocol.Message
				if json.Unmarshal(b, &m) == nil {
					switch m.Type {
					case protocol.TypeJoined:
						m.Peer = flipKey(m.Peer)
					case protocol.TypePeer:
						m.PublicKey = flipKey(m.PublicKey)
					}
					b, _ = json.Marshal(m)
				}
				if client.WriteMessage(mt, b) != nil {
					return
				}
			}
		}()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		wg.Wait()
	})
	return srv.URL
}

// flipKey flips the lowest bit of the last byte of a base64url key, which
// keeps the order of keys (and so who is polite) unchanged.
func flipKey(k string) string {
	b, err := base64.RawURLEncoding.DecodeString(k)
	if err != nil || len(b) == 0 {
		return k
	}
	b[len(b)-1] ^= 1
	return base64.RawURLEncoding.EncodeToString(b)
}
