package session

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/chat"
	"github.com/parley-chat/parley/app/history"
)

const opsServer = "https://signal.example"

// pipeSession is a Session of room "ops" whose verified chat connection is
// one end of rw: the chat layer of a joined room without signaling or
// pion, so tests can put a real Session or a hostile raw chat.Conn on the
// other end.
func pipeSession(t *testing.T, rw io.ReadWriteCloser) (*Session, *history.Store) {
	t.Helper()
	h := newParticipant(t).hist
	key := history.RoomKey(opsServer, "ops")
	if err := h.PutRoom(history.Room{ID: "ops", Server: opsServer, Link: opsServer + "/r/ops#x", CreatedAt: time.Now(), LastActive: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{cfg: Config{History: h}, key: key, log: slog.New(slog.DiscardHandler), events: make(chan Event, 64), ctx: ctx, cancel: cancel}
	c := chat.NewConn(rw, &chatHandler{s: s}, nil)
	s.chat = c
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, h
}

// next returns the session's next event of type E.
func next[E Event](t *testing.T, s *Session) E {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-s.events:
			if e, ok := ev.(E); ok {
				return e
			}
		case <-timeout:
			var zero E
			t.Fatalf("no %T within 5 s", zero)
			return zero
		}
	}
}

func stored(t *testing.T, s *Session, id string) history.Message {
	t.Helper()
	m, err := s.target(id)
	if err != nil {
		t.Fatalf("message %s: %v", id, err)
	}
	return m
}

