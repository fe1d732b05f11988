package history

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// pagedRoom is a room with n messages m000…; every seventh says "Needle".
func pagedRoom(t testing.TB, s *Store, n int) string {
	r := testRoom("paged", base)
	if err := s.PutRoom(r); err != nil {
		t.Fatal(err)
	}
	key := k(s, r.ID)
	msgs := make([]Message, n)
	for i := range msgs {
		text := fmt.Sprintf("line %d of a long conversation", i)
		if i%7 == 0 {
			text = fmt.Sprintf("a NEEDLE in line %d", i)
		}
		msgs[i] = Message{ID: fmt.Sprintf("m%06d", i), RoomKey: key, Text: text, SentAt: base.Add(time.Duration(i) * time.Second)}
	}
	for chunk := range slices.Chunk(msgs, MaxBatch) {
		if n, err := s.AddMessages(chunk); err != nil || n != len(chunk) {
			t.Fatalf("AddMessages: %d, %v", n, err)
		}
	}
	return key
}

func ids(ms []Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func span(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("m%06d", i))
	}
	return out
}

func TestPages(t *testing.T) {
	s, _, _ := newStore(t)
	key := pagedRoom(t, s, 20)
	cases := []struct {
		name         string
		call         func() (Page, error)
		want         []string
		older, newer bool
	}{
		{"newest", func() (Page, error) { return s.MessagesBefore(key, "", 5) }, span(15, 20), true, false},
		{"before", func() (Page, error) { return s.MessagesBefore(key, "m000015", 5) }, span(10, 15), true, true},
		{"before reaches the start", func() (Page, error) { return s.MessagesBefore(key, "m000003", 5) }, span(0, 3), false, true},
		{"before the first", func() (Page, error) { return s.MessagesBefore(key, "m000000", 5) }, nil, false, true},
		{"all fit", func() (Page, error) { return s.MessagesBefore(key, "", 100) }, span(0, 20), false, false},
		{"limit is at least one", func() (Page, error) { return s.MessagesBefore(key, "", -3) }, span(19, 20), true, false},
		{"after", func() (Page, error) { return s.MessagesAfter(key, "m000004", 5) }, span(5, 10), true, true},
		{"after reaches the end", func() (Page, error) { return s.MessagesAfter(key, "m000016", 5) }, span(17, 20), true, false},
		{"after the last", func() (Page, error) { return s.MessagesAfter(key, "m000019", 5) }, nil, true, false},
		{"around the middle", func() (Page, error) { return s.MessagesAround(key, "m000010", 6) }, span(7, 13), true, true},
		{"around the first", func() (Page, error) { return s.MessagesAround(key, "m000000", 6) }, span(0, 6), false, true},
		{"around the last", func() (Page, error) { return s.MessagesAround(key, "m000019", 6) }, span(14, 20), true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := c.call()
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(p.Messages); !slices.Equal(got, c.want) && (len(got) != 0 || len(c.want) != 0) {
				t.Errorf("ids = %v, want %v", got, c.want)
			}
			if p.Messages == nil {
				t.Error("Messages is nil, want empty (the UI reads it as a list)")
			}
			if p.Older != c.older || p.Newer != c.newer {
				t.Errorf("older/newer = %t/%t, want %t/%t", p.Older, p.Newer, c.older, c.newer)
			}
		})
	}
}

func TestPagesOfEmptyAndUnknown(t *testing.T) {
	s, _, _ := newStore(t)
	mustPutRoom(t, s, testRoom("empty", base))
	empty := k(s, "empty")
	p, err := s.MessagesBefore(empty, "", 10)
	if err != nil || len(p.Messages) != 0 || p.Older || p.Newer {
		t.Errorf("empty room: %+v, %v", p, err)
	}
	key := pagedRoom(t, s, 3)
	for name, call := range map[string]func() error{
		"unknown room":   func() error { _, err := s.MessagesBefore(k(s, "nope"), "", 5); return err },
		"unknown before": func() error { _, err := s.MessagesBefore(key, "zzz", 5); return err },
		"unknown after":  func() error { _, err := s.MessagesAfter(key, "zzz", 5); return err },
		"unknown around": func() error { _, err := s.MessagesAround(key, "zzz", 5); return err },
		"before in empty room": func() error {
			_, err := s.MessagesBefore(empty, "m000001", 5)
			return err
		},
	} {
		err := call()
		if !errors.Is(err, ErrRoomNotFound) && !errors.Is(err, ErrMessageNotFound) {
			t.Errorf("%s: err = %v, want not found", name, err)
		}
	}
	if _, err := s.MessagesBefore(key, strings.Repeat("x", MaxIDBytes+1), 5); err == nil {
		t.Error("an oversized id was accepted")
	}
}

