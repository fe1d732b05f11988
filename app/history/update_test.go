package history

import (
	"errors"
	"testing"
)

func TestUpdateMessage(t *testing.T) {
	t.Parallel()
	s, path, key := newStore(t)
	r := testRoom("upd", base)
	mustPutRoom(t, s, r)
	rk := k(s, "upd")
	mustAdd(t, s, Message{ID: "a", RoomKey: rk, Outgoing: true, Text: "first draft", SentAt: base, State: StateDelivered})
	mustAdd(t, s, Message{ID: "b", RoomKey: rk, Text: "PEER-SECRET-REPLY", SentAt: base, ReplyTo: "a"})

	// Edit the older message: its text changes, the preview (of b) does not.
	got, err := s.UpdateMessage(rk, "a", func(m *Message) error {
		m.Text, m.Edited = "second draft", true
		m.ID, m.Outgoing, m.State = "zzz", false, StateFailed // ignored
		return nil
	})
	if err != nil || got.Text != "second draft" || !got.Edited || got.ID != "a" || !got.Outgoing || got.State != StateDelivered {
		t.Fatalf("edit: %+v, %v", got, err)
	}
	if room, _, _ := s.Room(rk); room.LastPreview != Preview("PEER-SECRET-REPLY") {
		t.Fatalf("preview after editing an older message: %q", room.LastPreview)
	}

	// Reactions on both sides.
	if _, err := s.UpdateMessage(rk, "b", func(m *Message) error { m.MyReaction, m.PeerReaction = "❤️", "👍"; return nil }); err != nil {
		t.Fatal(err)
	}
	// Deleting the newest message leaves a tombstone and no preview text.
	if got, err := s.UpdateMessage(rk, "b", func(m *Message) error { m.Deleted = true; return nil }); err != nil || got.Text != "" || !got.Deleted {
		t.Fatalf("delete: %+v, %v", got, err)
	}
	if room, _, _ := s.Room(rk); room.LastPreview != "" {
		t.Fatalf("preview after deleting the newest message: %q", room.LastPreview)
	}

	// A change that fails changes nothing; unknown messages and rooms are errors.
	boom := errors.New("no")
	if _, err := s.UpdateMessage(rk, "a", func(m *Message) error { m.Text = "lost"; return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing change: %v", err)
	}
	if _, err := s.UpdateMessage(rk, "nope", func(*Message) error { return nil }); !errors.Is(err, ErrMessageNotFound) {
		t.Fatalf("unknown message: %v", err)
	}
	if _, err := s.UpdateMessage(k(s, "nope"), "a", func(*Message) error { return nil }); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("unknown room: %v", err)
	}
	if _, err := s.UpdateMessage(rk, "a", func(m *Message) error { m.MyReaction = string(make([]byte, 100)); return nil }); err == nil {
		t.Fatal("a 100-byte reaction was stored")
	}
	if _, err := s.AddMessage(Message{ID: "c", RoomKey: rk, Text: "x", SentAt: base, Deleted: true}); err == nil {
		t.Fatal("a deleted message with text was added")
	}

	// Everything survives a reopen, sealed: the deleted text is gone and
	// the extras are not in the clear.
	s2 := reopenSealed(t, s, path, key, "second draft", "PEER-SECRET", "❤️", "👍", `"re"`)
	msgs, err := s2.Messages(rk)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("after reopen: %+v, %v", msgs, err)
	}
	a, b := msgs[0], msgs[1]
	if a.Text != "second draft" || !a.Edited || a.Deleted {
		t.Errorf("a after reopen: %+v", a)
	}
	if b.Text != "" || !b.Deleted || b.ReplyTo != "a" || b.MyReaction != "❤️" || b.PeerReaction != "👍" {
		t.Errorf("b after reopen: %+v", b)
	}
	if m, ok, err := s2.Message(rk, "a"); err != nil || !ok || m != a {
		t.Errorf("Message(a) = %+v, %t, %v", m, ok, err)
	}
	if _, ok, err := s2.Message(rk, "zz"); err != nil || ok {
		t.Errorf("Message(unknown) = %t, %v", ok, err)
	}
}
