package app

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/identity"
)

// TestKeyChangeAndEndedViews: what the window is told about a room whose
// peer key changed (both safety numbers, TrustNewKey) and about a room the
// server ended without confirmation (ended, history kept).
func TestKeyChangeAndEndedViews(t *testing.T) {
	t.Parallel()
	u, v, p := userWithRoom(t, true)
	if _, err := u.TrustNewKey(v.ID); codeOf(err) != CodeBadRequest {
		t.Fatalf("TrustNewKey without a changed key = %v", err)
	}

	old, changed := bytes.Repeat([]byte{1}, ed25519.PublicKeySize), bytes.Repeat([]byte{2}, ed25519.PublicKeySize)
	if err := p.History.UpdateRoom(v.ID, func(r *history.Room) error {
		r.PeerKey, r.NewPeerKey, r.Ended = old, changed, "ROOM_DESTROYED"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.History.AddMessage(history.Message{ID: "m1", RoomKey: v.ID, Outgoing: true, Text: "to the old key", SentAt: time.Now(), State: history.StateSent}); err != nil {
		t.Fatal(err)
	}
	me := p.Identity.PublicKey()
	got, err := u.Room(v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.KeyChange == nil || got.KeyChange.OldSafetyNumber != identity.SafetyNumber(me, old) ||
		got.KeyChange.NewSafetyNumber != identity.SafetyNumber(me, changed) || !got.KeyChanged || got.Ended != "ROOM_DESTROYED" {
		t.Fatalf("view of a changed key / ended room: %+v", got)
	}
	rooms, err := u.Rooms()
	if err != nil || len(rooms) != 1 || !rooms[0].KeyChanged || rooms[0].Ended != "ROOM_DESTROYED" {
		t.Fatalf("summaries: %+v, %v", rooms, err)
	}

	// Verify: the new key is trusted, the room joins again (and is no
	// longer ended), and the old key's message stays unsent.
	tv, err := u.TrustNewKey(v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tv.KeyChange != nil || tv.KeyChanged || tv.Ended != "" || !tv.Open {
		t.Fatalf("view after TrustNewKey: %+v", tv)
	}
	if len(tv.Messages) != 1 || tv.Messages[0].State != "failed" {
		t.Fatalf("old key's message after TrustNewKey: %+v", tv.Messages)
	}
	r, _, _ := p.History.Room(v.ID)
	if !bytes.Equal(r.PeerKey, changed) || r.NewPeerKey != nil {
		t.Fatalf("pinned key after TrustNewKey: %x (new %x)", r.PeerKey, r.NewPeerKey)
	}
	msgs, _ := p.History.Messages(v.ID)
	if msgs[0].State != history.StateUndelivered {
		t.Fatalf("stored state %q, want undelivered", msgs[0].State)
	}
}