func TestOpsBetweenTwoSessions(t *testing.T) {
	t.Parallel()
	pa, pb := net.Pipe()
	a, ha := pipeSession(t, pa)
	b, hb := pipeSession(t, pb)

	first, err := a.Send("helo")
	if err != nil {
		t.Fatal(err)
	}
	next[MessageReceived](t, b)

	// Reply: bob answers alice's message.
	if _, err := b.Reply("what?", "no-such-id"); !errors.Is(err, history.ErrMessageNotFound) {
		t.Fatalf("reply to a message that does not exist: %v", err)
	}
	answer, err := b.Reply("what?", first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := next[MessageReceived](t, a).Message; got.ReplyTo != first.ID || got.Text != "what?" || got.ID != answer.ID {
		t.Fatalf("alice got %+v", got)
	}

	// Edit: only alice may edit her message; bob sees "edited".
	if _, err := b.Edit(first.ID, "bob's words"); !errors.Is(err, ErrNotYours) {
		t.Fatalf("bob edits alice's message: %v", err)
	}
	if m, err := a.Edit(first.ID, "hello"); err != nil || m.Text != "hello" || !m.Edited {
		t.Fatalf("edit: %+v, %v", m, err)
	}
	if got := next[MessageChanged](t, b).Message; got.ID != first.ID || got.Text != "hello" || !got.Edited {
		t.Fatalf("bob's copy after the edit: %+v", got)
	}

	// Reactions both ways, toggled off again.
	if _, err := a.React(answer.ID, "🤡"); !errors.Is(err, ErrBadReaction) {
		t.Fatalf("a reaction outside the set: %v", err)
	}
	if _, err := a.React(answer.ID, "👍"); err != nil {
		t.Fatal(err)
	}
	if got := next[MessageChanged](t, b).Message; got.ID != answer.ID || got.PeerReaction != "👍" {
		t.Fatalf("bob sees %+v", got)
	}
	if _, err := b.React(first.ID, "❤️"); err != nil {
		t.Fatal(err)
	}
	next[MessageChanged](t, a)
	if m := stored(t, a, first.ID); m.PeerReaction != "❤️" {
		t.Fatalf("alice's copy: %+v", m)
	}
	if _, err := a.React(answer.ID, ""); err != nil {
		t.Fatal(err)
	}
	if got := next[MessageChanged](t, b).Message; got.PeerReaction != "" {
		t.Fatalf("reaction not removed: %+v", got)
	}

	// Delete for both: tombstones on both sides, the text gone from both
	// histories and previews; a deleted message cannot change again.
	if _, err := b.Delete(first.ID); !errors.Is(err, ErrNotYours) {
		t.Fatalf("bob deletes alice's message: %v", err)
	}
	if _, err := b.Delete(answer.ID); err != nil {
		t.Fatal(err)
	}
	if got := next[MessageChanged](t, a).Message; !got.Deleted || got.Text != "" {
		t.Fatalf("alice's copy after the delete: %+v", got)
	}
	for name, h := range map[string]*history.Store{"alice": ha, "bob": hb} {
		msgs, err := h.Messages(a.key)
		if err != nil || len(msgs) != 2 {
			t.Fatalf("%s: %+v, %v", name, msgs, err)
		}
		if m := msgs[1]; !m.Deleted || m.Text != "" || m.ReplyTo != first.ID {
			t.Errorf("%s keeps %+v", name, m)
		}
		if r, _, _ := h.Room(a.key); r.LastPreview != "" {
			t.Errorf("%s's preview still shows %q", name, r.LastPreview)
		}
	}
	if _, err := b.Edit(answer.ID, "back"); !errors.Is(err, ErrMessageDeleted) {
		t.Fatalf("edit after delete: %v", err)
	}
	if _, err := a.React(answer.ID, "👍"); !errors.Is(err, ErrMessageDeleted) {
		t.Fatalf("react after delete: %v", err)
	}
}

// acks counts the acks a raw peer receives.
type acks struct{ ch chan string }

func (a acks) Receive(chat.Message) error { return nil }
func (a acks) Delivered(id string)        { a.ch <- id }
func (acks) Typing()                      {}
func (acks) Read(string)                  {}

// A hostile peer's operations on messages that do not exist, that it did
// not write, or that were deleted are refused: nothing changes, nothing is
// shown, and the frames are still acked (so they are not sent again).
func TestHostilePeerOpsRefused(t *testing.T) {
	t.Parallel()
	pa, pb := net.Pipe()
	victim, h := pipeSession(t, pb)
	delivered := make(chan string, 16)
	peer := chat.NewConn(pa, acks{delivered}, nil)
	done := make(chan struct{})
	go func() { defer close(done); _ = peer.Run(context.Background()) }()
	t.Cleanup(func() { _ = peer.Close(); <-done })

	mine, err := victim.Send("my words")
	if err != nil {
		t.Fatal(err)
	}
	waitAck := func(id string) {
		t.Helper()
		for {
			select {
			case got := <-delivered:
				if got == id {
					return
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no ack of %s", id)
			}
		}
	}
	// The peer's own message, which it then deletes.
	if err := peer.SendWithID(chat.Message{ID: "theirs", SentAt: time.Now(), Text: "theirs"}); err != nil {
		t.Fatal(err)
	}
	waitAck("theirs")
	if err := peer.SendWithID(chat.Message{ID: "del", SentAt: time.Now(), Op: chat.OpDelete, Of: "theirs", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	waitAck("del")

	tests := []struct {
		name string
		op   chat.Message
	}{
		{"edit of my message", chat.Message{Op: chat.OpEdit, Of: mine.ID, Text: "words put in my mouth"}},
		{"delete of my message", chat.Message{Op: chat.OpDelete, Of: mine.ID}},
		{"edit of a message that does not exist", chat.Message{Op: chat.OpEdit, Of: "nosuchmessage", Text: "x"}},
		{"react to a message that does not exist", chat.Message{Op: chat.OpReact, Of: "nosuchmessage", Emoji: "👍"}},
		{"edit of a deleted message", chat.Message{Op: chat.OpEdit, Of: "theirs", Text: "back from the dead"}},
		{"react to a deleted message", chat.Message{Op: chat.OpReact, Of: "theirs", Emoji: "👍"}},
	}
	for i, tt := range tests {
		tt.op.ID, tt.op.SentAt = "op"+string(rune('a'+i)), time.Now()
		if err := peer.SendWithID(tt.op); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		waitAck(tt.op.ID)
	}
	msgs, err := h.Messages(victim.key)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("history: %+v, %v", msgs, err)
	}
	if m := msgs[0]; m.Text != "my words" || m.Edited || m.Deleted || m.PeerReaction != "" {
		t.Errorf("my message changed: %+v", m)
	}
	if m := msgs[1]; m.ID != "theirs" || !m.Deleted || m.Text != "" || m.Edited || m.PeerReaction != "" {
		t.Errorf("the deleted message changed: %+v", m)
	}
	for len(victim.events) > 0 {
		if c, ok := (<-victim.events).(MessageChanged); ok && c.Message.ID == mine.ID {
			t.Errorf("a refused operation was shown: %+v", c.Message)
		}
	}
}

// Edits, deletes and reactions made while the peer is away are queued
// (sealed in history), survive a restart of the session, and reach the
// peer once it is back; the peer applies each operation id once, so a late
// copy of an older operation does not undo a newer one (#18).
func TestOpsWhileOfflineReachPeerAfterReconnect(t *testing.T) {
	srv := newServer(t)
	link := newRoom(t, srv)
	alice, bob := newParticipant(t), newParticipant(t)
	key := roomKey(alice, link)

	a, b := join(t, link, alice), join(t, link, bob)
	waitFor(t, a, "alice verified", isStatus(StatusVerified))
	waitFor(t, b, "bob verified", isStatus(StatusVerified))
	keep, err := a.Send("keep me")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := a.Send("DELETE-ME-SECRET")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := b.Send("bob's")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, "bob's message", func(ev Event) bool { m, ok := ev.(MessageReceived); return ok && m.Message.ID == theirs.ID })
	waitFor(t, b, "alice's messages", func(ev Event) bool { m, ok := ev.(MessageReceived); return ok && m.Message.ID == gone.ID })

	// Bob goes away; alice edits, deletes and reacts meanwhile.
	b.Close()
	waitFor(t, a, "peer left", isStatus(StatusPeerLeft))
	if _, err := a.Edit(keep.ID, "kept, edited"); err != nil {
		t.Fatalf("edit while the peer is away: %v", err)
	}
	if m, err := a.Delete(gone.ID); err != nil || !m.Deleted || m.Text != "" {
		t.Fatalf("delete while the peer is away: %+v, %v", m, err)
	}
	if _, err := a.React(theirs.ID, "👍"); err != nil {
		t.Fatal(err)
	}
	if ops, err := alice.hist.PendingOps(key); err != nil || len(ops) != 3 {
		t.Fatalf("pending operations: %+v, %v", ops, err)
	}

	// Alice restarts (a new session on the same history), then bob comes back.
	a.Close()
	a2 := join(t, link, alice)
	b2 := join(t, link, bob)
	changed := map[string]history.Message{}
	ops := map[string]string{}
	for len(changed) < 3 {
		c := waitFor(t, b2, "the queued operations", func(ev Event) bool { _, ok := ev.(MessageChanged); return ok }).(MessageChanged)
		changed[c.Message.ID], ops[c.Message.ID] = c.Message, c.Op
	}
	if want := map[string]string{keep.ID: chat.OpEdit, gone.ID: chat.OpDelete, theirs.ID: chat.OpReact}; !reflect.DeepEqual(ops, want) {
		t.Errorf("MessageChanged ops %v, want %v", ops, want)
	}
	if m := changed[keep.ID]; m.Text != "kept, edited" || !m.Edited {
		t.Errorf("bob's copy of the edited message: %+v", m)
	}
	if m := changed[gone.ID]; !m.Deleted || m.Text != "" {
		t.Errorf("bob's copy of the deleted message: %+v", m)
	}
	if m := changed[theirs.ID]; m.PeerReaction != "👍" {
		t.Errorf("bob's message after alice's reaction: %+v", m)
	}
	for range 3 {
		waitFor(t, a2, "acks of the operations", func(ev Event) bool { _, ok := ev.(OpDelivered); return ok })
	}
	if ops, err := alice.hist.PendingOps(key); err != nil || len(ops) != 0 {
		t.Fatalf("pending after the acks: %+v, %v", ops, err)
	}
	for name, h := range map[string]*history.Store{"alice": alice.hist, "bob": bob.hist} {
		msgs, err := h.Messages(key)
		if err != nil || len(msgs) != 3 {
			t.Fatalf("%s: %+v, %v", name, msgs, err)
		}
		for _, m := range msgs {
			if m.ID == gone.ID && (!m.Deleted || m.Text != "") || m.ID == keep.ID && m.Text != "kept, edited" {
				t.Errorf("%s keeps %+v", name, m)
			}
		}
	}

	// A late copy of an older operation changes nothing: edit v1, edit v2,
	// then v1's frame again (same id) as a reconnect could deliver it.
	v1, id1, err := a2.Change(chat.OpEdit, keep.ID, "v1", "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, b2, "v1", func(ev Event) bool { c, ok := ev.(MessageChanged); return ok && c.Message.Text == "v1" })
	if _, err := a2.Edit(keep.ID, "v2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b2, "v2", func(ev Event) bool { c, ok := ev.(MessageChanged); return ok && c.Message.Text == "v2" })
	a2.mu.Lock()
	c := a2.chat
	a2.mu.Unlock()
	if err := c.SendWithID(chat.Message{ID: id1, SentAt: time.Now(), Op: chat.OpEdit, Of: keep.ID, Text: v1.Text}); err != nil {
		t.Fatal(err)
	}
	// The stream is ordered: once this message arrives, the copy was handled.
	marker, err := a2.Send("after the copy")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, b2, "the marker", func(ev Event) bool {
		switch e := ev.(type) {
		case MessageChanged:
			t.Errorf("the copy was applied again: %+v", e.Message)
		case MessageReceived:
			return e.Message.ID == marker.ID
		}
		return false
	})
	if m, _, _ := bob.hist.Message(key, keep.ID); m.Text != "v2" {
		t.Fatalf("bob's copy after the duplicate: %+v", m)
	}
}
