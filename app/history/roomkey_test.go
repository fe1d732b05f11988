package history

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestSameRoomIDOnTwoServers: the same room id on another server is
// another room. An impostor link (same id, a hostile server) must find
// nothing of the stored conversation: not its link, its peer key nor its
// messages, and writing it must not touch the first room.
func TestSameRoomIDOnTwoServers(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	const id = "V1StGXR8_Z5jdHi6B-myT"
	good, evil := "https://signal.example", "https://evil.example"
	if RoomKey(good, id) == RoomKey(evil, id) {
		t.Fatal("two servers give the same room key")
	}
	for _, spelling := range []string{"https://SIGNAL.example", "https://signal.example/", " https://signal.example"} {
		if RoomKey(spelling, id) != RoomKey(good, id) {
			t.Errorf("RoomKey(%q) differs from RoomKey(%q)", spelling, good)
		}
	}
	a := Room{ID: id, Server: good, Link: good + "/r/" + id + "#a", CreatedAt: base, LastActive: base, PeerKey: bytes.Repeat([]byte{1}, 32)}
	mustPutRoom(t, s, a)
	ka := RoomKey(good, id)
	mustAdd(t, s, Message{ID: "m1", RoomKey: ka, Outgoing: true, Text: "for the real peer", SentAt: base, State: StateSent})

	kb := RoomKey(evil, id)
	if _, ok, err := s.Room(kb); ok || err != nil {
		t.Fatalf("impostor room exists before it was stored: ok=%t err=%v", ok, err)
	}
	mustPutRoom(t, s, Room{ID: id, Server: evil, Link: evil + "/r/" + id + "#b", CreatedAt: base, LastActive: base.Add(time.Minute)})
	if ids := messageIDs(t, s, kb); len(ids) != 0 {
		t.Fatalf("impostor room sees messages %v", ids)
	}
	got, ok, err := s.Room(ka)
	if err != nil || !ok || got.Link != a.Link || got.Server != good || !bytes.Equal(got.PeerKey, a.PeerKey) || got.Key != ka || got.ID != id {
		t.Fatalf("first room after the impostor was stored: ok=%t err=%v %+v", ok, err, got)
	}
	if ids := messageIDs(t, s, ka); !slices.Equal(ids, []string{"m1"}) {
		t.Fatalf("first room's messages = %v", ids)
	}
	rooms, err := s.Rooms()
	if err != nil || len(rooms) != 2 || rooms[0].Key != kb || rooms[1].Key != ka {
		t.Fatalf("Rooms = %+v, %v; want both, newest first", rooms, err)
	}
	// A record copied to the other room's key does not decrypt there.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRooms)
		return b.Put([]byte(kb), append([]byte(nil), b.Get([]byte(ka))...))
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Room(kb); err == nil {
		t.Fatal("a room record moved to another server's key decrypted")
	}
}

// TestRoomKeyShape: the key starts with the room id, hides the server,
// and fits the store's limits.
func TestRoomKeyShape(t *testing.T) {
	t.Parallel()
	k := RoomKey("https://secret-server.example", "V1StGXR8_Z5jdHi6B-myT")
	if !strings.HasPrefix(k, "V1StGXR8_Z5jdHi6B-myT.") || strings.Contains(k, "secret") || len(k) != 21+1+20 {
		t.Fatalf("RoomKey = %q", k)
	}
	if err := checkKey(RoomKey("https://a.example", strings.Repeat("x", MaxIDBytes))); err != nil {
		t.Fatalf("key of the longest room id refused: %v", err)
	}
}

// format1Room is a room as Parley wrote it before room keys.
type format1Room struct {
	id, server, link string
	peerKey          []byte
	msgs             []Message
}

