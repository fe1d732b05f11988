package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/identity"
	"github.com/parley-chat/parley/app/sigclient"
	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/server/servertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newServer runs a real signaling server on loopback.
func newServer(t testing.TB) string {
	t.Helper()
	return servertest.New(t, servertest.Options{Room: room.Config{IdleTTL: time.Hour}}).URL
}

// newRoom creates a room and returns its link.
func newRoom(t testing.TB, serverURL string) Link {
	t.Helper()
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	res, err := sigclient.CreateRoom(context.Background(), http.DefaultClient, serverURL, 0, Verifier(secret))
	if err != nil {
		t.Fatal(err)
	}
	return Link{Server: serverURL, RoomID: res.RoomID, Secret: secret}
}

// participant is one side: a profile with a file secret store in a temp dir.
type participant struct {
	id   *identity.Identity
	hist *history.Store
}

func newParticipant(t testing.TB) participant {
	t.Helper()
	dir := t.TempDir()
	store := identity.NewFileStore(dir)
	id, err := identity.LoadOrCreate(store, "p")
	if err != nil {
		t.Fatal(err)
	}
	key, err := identity.LoadOrCreateSecret(store, "p/history-key", 32)
	if err != nil {
		t.Fatal(err)
	}
	h, err := history.Open(filepath.Join(dir, "history.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return participant{id: id, hist: h}
}

// roomKey is the history key of link's room in p's history.
func roomKey(p participant, link Link) string { return history.RoomKey(link.Server, link.RoomID) }

func join(t testing.TB, link Link, p participant) *Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Join(ctx, Config{Link: link, Identity: p.id, History: p.hist, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		for range s.Events() { // drain so nothing is left blocked
		}
	})
	return s
}

// waitFor reads events until match returns true.
func waitFor(t testing.TB, s *Session, what string, match func(Event) bool) Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %s", what)
			}
			if c, ok := ev.(Closed); ok && what != "closed" {
				t.Fatalf("session closed (%v) while waiting for %s", c.Err, what)
			}
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func isStatus(st Status) func(Event) bool {
	return func(ev Event) bool {
		s, ok := ev.(StatusChanged)
		return ok && s.Status == st
	}
}

func TestChatBetweenTwoSessions(t *testing.T) {
	srv := newServer(t)
	link := newRoom(t, srv)
	alice, bob := newParticipant(t), newParticipant(t)

	a := join(t, link, alice)
	waitFor(t, a, "waiting", isStatus(StatusWaiting))
	if _, err := a.Send("nobody here"); !errors.Is(err, ErrPeerOffline) {
		t.Fatalf("send while alone: %v, want PEER_OFFLINE", err)
	}
	if msgs, _ := alice.hist.Messages(roomKey(alice, link)); len(msgs) != 0 {
		t.Fatalf("a message sent while the peer was offline was stored: %+v", msgs)
	}

	b := join(t, link, bob)
	waitFor(t, a, "alice verified", isStatus(StatusVerified))
	ev := waitFor(t, b, "bob verified", isStatus(StatusVerified)).(StatusChanged)
	if ev.Route != "direct" {
		t.Fatalf("route %q, want direct", ev.Route)
	}

	sent, err := a.Send("hello bob")
	if err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, b, "message", func(ev Event) bool { _, ok := ev.(MessageReceived); return ok }).(MessageReceived)
	if got.Message.Text != "hello bob" || got.Message.ID != sent.ID {
		t.Fatalf("bob got %+v, want %+v", got.Message, sent)
	}
	waitFor(t, a, "ack", func(ev Event) bool { d, ok := ev.(Delivered); return ok && d.ID == sent.ID })

	msgs, err := alice.hist.Messages(roomKey(alice, link))
	if err != nil || len(msgs) != 1 || msgs[0].State != history.StateDelivered {
		t.Fatalf("alice's history: %+v, %v", msgs, err)
	}
	msgs, err = bob.hist.Messages(roomKey(bob, link))
	if err != nil || len(msgs) != 1 || msgs[0].Text != "hello bob" || msgs[0].Outgoing {
		t.Fatalf("bob's history: %+v, %v", msgs, err)
	}

	// Bob leaves; alice sees it and can no longer send.
	b.Close()
	waitFor(t, a, "peer left", isStatus(StatusPeerLeft))
	if _, err := a.Send("gone?"); !errors.Is(err, ErrPeerOffline) {
		t.Fatalf("send after peer left: %v", err)
	}
}

