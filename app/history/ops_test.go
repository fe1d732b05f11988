package history

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"
)

// reopenSealed closes s, fails the test for each of plain found in clear
// in its file, and opens it again (closed when the test ends).
func reopenSealed(t *testing.T, s *Store, path string, key []byte, plain ...string) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plain {
		if bytes.Contains(raw, []byte(p)) {
			t.Errorf("%q in clear in the database file", p)
		}
	}
	s2, err := Open(path, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	return s2
}

func opIDs(t *testing.T, s *Store, rk string) []string {
	t.Helper()
	ops, err := s.PendingOps(rk)
	if err != nil {
		t.Fatalf("PendingOps: %v", err)
	}
	ids := []string{}
	for _, op := range ops {
		ids = append(ids, op.ID)
	}
	return ids
}

// Our operations wait, sealed, until the peer acks them; a later one
// supersedes what it makes moot; they survive a reopen; a change that
// fails queues nothing.
func TestPendingOps(t *testing.T) {
	t.Parallel()
	s, path, key := newStore(t)
	mustPutRoom(t, s, testRoom("ops", base))
	rk := k(s, "ops")
	mustAdd(t, s, Message{ID: "a", RoomKey: rk, Outgoing: true, Text: "first", SentAt: base, State: StateDelivered})
	mustAdd(t, s, Message{ID: "b", RoomKey: rk, Text: "theirs", SentAt: base})
	edit := func(m *Message) error { m.Text, m.Edited = "OLD-EDIT-TEXT", true; return nil }

	steps := []struct {
		op     Op
		change func(*Message) error
		want   []string // pending op ids afterwards
	}{
		{Op{ID: "e1", Kind: OpEdit, Of: "a", Text: "OLD-EDIT-TEXT"}, edit, []string{"e1"}},
		{Op{ID: "r1", Kind: OpReact, Of: "b", Emoji: "👍"}, func(m *Message) error { m.MyReaction = "👍"; return nil }, []string{"e1", "r1"}},
		{Op{ID: "r2", Kind: OpReact, Of: "a", Emoji: "😂"}, func(m *Message) error { m.MyReaction = "😂"; return nil }, []string{"e1", "r1", "r2"}},
		// A later edit replaces the earlier one (its text is not kept).
		{Op{ID: "e2", Kind: OpEdit, Of: "a", Text: "second"}, func(m *Message) error { m.Text = "second"; return nil }, []string{"r1", "r2", "e2"}},
		// A later reaction to b replaces the earlier one.
		{Op{ID: "r3", Kind: OpReact, Of: "b"}, func(m *Message) error { m.MyReaction = ""; return nil }, []string{"r2", "e2", "r3"}},
		// A delete replaces the edit and the reaction of its message.
		{Op{ID: "d1", Kind: OpDelete, Of: "a", Text: "(deleted a message)"}, func(m *Message) error { m.Deleted = true; return nil }, []string{"r3", "d1"}},
	}
	for _, st := range steps {
		st.op.SentAt = base
		if _, err := s.UpdateMessageQueued(rk, st.op, st.change); err != nil {
			t.Fatalf("%s: %v", st.op.ID, err)
		}
		if got := opIDs(t, s, rk); !reflect.DeepEqual(got, st.want) {
			t.Fatalf("after %s: pending %v, want %v", st.op.ID, got, st.want)
		}
	}
	boom := errors.New("refused")
	if _, err := s.UpdateMessageQueued(rk, Op{ID: "x", Kind: OpEdit, Of: "b", Text: "x"}, func(*Message) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing change: %v", err)
	}
	if _, err := s.UpdateMessageQueued(rk, Op{ID: "y", Kind: OpEdit, Of: "nope", Text: "x"}, edit); !errors.Is(err, ErrMessageNotFound) {
		t.Fatalf("unknown message: %v", err)
	}
	for _, bad := range []Op{{ID: "", Kind: OpEdit, Of: "a"}, {ID: "z", Kind: "toggle", Of: "a"}, {ID: "z", Kind: OpReact, Of: "a", Emoji: string(make([]byte, 64))}} {
		if _, err := s.UpdateMessageQueued(rk, bad, edit); err == nil {
			t.Errorf("op %+v was queued", bad)
		}
	}
	if got := opIDs(t, s, rk); !reflect.DeepEqual(got, []string{"r3", "d1"}) {
		t.Fatalf("a refused op changed the queue: %v", got)
	}

	// Acks remove them; an unknown or repeated ack is not an error.
	if op, ok, err := s.OpDelivered(rk, "r3"); err != nil || !ok || op.Kind != OpReact || op.Of != "b" || op.Emoji != "" {
		t.Fatalf("OpDelivered(r3) = %+v, %t, %v", op, ok, err)
	}
	for _, id := range []string{"r3", "e1", "a"} {
		if _, ok, err := s.OpDelivered(rk, id); err != nil || ok {
			t.Fatalf("OpDelivered(%s) = %t, %v", id, ok, err)
		}
	}

	// Sealed at rest and still there after a reopen.
	s2 := reopenSealed(t, s, path, key, "OLD-EDIT-TEXT", "deleted a message", `"delete"`, `"of"`)
	ops, err := s2.PendingOps(rk)
	want := []Op{{ID: "d1", Kind: OpDelete, Of: "a", Text: "(deleted a message)", SentAt: base}}
	if err != nil || !reflect.DeepEqual(ops, want) {
		t.Fatalf("after reopen: %+v, %v", ops, err)
	}
	if _, err := s2.PendingOps(k(s2, "nope")); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("unknown room: %v", err)
	}
	// Clearing the room's messages drops its pending operations too.
	if err := s2.ClearMessages(rk); err != nil {
		t.Fatal(err)
	}
	if got := opIDs(t, s2, rk); len(got) != 0 {
		t.Fatalf("pending after clear: %v", got)
	}
}

