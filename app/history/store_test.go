package history

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// newStore opens a fresh store in a temporary directory and closes it when
// the test ends.
func newStore(t *testing.T) (*Store, string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "profile", "history.db")
	key := newKey(t)
	s, err := Open(path, key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, path, key
}

// base is a fixed instant, so expectations do not depend on the clock.
var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testServer is the server of testRoom's rooms.
const testServer = "https://signal.example"

// k is the key of testRoom(id) in s.
func k(s *Store, id string) string { return RoomKey(testServer, id) }

func testRoom(id string, active time.Time) Room {
	return Room{
		ID: id, Server: testServer, Link: "https://signal.example/r/" + id + "#s3cret-" + id,
		CreatedAt: base, LastActive: active,
	}
}

func mustPutRoom(t *testing.T, s *Store, r Room) {
	t.Helper()
	if err := s.PutRoom(r); err != nil {
		t.Fatalf("PutRoom: %v", err)
	}
}

func mustAdd(t *testing.T, s *Store, m Message) {
	t.Helper()
	added, err := s.AddMessage(m)
	if err != nil || !added {
		t.Fatalf("AddMessage(%s) = %t, %v", m.ID, added, err)
	}
}

func messageIDs(t *testing.T, s *Store, roomKey string) []string {
	t.Helper()
	msgs, err := s.Messages(roomKey)
	if err != nil {
		t.Fatalf("Messages: %v", err)
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return ids
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	t.Parallel()
	_, path, _ := newStore(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode %o, want 600", perm)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if perm := di.Mode().Perm(); perm != 0o700 {
		t.Errorf("dir mode %o, want 700", perm)
	}
}

func TestRooms(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	exp := base.Add(time.Hour)
	peer := bytes.Repeat([]byte{7}, 32)
	a := testRoom("room-a", base.Add(1*time.Minute))
	a.Name, a.ExpiresAt, a.PeerKey, a.LastPreview, a.Ticket = "Alice", &exp, peer, "hi", "AQID-ticket"
	b := testRoom("room-b", base.Add(3*time.Minute))
	c := testRoom("room-c", base.Add(2*time.Minute))
	for _, r := range []Room{a, b, c} {
		mustPutRoom(t, s, r)
	}

	got, ok, err := s.Room(k(s, "room-a"))
	if err != nil || !ok {
		t.Fatalf("Room = %v, %v", ok, err)
	}
	if got.Name != "Alice" || got.Link != a.Link || got.Server != a.Server || got.LastPreview != "hi" ||
		!got.CreatedAt.Equal(base) || !got.LastActive.Equal(a.LastActive) ||
		got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) || !bytes.Equal(got.PeerKey, peer) || got.Ticket != "AQID-ticket" {
		t.Fatalf("Room round trip: got %+v, want %+v", got, a)
	}
	if _, ok, err := s.Room(k(s, "nope")); ok || err != nil {
		t.Fatalf("unknown room: ok=%t err=%v", ok, err)
	}

	rooms, err := s.Rooms()
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range rooms {
		order = append(order, r.ID)
	}
	if strings.Join(order, ",") != "room-b,room-c,room-a" {
		t.Fatalf("Rooms order = %v, want most recently active first", order)
	}

	if err := s.Rename(k(s, "room-a"), "Alice (work)"); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Room(k(s, "room-a")); got.Name != "Alice (work)" || got.Link != a.Link {
		t.Fatalf("after Rename: %+v", got)
	}
	if err := s.Rename(k(s, "nope"), "x"); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("Rename unknown: %v", err)
	}

	// PutRoom overwrites every field.
	a2 := testRoom("room-a", base)
	mustPutRoom(t, s, a2)
	if got, _, _ := s.Room(k(s, "room-a")); got.Name != "" || got.ExpiresAt != nil || got.PeerKey != nil {
		t.Fatalf("PutRoom did not overwrite: %+v", got)
	}
}

func TestPutRoomRejects(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	tests := []struct {
		name string
		mod  func(*Room)
	}{
		{"empty id", func(r *Room) { r.ID = "" }},
		{"id with space", func(r *Room) { r.ID = "a b" }},
		{"id with NUL", func(r *Room) { r.ID = "a\x00b" }},
		{"long id", func(r *Room) { r.ID = strings.Repeat("a", MaxIDBytes+1) }},
		{"long name", func(r *Room) { r.Name = strings.Repeat("n", MaxNameBytes+1) }},
		{"long link", func(r *Room) { r.Link = strings.Repeat("l", MaxLinkBytes+1) }},
		{"bad utf-8 name", func(r *Room) { r.Name = "\xff" }},
		{"short peer key", func(r *Room) { r.PeerKey = []byte{1, 2, 3} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := testRoom("room", base)
			tt.mod(&r)
			if err := s.PutRoom(r); err == nil {
				t.Fatal("PutRoom accepted bad input")
			}
		})
	}
	if rooms, _ := s.Rooms(); len(rooms) != 0 {
		t.Fatalf("rejected rooms were stored: %v", rooms)
	}
}

