package app

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/history"
)

// TestLongRoomPages: a room opens with its newest page only, and the
// window pages back, forward, around a message and through a search.
func TestLongRoomPages(t *testing.T) {
	t.Parallel()
	u, v, p := userWithRoom(t, true)
	const n = 4*PageSize + 30 // 230: 150 (the search hit) has a page on both sides
	start := time.Now().Add(-time.Hour)
	for i := range n {
		text := fmt.Sprintf("message %d", i)
		if i == 150 {
			text = "the Blue door"
		}
		m := history.Message{ID: fmt.Sprintf("m%04d", i), RoomKey: v.ID, Text: text, SentAt: start.Add(time.Duration(i) * time.Second)}
		if _, err := p.History.AddMessage(m); err != nil {
			t.Fatal(err)
		}
	}

	view, err := u.Room(v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Messages) != PageSize || !view.Older || view.Messages[PageSize-1].ID != fmt.Sprintf("m%04d", n-1) {
		t.Fatalf("view has %d messages (older %t), newest %q", len(view.Messages), view.Older, view.Messages[len(view.Messages)-1].ID)
	}
	older, err := u.OlderMessages(v.ID, view.Messages[0].ID)
	if err != nil || len(older.Messages) != PageSize || !older.Older || !older.Newer {
		t.Fatalf("older page: %d messages %+v, %v", len(older.Messages), older.Older, err)
	}
	first := older
	for first.Older {
		if first, err = u.OlderMessages(v.ID, first.Messages[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	if len(first.Messages) != 30 || first.Messages[0].ID != "m0000" {
		t.Fatalf("oldest page: %d messages from %s", len(first.Messages), first.Messages[0].ID)
	}
	newer, err := u.NewerMessages(v.ID, "m0029")
	if err != nil || len(newer.Messages) != PageSize || newer.Messages[0].ID != "m0030" || !newer.Newer {
		t.Fatalf("newer page: %d messages, %v", len(newer.Messages), err)
	}

	found, err := u.SearchMessages(v.ID, "blue DOOR", "")
	if err != nil || len(found.Matches) != 1 || found.Matches[0].ID != "m0150" || found.Next != "" {
		t.Fatalf("search: %+v, %v", found, err)
	}
	around, err := u.MessagesAround(v.ID, "m0150")
	if err != nil || len(around.Messages) != PageSize || !around.Older || !around.Newer {
		t.Fatalf("around: %d messages older %t newer %t, %v", len(around.Messages), around.Older, around.Newer, err)
	}
	if around.Messages[PageSize/2].ID != "m0150" {
		t.Errorf("around: middle is %q, want m0042", around.Messages[PageSize/2].ID)
	}

	for name, err := range map[string]error{
		"unknown before": func() error { _, err := u.OlderMessages(v.ID, "gone"); return err }(),
		"empty search":   func() error { _, err := u.SearchMessages(v.ID, "", ""); return err }(),
	} {
		if codeOf(err) != CodeBadRequest {
			t.Errorf("%s: %v, want BAD_REQUEST", name, err)
		}
	}
	if _, err := u.OlderMessages("no-such-room", ""); codeOf(err) != "ROOM_NOT_FOUND" {
		t.Errorf("unknown room: %v", err)
	}
}