// A peer's operation is applied once per id: the copy a reconnect resends
// changes nothing, even after a newer operation; a refused one is not
// remembered.
func TestApplyPeerOpOnce(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	mustPutRoom(t, s, testRoom("peer", base))
	rk := k(s, "peer")
	mustAdd(t, s, Message{ID: "m", RoomKey: rk, Outgoing: true, Text: "mine", SentAt: base, State: StateDelivered})
	react := func(e string) func(*Message) error {
		return func(m *Message) error { m.PeerReaction = e; return nil }
	}
	if m, applied, err := s.ApplyPeerOp(rk, "op1", "m", react("👍")); err != nil || !applied || m.PeerReaction != "👍" {
		t.Fatalf("first: %+v, %t, %v", m, applied, err)
	}
	if _, applied, err := s.ApplyPeerOp(rk, "op2", "m", react("")); err != nil || !applied {
		t.Fatalf("second: %t, %v", applied, err)
	}
	if _, applied, err := s.ApplyPeerOp(rk, "op1", "m", react("👍")); err != nil || applied {
		t.Fatalf("resent first: %t, %v", applied, err)
	}
	if m, _, _ := s.Message(rk, "m"); m.PeerReaction != "" {
		t.Fatalf("a resent reaction came back: %+v", m)
	}
	boom := errors.New("refused")
	if _, _, err := s.ApplyPeerOp(rk, "op3", "m", func(*Message) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("refused: %v", err)
	}
	if _, applied, err := s.ApplyPeerOp(rk, "op3", "m", react("😂")); err != nil || !applied {
		t.Fatalf("a refused id was remembered: %t, %v", applied, err)
	}
	if _, _, err := s.ApplyPeerOp(rk, "op4", "nope", react("😂")); !errors.Is(err, ErrMessageNotFound) {
		t.Fatalf("unknown message: %v", err)
	}
}

// Trusting a new key drops the old key's pending operations, as it
// retires its unacked messages: an edit's text must not reach the new key.
func TestTrustNewPeerKeyDropsPendingOps(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	r := testRoom("trust", base)
	r.PeerKey = bytes.Repeat([]byte{1}, 32)
	mustPutRoom(t, s, r)
	rk := k(s, "trust")
	mustAdd(t, s, Message{ID: "m", RoomKey: rk, Outgoing: true, Text: "mine", SentAt: base, State: StateDelivered})
	if _, err := s.UpdateMessageQueued(rk, Op{ID: "e", Kind: OpEdit, Of: "m", Text: "for the old key", SentAt: time.Now()}, func(m *Message) error { m.Text = "for the old key"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateRoom(rk, func(r *Room) error { r.NewPeerKey = bytes.Repeat([]byte{2}, 32); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.TrustNewPeerKey(rk); err != nil {
		t.Fatal(err)
	}
	if got := opIDs(t, s, rk); len(got) != 0 {
		t.Fatalf("pending after trusting a new key: %v", got)
	}
}