func TestSearch(t *testing.T) {
	s, _, _ := newStore(t)
	key := pagedRoom(t, s, 30) // needles at 0, 7, 14, 21, 28
	if _, err := s.UpdateMessage(key, "m000014", func(m *Message) error { m.Deleted, m.Text = true, ""; return nil }); err != nil {
		t.Fatal(err)
	}
	p, err := s.Search(key, "needle", "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p.Matches); !slices.Equal(got, []string{"m000028", "m000021"}) || p.Next == "" {
		t.Fatalf("first page = %v next %q", got, p.Next)
	}
	p, err = s.Search(key, "NeEdLe", p.Next, 10)
	if err != nil {
		t.Fatal(err)
	}
	// The deleted message keeps no text, so it is no match.
	if got := ids(p.Matches); !slices.Equal(got, []string{"m000007", "m000000"}) || p.Next != "" {
		t.Fatalf("second page = %v next %q", got, p.Next)
	}
	for _, q := range []string{"", strings.Repeat("q", MaxQueryBytes+1)} {
		if _, err := s.Search(key, q, "", 5); !errors.Is(err, ErrBadQuery) {
			t.Errorf("query of %d bytes: err = %v", len(q), err)
		}
	}
}

func TestSearchStopsAfterItsBudget(t *testing.T) {
	s, _, _ := newStore(t)
	key := pagedRoom(t, s, searchScanBudget+50)
	p, err := s.Search(key, "no such words", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Matches) != 0 || p.Scanned != searchScanBudget || p.Next == "" {
		t.Fatalf("scanned %d, next %q, matches %d", p.Scanned, p.Next, len(p.Matches))
	}
	p, err = s.Search(key, "no such words", p.Next, 10)
	if err != nil || p.Next != "" || p.Scanned != 50 {
		t.Fatalf("rest: scanned %d, next %q, %v", p.Scanned, p.Next, err)
	}
}

// BenchmarkOpenLongRoom is what opening a room with 100,000 messages
// costs in the store: the newest page (make bench-history).
func BenchmarkOpenLongRoom(b *testing.B) {
	s, key := benchStore(b)
	b.Run("newest-page-50", func(b *testing.B) {
		for b.Loop() {
			if p, err := s.MessagesBefore(key, "", 50); err != nil || len(p.Messages) != 50 {
				b.Fatal(err)
			}
		}
	})
	b.Run("older-page-50-deep", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.MessagesBefore(key, "m050000", 50); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("whole-history", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Messages(key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("search-first-page", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Search(key, "needle in line 3", "", 50); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchStore(b *testing.B) (*Store, string) {
	b.Helper()
	path := b.TempDir() + "/history.db"
	key := make([]byte, KeySize)
	s, err := Open(path, key)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s, pagedRoom(b, s, 100_000)
}

func TestAddMessages(t *testing.T) {
	s, _, _ := newStore(t)
	mustPutRoom(t, s, testRoom("bulk", base))
	key := k(s, "bulk")
	mustAdd(t, s, Message{ID: "m000001", RoomKey: key, Text: "already here", SentAt: base})
	batch := []Message{
		{ID: "m000000", RoomKey: key, Text: "first", SentAt: base},
		{ID: "m000001", RoomKey: key, Text: "a repeat is skipped", SentAt: base},
		{ID: "m000002", RoomKey: key, Text: "last", SentAt: base.Add(time.Minute)},
		{ID: "m000002", RoomKey: key, Text: "repeated in the batch", SentAt: base},
	}
	n, err := s.AddMessages(batch)
	if err != nil || n != 2 {
		t.Fatalf("AddMessages = %d, %v; want 2 added", n, err)
	}
	if got := messageIDs(t, s, key); !slices.Equal(got, []string{"m000001", "m000000", "m000002"}) {
		t.Errorf("stored %v", got)
	}
	r, _, _ := s.Room(key)
	if r.LastPreview != "last" || !r.LastActive.Equal(base.Add(time.Minute)) {
		t.Errorf("room after the batch: preview %q, active %v", r.LastPreview, r.LastActive)
	}

	mustPutRoom(t, s, testRoom("other", base))
	for name, bad := range map[string][]Message{
		"two rooms":    {{ID: "x1", RoomKey: key, Text: "a", SentAt: base}, {ID: "x2", RoomKey: k(s, "other"), Text: "b", SentAt: base}},
		"unknown room": {{ID: "x1", RoomKey: k(s, "nope"), Text: "a", SentAt: base}},
		"bad message":  {{ID: "x1", RoomKey: key, Text: "fine", SentAt: base}, {ID: "", RoomKey: key, Text: "no id", SentAt: base}},
		"too many":     make([]Message, MaxBatch+1),
	} {
		if n, err := s.AddMessages(bad); err == nil || n != 0 {
			t.Errorf("%s: added %d, err %v; want refused", name, n, err)
		}
	}
	// Nothing of a refused batch was stored.
	if got := messageIDs(t, s, key); len(got) != 3 {
		t.Errorf("after refused batches: %v", got)
	}
}