func TestAddMessage(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	now := base.Add(time.Hour)
	s.now = func() time.Time { return now }
	mustPutRoom(t, s, testRoom("r", base))

	m := Message{ID: "m1", RoomKey: k(s, "r"), Outgoing: true, Text: "hello\nthere", SentAt: base.Add(time.Minute), State: StateSending}
	mustAdd(t, s, m)
	dup := m
	dup.Text, dup.State = "changed", StateSent
	if added, err := s.AddMessage(dup); added || err != nil {
		t.Fatalf("duplicate AddMessage = %t, %v; want false, nil", added, err)
	}
	msgs, err := s.Messages(k(s, "r"))
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Messages = %v, %v", msgs, err)
	}
	got := msgs[0]
	if got.ID != "m1" || got.RoomKey != k(s, "r") || !got.Outgoing || got.Text != "hello\nthere" ||
		!got.SentAt.Equal(m.SentAt) || got.State != StateSending {
		t.Fatalf("message round trip: got %+v, want %+v", got, m)
	}
	r, _, _ := s.Room(k(s, "r"))
	if r.LastPreview != "hello there" || !r.LastActive.Equal(m.SentAt) {
		t.Fatalf("room after add: preview %q, active %v", r.LastPreview, r.LastActive)
	}

	// An older message still becomes the preview (it is the newest added) but
	// does not move LastActive back.
	mustAdd(t, s, Message{ID: "m0", RoomKey: k(s, "r"), Text: "late", SentAt: base})
	r, _, _ = s.Room(k(s, "r"))
	if r.LastPreview != "late" || !r.LastActive.Equal(m.SentAt) {
		t.Fatalf("after late message: preview %q, active %v", r.LastPreview, r.LastActive)
	}
	// A message from a peer whose clock runs fast moves LastActive to now only.
	mustAdd(t, s, Message{ID: "m2", RoomKey: k(s, "r"), Text: "future", SentAt: base.Add(48 * time.Hour)})
	r, _, _ = s.Room(k(s, "r"))
	if !r.LastActive.Equal(now) {
		t.Fatalf("LastActive = %v, want capped at %v", r.LastActive, now)
	}
	// The same message id in another room is another message.
	mustPutRoom(t, s, testRoom("other", base))
	mustAdd(t, s, Message{ID: "m1", RoomKey: k(s, "other"), Text: "x", SentAt: base})
}

func TestAddMessageRejects(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	mustPutRoom(t, s, testRoom("r", base))
	ok := Message{ID: "m", RoomKey: k(s, "r"), Text: "x", SentAt: base}
	tests := []struct {
		name    string
		mod     func(*Message)
		wantErr error
	}{
		{"empty room id", func(m *Message) { m.RoomKey = "" }, nil},
		{"empty message id", func(m *Message) { m.ID = "" }, nil},
		{"control char id", func(m *Message) { m.ID = "a\nb" }, nil},
		{"text over 64 KiB", func(m *Message) { m.Text = strings.Repeat("x", MaxTextBytes+1) }, nil},
		{"text far over", func(m *Message) { m.Text = strings.Repeat("x", 1<<20) }, nil},
		{"invalid utf-8", func(m *Message) { m.Text = "ok\xc3" }, nil},
		{"unknown state", func(m *Message) { m.State = "read" }, nil},
		{"unknown room", func(m *Message) { m.RoomKey = k(s, "ghost") }, ErrRoomNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := ok
			tt.mod(&m)
			added, err := s.AddMessage(m)
			if err == nil || added {
				t.Fatalf("AddMessage = %t, %v; want an error", added, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
		})
	}
	// Exactly the limit is fine.
	m := ok
	m.Text = strings.Repeat("x", MaxTextBytes)
	mustAdd(t, s, m)
}

func TestMessagesInsertionOrder(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	mustPutRoom(t, s, testRoom("r", base))
	// Insertion order wins over SentAt and over id order.
	want := []string{"zz", "aa", "mm", "b", "c10", "c9"}
	for i, id := range want {
		mustAdd(t, s, Message{ID: id, RoomKey: k(s, "r"), Text: id, SentAt: base.Add(-time.Duration(i) * time.Minute)})
	}
	if got := messageIDs(t, s, k(s, "r")); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("order = %v, want %v", got, want)
	}
	if _, err := s.Messages(k(s, "ghost")); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("Messages of unknown room: %v", err)
	}
	mustPutRoom(t, s, testRoom("empty", base))
	if msgs, err := s.Messages(k(s, "empty")); err != nil || msgs == nil || len(msgs) != 0 {
		t.Fatalf("Messages of empty room = %#v, %v; want empty non-nil", msgs, err)
	}
}