// writeFormat1 writes a history file the way format 1 did: rooms and
// message buckets keyed by the room id, values sealed for the room id.
func writeFormat1(t *testing.T, path string, key []byte, rooms []format1Room) {
	t.Helper()
	seal, err := newSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		rb, _ := tx.CreateBucket(bucketRooms)
		mb, _ := tx.CreateBucket(bucketMessages)
		check, err := seal.seal([]byte(keyCheckPlain), keyKeyCheck)
		if err != nil {
			return err
		}
		if err := meta.Put(keyFormat, []byte("1")); err != nil {
			return err
		}
		if err := meta.Put(keyKeyCheck, check); err != nil {
			return err
		}
		for _, r := range rooms {
			// Format 1's sealed room fields had no id.
			plain, _ := json.Marshal(map[string]any{"server": r.server, "link": r.link, "peerKey": r.peerKey, "preview": "p"})
			sealed, err := seal.seal(plain, roomAD(r.id))
			if err != nil {
				return err
			}
			rec, _ := json.Marshal(roomRecord{CreatedAt: base, LastActive: base, Sealed: sealed})
			if err := rb.Put([]byte(r.id), rec); err != nil {
				return err
			}
			if len(r.msgs) == 0 {
				continue
			}
			room, _ := mb.CreateBucket([]byte(r.id))
			seqs, _ := room.CreateBucket(bucketSeq)
			ids, _ := room.CreateBucket(bucketIDs)
			for _, m := range r.msgs {
				body, err := seal.seal([]byte(m.Text), msgAD(r.id, m.ID))
				if err != nil {
					return err
				}
				b, _ := json.Marshal(msgRecord{ID: m.ID, Outgoing: m.Outgoing, SentAt: m.SentAt, State: m.State, Sealed: body})
				n, _ := seqs.NextSequence()
				var k [8]byte
				binary.BigEndian.PutUint64(k[:], n)
				if err := seqs.Put(k[:], b); err != nil {
					return err
				}
				if err := ids.Put([]byte(m.ID), k[:]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrateFormat1 opens a file written in the old layout: every room
// moves to the key of its stored server (or, when it stored none, of its
// link's server), keeps its messages, their order, states and pinned peer
// key, and new messages follow the old ones.
func TestMigrateFormat1(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	key := newKey(t)
	peer := bytes.Repeat([]byte{7}, 32)
	writeFormat1(t, path, key, []format1Room{
		{id: "room-a", server: "https://a.example", link: "https://a.example/r/room-a#s", peerKey: peer, msgs: []Message{
			{ID: "m2", Outgoing: true, Text: "undelivered", SentAt: base, State: StateSent},
			{ID: "m1", Text: "hello", SentAt: base},
		}},
		{id: "room-b", link: "http://10.0.0.2:8787/r/room-b#s"},
	})
	for round := range 2 { // the second open finds format 2 and changes nothing
		s, err := Open(path, key)
		if err != nil {
			t.Fatalf("open %d: %v", round, err)
		}
		ka := RoomKey("https://a.example", "room-a")
		a, ok, err := s.Room(ka)
		if err != nil || !ok || a.ID != "room-a" || a.Server != "https://a.example" || !bytes.Equal(a.PeerKey, peer) || round == 0 && a.LastPreview != "p" {
			t.Fatalf("open %d: room a = %+v, %t, %v", round, a, ok, err)
		}
		msgs, err := s.Messages(ka)
		if err != nil || len(msgs) != 2+round || msgs[0].ID != "m2" || msgs[0].Text != "undelivered" || msgs[0].State != StateSent || msgs[1].Text != "hello" {
			t.Fatalf("open %d: messages of a = %+v, %v", round, msgs, err)
		}
		kb := RoomKey("http://10.0.0.2:8787", "room-b")
		if b, ok, err := s.Room(kb); err != nil || !ok || b.Server != "http://10.0.0.2:8787" {
			t.Fatalf("open %d: room b = %+v, %t, %v", round, b, ok, err)
		}
		if round == 0 {
			mustAdd(t, s, Message{ID: "m3", RoomKey: ka, Text: "after", SentAt: base})
			if added, err := s.AddMessage(Message{ID: "m1", RoomKey: ka, Text: "dup", SentAt: base}); added || err != nil {
				t.Fatalf("old message id added again after migration: %t %v", added, err)
			}
		}
		if ids := messageIDs(t, s, ka); !slices.Equal(ids, []string{"m2", "m1", "m3"}) {
			t.Fatalf("open %d: order after migration = %v", round, ids)
		}
		var format string
		_ = s.db.View(func(tx *bolt.Tx) error {
			format = string(tx.Bucket(bucketMeta).Get(keyFormat))
			if tx.Bucket(bucketRooms).Get([]byte("room-a")) != nil || tx.Bucket(bucketMessages).Bucket([]byte("room-a")) != nil {
				t.Errorf("open %d: old record left under the room id", round)
			}
			return nil
		})
		if format != formatVersion {
			t.Fatalf("format after migration = %q", format)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTrustNewPeerKey: accepting a changed key pins it and retires every
// message the old key never acknowledged, for good.
func TestTrustNewPeerKey(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	old, newer := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	r := testRoom("r", base)
	r.PeerKey = old
	mustPutRoom(t, s, r)
	kr := k(s, "r")
	for _, m := range []Message{
		{ID: "sending", Outgoing: true, State: StateSending},
		{ID: "sent", Outgoing: true, State: StateSent},
		{ID: "failed", Outgoing: true, State: StateFailed},
		{ID: "delivered", Outgoing: true, State: StateDelivered},
		{ID: "incoming"},
	} {
		m.RoomKey, m.Text, m.SentAt = kr, m.ID, base
		mustAdd(t, s, m)
	}
	// Without a new key there is nothing to trust.
	if err := s.TrustNewPeerKey(kr); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Room(kr); !bytes.Equal(got.PeerKey, old) {
		t.Fatal("TrustNewPeerKey without a new key changed the pinned key")
	}
	if err := s.UpdateRoom(kr, func(r *Room) error { r.NewPeerKey = newer; r.Server = "https://moved.example"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.TrustNewPeerKey(kr); err != nil {
		t.Fatal(err)
	}
	got, _, _ := s.Room(kr)
	if !bytes.Equal(got.PeerKey, newer) || got.NewPeerKey != nil || got.Server != testServer {
		t.Fatalf("after trust: %+v", got)
	}
	want := map[string]State{"sending": StateUndelivered, "sent": StateUndelivered, "failed": StateUndelivered, "delivered": StateDelivered, "incoming": ""}
	msgs, _ := s.Messages(kr)
	for _, m := range msgs {
		if m.State != want[m.ID] {
			t.Errorf("%s: state %q, want %q", m.ID, m.State, want[m.ID])
		}
	}
	// Undelivered is final.
	if err := s.SetState(kr, "sent", StateSent); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := s.Messages(kr); msgs[1].State != StateUndelivered {
		t.Fatalf("undelivered became %q", msgs[1].State)
	}
}
