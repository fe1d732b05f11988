package session

import (
	"fmt"
	"log/slog"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/chat"
	"github.com/parley-chat/parley/app/history"
)

// FuzzPeerOps applies a hostile peer's sequence of operations (any kind,
// target and id, ids repeated) to a room with one message of ours and one
// of theirs, then the whole sequence again in reverse order: copies of
// older operations arriving late.
// Our message is never edited or deleted by the peer, a deleted message
// keeps no text and never comes back, and the replay changes nothing:
// every operation id is applied at most once.
func FuzzPeerOps(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 0, 1, 0, 2})             // two edits of theirs
	f.Add([]byte{2, 1, 1, 1, 2, 1, 0, 2})             // react, unreact
	f.Add([]byte{0, 1, 0, 1, 1, 1, 0, 2, 0, 1, 0, 3}) // edit, delete, edit after delete
	f.Add([]byte{2, 0, 1, 1, 2, 0, 0, 2, 2, 0, 1, 1}) // react, unreact, the first again
	f.Add([]byte{0, 0, 0, 1, 1, 0, 0, 2, 2, 2, 3, 3}) // ours, ours, a missing message
	h := newParticipant(f).hist
	var rooms atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4*64 {
			return
		}
		id := fmt.Sprintf("fuzz%d", rooms.Add(1))
		if err := h.PutRoom(history.Room{ID: id, Server: opsServer, Link: opsServer + "/r/" + id + "#x", CreatedAt: time.Now(), LastActive: time.Now()}); err != nil {
			t.Fatal(err)
		}
		s := &Session{cfg: Config{History: h}, key: history.RoomKey(opsServer, id), log: slog.New(slog.DiscardHandler)}
		for _, m := range []history.Message{
			{ID: "mine", RoomKey: s.key, Outgoing: true, Text: "my words", SentAt: time.Now(), State: history.StateDelivered},
			{ID: "theirs", RoomKey: s.key, Text: "their words", SentAt: time.Now()},
		} {
			if _, err := h.AddMessage(m); err != nil {
				t.Fatal(err)
			}
		}
		kinds := []string{chat.OpEdit, chat.OpDelete, chat.OpReact, "pin"}
		targets := []string{"mine", "theirs", "missing"}
		emoji := append([]string{""}, chat.Reactions...)
		var ops []chat.Message
		for i := 0; i+4 <= len(data); i += 4 {
			ops = append(ops, chat.Message{
				ID:    fmt.Sprintf("op%d", data[i+3]%8),
				Op:    kinds[int(data[i])%len(kinds)],
				Of:    targets[int(data[i+1])%len(targets)],
				Emoji: emoji[int(data[i+2])%len(emoji)],
				Text:  fmt.Sprintf("text %d", i),
			})
		}
		apply := func(reverse bool) []history.Message {
			for i := range ops {
				op := ops[i]
				if reverse {
					op = ops[len(ops)-1-i]
				}
				if _, err := s.applyPeerOp(op); err != nil {
					t.Fatalf("%+v: %v", op, err)
				}
			}
			msgs, err := h.Messages(s.key)
			if err != nil {
				t.Fatal(err)
			}
			return msgs
		}
		once := apply(false)
		for _, m := range once {
			if m.ID == "mine" && (m.Text != "my words" || m.Edited || m.Deleted) {
				t.Fatalf("the peer changed our message: %+v", m)
			}
			if m.Deleted && (m.Text != "" || m.PeerReaction != "" || m.MyReaction != "") {
				t.Fatalf("a deleted message keeps %+v", m)
			}
		}
		// Copies arrive late and out of order; none may change anything.
		if twice := apply(true); !reflect.DeepEqual(once, twice) {
			t.Fatalf("the resent operations changed the room:\n%+v\n%+v", once, twice)
		}
	})
}
