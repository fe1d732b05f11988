package session

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/call"
)

// callEvent waits for s's next CallChanged in state st.
func callEvent(t *testing.T, s *Session, st call.State) call.View {
	t.Helper()
	ev := waitFor(t, s, "call "+string(st), func(ev Event) bool {
		c, ok := ev.(CallChanged)
		return ok && c.View.State == st
	})
	return ev.(CallChanged).View
}

// TestSessionRunsCalls: each side's session opens the call manager of
// its verified connection, reports its views as events, and closes it
// with the connection: the peer leaving ends the call with PEER_LEFT and
// WaitCall then says PEER_OFFLINE at once.
func TestSessionRunsCalls(t *testing.T) {
	srv := newServer(t)
	link := newRoom(t, srv)
	voice := &CallConfig{Sources: func() call.Sources { return call.Sources{Audio: call.SourceTestAudio, Video: call.SourceNone} }}
	alice := joinWith(t, link, newParticipant(t), func(c *Config) { c.Calls = voice })
	bob := joinWith(t, link, newParticipant(t), func(c *Config) { c.Calls = voice })
	waitFor(t, alice, "alice's call side", func(ev Event) bool { _, ok := ev.(CallReady); return ok })
	waitFor(t, bob, "bob's call side", func(ev Event) bool { _, ok := ev.(CallReady); return ok })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := alice.WaitCall(ctx)
	if err != nil || m != alice.Call() {
		t.Fatalf("WaitCall = %v, %v", m, err)
	}
	if _, err := m.Start(false); err != nil {
		t.Fatal(err)
	}
	if v := callEvent(t, bob, call.StateIncoming); v.RoomID != bob.Key() {
		t.Fatalf("incoming view of room %q", v.RoomID)
	}
	if _, err := bob.Call().Answer(true, false); err != nil {
		t.Fatal(err)
	}
	callEvent(t, alice, call.StateActive)
	callEvent(t, bob, call.StateActive)

	leave(bob)
	if v := callEvent(t, alice, call.StateEnded); v.Error != call.ReasonPeerLeft {
		t.Fatalf("ended with %q, want %s", v.Error, call.ReasonPeerLeft)
	}
	waitFor(t, alice, "peer left", isStatus(StatusPeerLeft))
	if _, err := alice.WaitCall(ctx); !errors.Is(err, ErrPeerOffline) || alice.Call() != nil {
		t.Fatalf("WaitCall without a peer: %v", err)
	}
}
