package session

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/identity"
	"github.com/parley-chat/parley/app/sigclient"
	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/server/servertest"
)

// hostRoom makes reg host a room with id, as a hostile server can.
func hostRoom(t *testing.T, reg *room.Registry, id string) {
	t.Helper()
	if _, err := reg.Restore(context.Background(), room.Info{ID: id, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// verifiedPair joins alice and bob to link and waits until both verified.
func verifiedPair(t *testing.T, link Link, alice, bob participant) (*Session, *Session) {
	t.Helper()
	a, b := join(t, link, alice), join(t, link, bob)
	waitFor(t, a, "alice verified", isStatus(StatusVerified))
	waitFor(t, b, "bob verified", isStatus(StatusVerified))
	return a, b
}

// leave closes s and drains its events.
func leave(s *Session) {
	_ = s.Close()
	for range s.Events() {
	}
}

// addUnacked stores an outgoing message the peer never acknowledged (it
// left before the ack), which the next verified connection resends.
func addUnacked(t *testing.T, p participant, link Link, text string) {
	t.Helper()
	m := history.Message{ID: newMessageID(), RoomKey: roomKey(p, link), Outgoing: true, Text: text, SentAt: time.Now(), State: history.StateSent}
	if _, err := p.hist.AddMessage(m); err != nil {
		t.Fatal(err)
	}
}

// firstMessage sends a marker from from to to and returns the first
// message to receives: anything resent on connecting comes before it.
func firstMessage(t *testing.T, from, to *Session) string {
	t.Helper()
	if _, err := from.Send("marker"); err != nil {
		t.Fatal(err)
	}
	return waitFor(t, to, "a message", func(ev Event) bool { _, ok := ev.(MessageReceived); return ok }).(MessageReceived).Message.Text
}

func closedWith(t *testing.T, s *Session) error {
	t.Helper()
	return waitFor(t, s, "closed", func(ev Event) bool { _, ok := ev.(Closed); return ok }).(Closed).Err
}

func code(err error) string {
	if se := AsError(err); se != nil {
		return se.Code
	}
	return ""
}

// TestImpostorLinkOnAnotherServer: a link with a stored room's id on
// another server (a hostile one, which knows the id from the first
// server's logs) is another room. It inherits nothing: its peer never
// sees the first room's undelivered message, and the stored room keeps its
// link, pinned key and history.
func TestImpostorLinkOnAnotherServer(t *testing.T) {
	good := newServer(t)
	link := newRoom(t, good)
	alice, bob, mallory := newParticipant(t), newParticipant(t), newParticipant(t)
	a, b := verifiedPair(t, link, alice, bob)
	leave(b)
	waitFor(t, a, "peer left", isStatus(StatusPeerLeft))
	leave(a)
	addUnacked(t, alice, link, "for bob only")
	before, _, _ := alice.hist.Room(roomKey(alice, link))

	evilSrv := servertest.New(t, servertest.Options{Room: room.Config{IdleTTL: time.Hour}})
	hostRoom(t, evilSrv.Registry, link.RoomID)
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	evil := Link{Server: evilSrv.URL, RoomID: link.RoomID, Secret: secret}

	m := join(t, evil, mallory)
	a2 := join(t, evil, alice)
	waitFor(t, a2, "alice verified with mallory", isStatus(StatusVerified))
	waitFor(t, m, "mallory verified", isStatus(StatusVerified))
	if got := firstMessage(t, a2, m); got != "marker" {
		t.Fatalf("mallory received %q first: the stored room's message leaked to the impostor", got)
	}
	if a2.Key() == roomKey(alice, link) {
		t.Fatal("the impostor link has the stored room's key")
	}
	after, ok, err := alice.hist.Room(roomKey(alice, link))
	if err != nil || !ok || after.Link != before.Link || !bytes.Equal(after.PeerKey, bob.id.PublicKey()) || after.Server != good {
		t.Fatalf("stored room after the impostor link: ok=%t err=%v %+v", ok, err, after)
	}
	msgs, _ := alice.hist.Messages(roomKey(alice, link))
	if len(msgs) != 1 || msgs[0].Text != "for bob only" || msgs[0].State != history.StateSent {
		t.Fatalf("stored room's messages: %+v", msgs)
	}
}

// TestLinkWithAnotherSecretRefused: a link with the stored room's server
// and id but another secret is refused with LINK_CONFLICT before anything
// is sent, and the stored link stays.
func TestLinkWithAnotherSecretRefused(t *testing.T) {
	srv := newServer(t)
	link := newRoom(t, srv)
	alice := newParticipant(t)
	leave(join(t, link, alice))
	forged := link
	forged.Secret = bytes.Repeat([]byte{9}, SecretSize)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Join(ctx, Config{Link: forged, Identity: alice.id, History: alice.hist, LoopbackOnly: true})
	if err == nil {
		leave(s)
		t.Fatal("a link with another secret joined the stored room")
	}
	if code(err) != CodeLinkConflict {
		t.Fatalf("Join = %v, want %s", err, CodeLinkConflict)
	}
	if r, _, _ := alice.hist.Room(roomKey(alice, link)); r.Link != link.String() {
		t.Fatal("the refused link replaced the stored one")
	}
}

// TestKeyChangedRefusesToConnect: once bob's key is pinned, a peer with
// another key in the same room (the server lost the room and someone else
// with the link joined first) ends alice's session with KEY_CHANGED: no
// connection, nothing resent. Trusting the new key (after comparing the
// safety number) connects, and still resends nothing written to bob.
func TestKeyChangedRefusesToConnect(t *testing.T) {
	// The server behind the link is restarted with no memory of the
	// room, then taken over: it hosts the room for whoever asks.
	sw := servertest.New(t, servertest.Options{Room: room.Config{IdleTTL: time.Hour}})
	secret, _ := NewSecret()
	res, err := sigclient.CreateRoom(context.Background(), http.DefaultClient, sw.URL, 0, Verifier(secret))
	if err != nil {
		t.Fatal(err)
	}
	link := Link{Server: sw.URL, RoomID: res.RoomID, Secret: secret}
	alice, bob, mallory := newParticipant(t), newParticipant(t), newParticipant(t)
	a, b := verifiedPair(t, link, alice, bob)
	leave(b)
	waitFor(t, a, "peer left", isStatus(StatusPeerLeft))
	leave(a)
	if r, _, _ := alice.hist.Room(roomKey(alice, link)); !bytes.Equal(r.PeerKey, bob.id.PublicKey()) {
		t.Fatal("bob's key was not pinned after the verified connection")
	}
	addUnacked(t, alice, link, "for bob only")

	sw.Restart(t)
	hostRoom(t, sw.Registry, link.RoomID)
	m := join(t, link, mallory)
	waitFor(t, m, "mallory waiting", isStatus(StatusWaiting))
	a2 := join(t, link, alice)
	err = closedWith(t, a2)
	var kc *KeyChangedError
	if !errors.As(err, &kc) || code(err) != CodeKeyChanged {
		t.Fatalf("alice closed with %v, want %s", err, CodeKeyChanged)
	}
	if !bytes.Equal(kc.Old, bob.id.PublicKey()) || !bytes.Equal(kc.New, mallory.id.PublicKey()) {
		t.Fatal("KEY_CHANGED does not carry the old and new keys")
	}
	if identity.SafetyNumber(alice.id.PublicKey(), kc.Old) == identity.SafetyNumber(alice.id.PublicKey(), kc.New) {
		t.Fatal("old and new safety numbers agree")
	}
	r, _, _ := alice.hist.Room(roomKey(alice, link))
	if !bytes.Equal(r.PeerKey, bob.id.PublicKey()) || !bytes.Equal(r.NewPeerKey, mallory.id.PublicKey()) {
		t.Fatalf("after KEY_CHANGED: pinned %x, new %x", r.PeerKey, r.NewPeerKey)
	}
	if msgs, _ := alice.hist.Messages(roomKey(alice, link)); len(msgs) != 1 || msgs[0].State != history.StateSent {
		t.Fatalf("alice's unacked message after KEY_CHANGED: %+v", msgs)
	}

	// The user compared the new safety number and trusts it.
	if err := alice.hist.TrustNewPeerKey(roomKey(alice, link)); err != nil {
		t.Fatal(err)
	}
	a3 := join(t, link, alice)
	waitFor(t, a3, "alice verified with the new key", isStatus(StatusVerified))
	if got := firstMessage(t, a3, m); got != "marker" {
		t.Fatalf("the new key received %q first: a message written to the old key was resent", got)
	}
	msgs, _ := alice.hist.Messages(roomKey(alice, link))
	if len(msgs) != 2 || msgs[0].State != history.StateUndelivered {
		t.Fatalf("alice's messages after trusting the new key: %+v", msgs)
	}
}

// TestServerEndWithoutPeerKeepsHistory: the server ending the room
// (ROOM_DESTROYED without the peer's authenticated destroy, as a hostile
// server or a peer from before the destroy frame does it) keeps alice's
// history and marks the room ended.
func TestServerEndWithoutPeerKeepsHistory(t *testing.T) {
	srv := newServer(t)
	link := newRoom(t, srv)
	alice, bob := newParticipant(t), newParticipant(t)
	a, b := verifiedPair(t, link, alice, bob)
	if _, err := a.Send("keep me"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "message", func(ev Event) bool { _, ok := ev.(MessageReceived); return ok })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Bob's signaling client destroys the room; nothing on the chat channel.
	if err := b.sig.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := closedWith(t, a); code(err) != "ROOM_DESTROYED" {
		t.Fatalf("alice closed with %v", err)
	}
	r, ok, err := alice.hist.Room(roomKey(alice, link))
	if err != nil || !ok || r.Ended != "ROOM_DESTROYED" {
		t.Fatalf("alice's room after an unconfirmed destroy: ok=%t err=%v ended=%q", ok, err, r.Ended)
	}
	if msgs, _ := alice.hist.Messages(roomKey(alice, link)); len(msgs) != 1 {
		t.Fatalf("alice's history after an unconfirmed destroy: %+v", msgs)
	}
}

// TestTimerExpired: TIMER_EXPIRED wipes the room only when the
// self-destruct time this app knows has passed (within the clock skew);
// before it, or without a known time, the history stays and the room is
// marked ended.
func TestTimerExpired(t *testing.T) {
	for _, tt := range []struct {
		name  string
		known time.Duration // from now; 0: no known time
		wiped bool
	}{
		{"known time reached", time.Second, true},
		{"server fires an hour early", time.Hour, false},
		{"no known time", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			secret, _ := NewSecret()
			res, err := sigclient.CreateRoom(context.Background(), http.DefaultClient, srv, time.Second, Verifier(secret))
			if err != nil {
				t.Fatal(err)
			}
			link := Link{Server: srv, RoomID: res.RoomID, Secret: secret}
			alice := newParticipant(t)
			if tt.known != 0 {
				at := time.Now().Add(tt.known)
				if err := alice.hist.PutRoom(history.Room{ID: link.RoomID, Server: link.Server, Link: link.String(), ExpiresAt: &at}); err != nil {
					t.Fatal(err)
				}
			}
			a := join(t, link, alice)
			if err := closedWith(t, a); code(err) != "TIMER_EXPIRED" {
				t.Fatalf("closed with %v", err)
			}
			r, ok, err := alice.hist.Room(roomKey(alice, link))
			if err != nil {
				t.Fatal(err)
			}
			if ok == tt.wiped {
				t.Fatalf("room kept=%t, want wiped=%t", ok, tt.wiped)
			}
			if ok && r.Ended != "TIMER_EXPIRED" {
				t.Fatalf("kept room not marked ended: %q", r.Ended)
			}
		})
	}
}

// TestSelfDestructTimeAnnounced: the creator's app tells the peer the
// self-destruct time over the verified channel; the peer stores it (and
// not what the server says).
func TestSelfDestructTimeAnnounced(t *testing.T) {
	srv := newServer(t)
	link := newRoom(t, srv)
	alice, bob := newParticipant(t), newParticipant(t)
	at := time.Now().Add(3 * time.Hour).Truncate(time.Millisecond)
	if err := alice.hist.PutRoom(history.Room{ID: link.RoomID, Server: link.Server, Link: link.String(), ExpiresAt: &at}); err != nil {
		t.Fatal(err)
	}
	a := join(t, link, alice)
	b := join(t, link, bob)
	waitFor(t, a, "verified", isStatus(StatusVerified))
	waitFor(t, b, "room updated", func(ev Event) bool { _, ok := ev.(RoomUpdated); return ok })
	r, _, _ := bob.hist.Room(roomKey(bob, link))
	if r.ExpiresAt == nil || !r.ExpiresAt.Equal(at) {
		t.Fatalf("bob's self-destruct time = %v, want %v", r.ExpiresAt, at)
	}
}