func TestSetState(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	mustPutRoom(t, s, testRoom("r", base))
	mustAdd(t, s, Message{ID: "m", RoomKey: k(s, "r"), Outgoing: true, Text: "x", SentAt: base, State: StateSending})
	state := func() State {
		msgs, err := s.Messages(k(s, "r"))
		if err != nil {
			t.Fatal(err)
		}
		return msgs[0].State
	}
	steps := []struct {
		set, want State
	}{
		{StateFailed, StateFailed},
		{StateSending, StateSending}, // retry
		{StateSent, StateSent},
		{StateDelivered, StateDelivered},
		{StateSent, StateDelivered}, // late send confirmation after the ack
		{StateFailed, StateDelivered},
	}
	for _, st := range steps {
		if err := s.SetState(k(s, "r"), "m", st.set); err != nil {
			t.Fatalf("SetState(%s): %v", st.set, err)
		}
		if got := state(); got != st.want {
			t.Fatalf("after SetState(%s): %s, want %s", st.set, got, st.want)
		}
	}
	if msgs, _ := s.Messages(k(s, "r")); msgs[0].Text != "x" {
		t.Fatal("SetState damaged the text")
	}
	errTests := []struct {
		room, msg string
		st        State
		want      error
	}{
		{"r", "nope", StateSent, ErrMessageNotFound},
		{"ghost", "m", StateSent, ErrRoomNotFound},
		{"r", "m", "", nil},
		{"r", "m", "bogus", nil},
		{"", "m", StateSent, nil},
	}
	for _, tt := range errTests {
		err := s.SetState(k(s, tt.room), tt.msg, tt.st)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("SetState(%q, %q, %q) = %v, want %v", tt.room, tt.msg, tt.st, err, tt.want)
		}
	}
}

func TestClearAndForgetIsolation(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	for _, id := range []string{"a", "b"} {
		mustPutRoom(t, s, testRoom(id, base))
		for i := range 3 {
			mustAdd(t, s, Message{ID: fmt.Sprint(i), RoomKey: k(s, id), Text: id + fmt.Sprint(i), SentAt: base})
		}
	}

	if err := s.ClearMessages(k(s, "a")); err != nil {
		t.Fatal(err)
	}
	if ids := messageIDs(t, s, k(s, "a")); len(ids) != 0 {
		t.Fatalf("room a after clear: %v", ids)
	}
	if r, ok, _ := s.Room(k(s, "a")); !ok || r.LastPreview != "" || r.Link == "" {
		t.Fatalf("room a after clear: ok=%t %+v", ok, r)
	}
	if ids := messageIDs(t, s, k(s, "b")); len(ids) != 3 {
		t.Fatalf("clearing a touched b: %v", ids)
	}
	// Cleared ids can be added again.
	mustAdd(t, s, Message{ID: "0", RoomKey: k(s, "a"), Text: "again", SentAt: base})

	if err := s.Forget(k(s, "b")); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Room(k(s, "b")); ok {
		t.Fatal("room b still there after Forget")
	}
	if _, err := s.Messages(k(s, "b")); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("Messages after Forget: %v", err)
	}
	if ids := messageIDs(t, s, k(s, "a")); len(ids) != 1 {
		t.Fatalf("forgetting b touched a: %v", ids)
	}
	if err := s.Forget(k(s, "b")); err != nil {
		t.Fatalf("Forget twice: %v", err)
	}
	// A room with the same id starts empty.
	mustPutRoom(t, s, testRoom("b", base))
	if ids := messageIDs(t, s, k(s, "b")); len(ids) != 0 {
		t.Fatalf("forgotten messages came back: %v", ids)
	}
	if err := s.ClearMessages(k(s, "ghost")); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("ClearMessages unknown: %v", err)
	}
}

// TestEncryptedAtRest looks for plaintext in the raw database file.
func TestEncryptedAtRest(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	key := newKey(t)
	s, err := Open(path, key)
	if err != nil {
		t.Fatal(err)
	}
	const (
		roomID = "RoomIdInClear"
		body   = "the eagle lands at midnight PLAINTEXT-BODY"
		secret = "ROOM-SECRET-FRAGMENT"
		name   = "SECRET-ROOM-NAME"
		server = "https://SECRET-SERVER.example"
	)
	r := testRoom(roomID, base)
	r.Link, r.Name, r.Server, r.PeerKey = "https://x/r/"+roomID+"#"+secret, name, server, bytes.Repeat([]byte("K"), 32)
	mustPutRoom(t, s, r)
	mustAdd(t, s, Message{ID: "msg-1", RoomKey: RoomKey(server, roomID), Text: body, SentAt: base})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(roomID)) {
		t.Fatal("room id not found in clear: the search itself is broken")
	}
	for _, plain := range []string{"eagle lands", "PLAINTEXT-BODY", secret, name, "SECRET-SERVER", "KKKKKKKK", "the eagle"} {
		if bytes.Contains(raw, []byte(plain)) {
			t.Errorf("%q found in clear in the database file", plain)
		}
	}

	// The right key reads it all back after reopening.
	s2, err := Open(path, key)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if msgs, err := s2.Messages(RoomKey(server, roomID)); err != nil || len(msgs) != 1 || msgs[0].Text != body {
		t.Fatalf("after reopen: %v, %v", msgs, err)
	}
	if got, _, _ := s2.Room(RoomKey(server, roomID)); got.Name != name || got.LastPreview != Preview(body) {
		t.Fatalf("room after reopen: %+v", got)
	}
}

func TestWrongKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	key := newKey(t)
	s, err := Open(path, key)
	if err != nil {
		t.Fatal(err)
	}
	mustPutRoom(t, s, testRoom("r", base))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, newKey(t)); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open with another key: %v, want ErrWrongKey", err)
	}
	for _, bad := range [][]byte{nil, make([]byte, 16), make([]byte, 33)} {
		if _, err := Open(path, bad); err == nil {
			t.Errorf("Open with a %d-byte key succeeded", len(bad))
		}
	}
	// The failed attempts released the file and changed nothing.
	s, err = Open(path, key)
	if err != nil {
		t.Fatalf("Open with the right key after failures: %v", err)
	}
	defer s.Close()
	if _, ok, err := s.Room(k(s, "r")); !ok || err != nil {
		t.Fatalf("room lost: %v", err)
	}
}

// TestRecordsBoundToTheirPlace copies one room's sealed record under another
// id: it must not decrypt there.
func TestRecordsBoundToTheirPlace(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	mustPutRoom(t, s, testRoom("a", base))
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRooms)
		return b.Put([]byte(k(s, "b")), append([]byte(nil), b.Get([]byte(k(s, "a")))...))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Room(k(s, "b")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("moved record: %v, want ErrCorrupt", err)
	}
}

func TestInUse(t *testing.T) {
	t.Parallel()
	_, path, key := newStore(t)
	start := time.Now()
	_, err := open(path, key, 100*time.Millisecond)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "in use by another Parley process") {
		t.Fatalf("second open: %v, want ErrInUse", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second open took %v", d)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	const rooms, writersPerRoom, perWriter = 3, 3, 30
	for r := range rooms {
		mustPutRoom(t, s, testRoom(fmt.Sprintf("room%d", r), base))
	}
	var wg sync.WaitGroup
	errs := make(chan error, rooms*writersPerRoom*perWriter+100)
	for r := range rooms {
		for w := range writersPerRoom {
			wg.Add(1)
			go func() {
				defer wg.Done()
				room := fmt.Sprintf("room%d", r)
				for i := range perWriter {
					// Every message is offered twice: only one copy may land.
					m := Message{ID: fmt.Sprintf("w%d-%03d", w, i), RoomKey: k(s, room), Text: "t", SentAt: base, Outgoing: true, State: StateSending}
					for range 2 {
						if _, err := s.AddMessage(m); err != nil {
							errs <- err
						}
					}
					if err := s.SetState(k(s, room), m.ID, StateSent); err != nil {
						errs <- err
					}
				}
			}()
		}
	}
	wg.Add(1)
	go func() { // a reader, like the UI refreshing
		defer wg.Done()
		for range 20 {
			if _, err := s.Rooms(); err != nil {
				errs <- err
			}
			if _, err := s.Messages(k(s, "room0")); err != nil {
				errs <- err
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for r := range rooms {
		msgs, err := s.Messages(k(s, fmt.Sprintf("room%d", r)))
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != writersPerRoom*perWriter {
			t.Fatalf("room%d has %d messages, want %d", r, len(msgs), writersPerRoom*perWriter)
		}
		last := map[string]string{} // each writer's messages stay in its order
		for _, m := range msgs {
			w := m.ID[:2]
			if m.ID <= last[w] {
				t.Fatalf("room%d: %s after %s", r, m.ID, last[w])
			}
			last[w] = m.ID
			if m.State != StateSent {
				t.Fatalf("%s state %s", m.ID, m.State)
			}
		}
	}
}

func TestPreview(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", PreviewRunes+5)
	tests := []struct{ in, want string }{
		{"", ""},
		{"hi", "hi"},
		{"  line one\n\tline two  ", "line one line two"},
		{strings.Repeat("é", PreviewRunes), strings.Repeat("é", PreviewRunes)},
		{long, strings.Repeat("é", PreviewRunes) + "…"},
	}
	for _, tt := range tests {
		if got := Preview(tt.in); got != tt.want {
			t.Errorf("Preview(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