func TestDestroyEndsBothAndWipes(t *testing.T) {
	srv := newServer(t)
	link := newRoom(t, srv)
	alice, bob := newParticipant(t), newParticipant(t)
	a, b := join(t, link, alice), join(t, link, bob)
	waitFor(t, a, "verified", isStatus(StatusVerified))
	waitFor(t, b, "verified", isStatus(StatusVerified))
	if _, err := a.Send("to be wiped"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "message", func(ev Event) bool { _, ok := ev.(MessageReceived); return ok })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	c := waitFor(t, b, "closed", func(ev Event) bool { _, ok := ev.(Closed); return ok }).(Closed)
	if se := AsError(c.Err); se == nil || se.Code != "ROOM_DESTROYED" {
		t.Fatalf("bob closed with %v, want ROOM_DESTROYED", c.Err)
	}
	for name, h := range map[string]*history.Store{"alice": alice.hist, "bob": bob.hist} {
		if _, ok, _ := h.Room(history.RoomKey(link.Server, link.RoomID)); ok {
			t.Fatalf("%s still has the destroyed room", name)
		}
	}
}

func TestParseLink(t *testing.T) {
	t.Parallel()
	const id = "V1StGXR8_Z5jdHi6B-myT"
	secret := "AAECAwQFBgcICQoLDA0ODw"
	tests := []struct {
		in, server string
		ok         bool
	}{
		{"https://signal.example.org/r/" + id + "#" + secret, "https://signal.example.org", true},
		{"http://127.0.0.1:8787/r/" + id + "#" + secret, "http://127.0.0.1:8787", true},
		{"parley://signal.example.org/r/" + id + "#" + secret, "https://signal.example.org", true},
		{"parley://192.168.1.20:8787/r/" + id + "#" + secret, "http://192.168.1.20:8787", true},
		{"  https://SIGNAL.example.org/r/" + id + "#" + secret + "\n", "https://signal.example.org", true},
		{"https://signal.example.org/r/" + id, "", false},                    // no secret
		{"https://signal.example.org/r/" + id + "#abc", "", false},           // short secret
		{"https://signal.example.org/r/short#" + secret, "", false},          // bad id
		{"ftp://signal.example.org/r/" + id + "#" + secret, "", false},       // scheme
		{"https://u:p@signal.example.org/r/" + id + "#" + secret, "", false}, // userinfo
		{"https:///r/" + id + "#" + secret, "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		l, err := ParseLink(tc.in)
		if (err == nil) != tc.ok {
			t.Fatalf("ParseLink(%q) err=%v, want ok=%v", tc.in, err, tc.ok)
		}
		if !tc.ok {
			if !errors.Is(err, ErrBadLink) {
				t.Fatalf("ParseLink(%q) error %v is not ErrBadLink", tc.in, err)
			}
			continue
		}
		if l.Server != tc.server || l.RoomID != id || len(l.Secret) != SecretSize {
			t.Fatalf("ParseLink(%q) = %+v", tc.in, l)
		}
		again, err := ParseLink(l.String())
		if err != nil || again.String() != l.String() {
			t.Fatalf("round trip of %q: %v", l.String(), err)
		}
	}
}

// BenchmarkMessagesWithAcks measures chat messages per second between two
// sessions on loopback, each one stored on both sides and acknowledged.
func BenchmarkMessagesWithAcks(b *testing.B) {
	srv := newServer(b)
	link := newRoom(b, srv)
	alice, bob := newParticipant(b), newParticipant(b)
	a, bs := join(b, link, alice), join(b, link, bob)
	waitFor(b, a, "verified", isStatus(StatusVerified))
	waitFor(b, bs, "verified", isStatus(StatusVerified))
	go func() {
		for range bs.Events() {
		}
	}()
	b.ResetTimer()
	start := time.Now()
	pending := map[string]bool{}
	for i := 0; i < b.N; i++ {
		m, err := a.Send(fmt.Sprintf("message %d", i))
		if err != nil {
			b.Fatal(err)
		}
		pending[m.ID] = true
	}
	for len(pending) > 0 {
		ev := waitFor(b, a, "acks", func(ev Event) bool { _, ok := ev.(Delivered); return ok })
		delete(pending, ev.(Delivered).ID)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
