package server_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room/roomtest"
	"github.com/parley-chat/parley/signaling/server"
)

// joinWithTicket dials e and joins roomID presenting ticket; it returns the
// first answer (joined or error).
func joinWithTicket(t *testing.T, e *env, roomID, ticket string) (*client, protocol.Message) {
	t.Helper()
	c := e.dial(t, newKey(t))
	m := c.joinMsg(roomID, c.challenge())
	m.Ticket = ticket
	c.write(m)
	return c, c.read()
}

// A restarted server (new in-memory registry, same ticket key) brings a
// room back for a participant holding its ticket, with the same
// self-destruct time; without the key, or with a tampered ticket, the room
// stays unknown.
func TestTicketRestoresRoomAfterRestart(t *testing.T) {
	key := bytes.Repeat([]byte{7}, server.TicketKeySize)
	withKey := func(c *server.Config) { c.TicketKey = key }

	before := newEnv(t, nil, withKey)
	created := before.create(t, `{"selfDestructSeconds":3600}`)
	_, joined := before.join(t, created.RoomID, newKey(t))
	if joined.Ticket == "" || len(joined.Ticket) > protocol.MaxTicketLength {
		t.Fatalf("joined ticket %q", joined.Ticket)
	}

	after := newEnv(t, nil, withKey) // the "restarted" server: no rooms
	if _, m := joinWithTicket(t, after, created.RoomID, ""); m.Type != protocol.TypeError || m.Code != protocol.CodeRoomNotFound {
		t.Fatalf("join without ticket: %+v, want ROOM_NOT_FOUND", m)
	}
	raw, err := b64.DecodeString(joined.Ticket)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 1 // a forged tag
	forged := b64.EncodeToString(raw)
	raw[len(raw)-1] ^= 1
	raw[10] ^= 0x40 // a later self-destruct time under the old tag
	later := b64.EncodeToString(raw)
	for name, tk := range map[string]string{"forged": forged, "later": later, "garbage": "not-a-ticket", "truncated": joined.Ticket[:20]} {
		if _, m := joinWithTicket(t, after, created.RoomID, tk); m.Type != protocol.TypeError || m.Code != protocol.CodeRoomNotFound {
			t.Fatalf("%s ticket: %+v, want ROOM_NOT_FOUND", name, m)
		}
	}
	// A ticket is bound to its room id.
	other := before.create(t, "")
	if _, m := joinWithTicket(t, after, other.RoomID, joined.Ticket); m.Type != protocol.TypeError || m.Code != protocol.CodeRoomNotFound {
		t.Fatalf("ticket of another room: %+v, want ROOM_NOT_FOUND", m)
	}

	a, ja := joinWithTicket(t, after, created.RoomID, joined.Ticket)
	if ja.Type != protocol.TypeJoined {
		t.Fatalf("join with ticket: %+v", ja)
	}
	if ja.ExpiresAt == nil || created.ExpiresAt == nil || *ja.ExpiresAt != *created.ExpiresAt {
		t.Fatalf("restored self-destruct %v, want %v", ja.ExpiresAt, created.ExpiresAt)
	}
	// The peer comes back too (its ticket or none: the room is live now).
	b, jb := after.join(t, created.RoomID, newKey(t))
	if !jb.PeerOnline {
		t.Fatalf("second participant: %+v", jb)
	}
	a.expectPeer(protocol.PeerJoined, b.pub)
	// Two keys own the restored room again.
	if _, m := joinWithTicket(t, after, created.RoomID, joined.Ticket); m.Type != protocol.TypeError || m.Code != protocol.CodeRoomFull {
		t.Fatalf("third participant: %+v, want ROOM_FULL", m)
	}
	resp, body := after.do(t, "GET", "/api/rooms/"+created.RoomID, "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"connected":2`) {
		t.Fatalf("GET restored room: %d %s", resp.StatusCode, body)
	}

	// A server with another key does not honour the ticket.
	stranger := newEnv(t, nil, func(c *server.Config) { c.TicketKey = bytes.Repeat([]byte{9}, server.TicketKeySize) })
	if _, m := joinWithTicket(t, stranger, created.RoomID, joined.Ticket); m.Type != protocol.TypeError || m.Code != protocol.CodeRoomNotFound {
		t.Fatalf("other server key: %+v, want ROOM_NOT_FOUND", m)
	}
}

// A ticket cannot outlive the room's self-destruct timer, nor bring back a
// room this server knows was destroyed.
func TestTicketRespectsTimerAndTombstone(t *testing.T) {
	key := bytes.Repeat([]byte{3}, server.TicketKeySize)
	withKey := func(c *server.Config) { c.TicketKey = key }
	// Both servers' registries run on one hand-driven clock: the room's
	// timer passes by Advance, not by sleeping.
	clock := roomtest.NewClock(time.Now())
	before := newEnv(t, clock, withKey)

	short := before.create(t, `{"selfDestructSeconds":1}`)
	_, j := before.join(t, short.RoomID, newKey(t))
	after := newEnv(t, clock, withKey)
	clock.Advance(time.Second)
	if _, m := joinWithTicket(t, after, short.RoomID, j.Ticket); m.Type != protocol.TypeError || m.Code != protocol.CodeTimerExpired {
		t.Fatalf("expired room: %+v, want TIMER_EXPIRED", m)
	}

	doomed := before.create(t, "")
	c, jd := before.join(t, doomed.RoomID, newKey(t))
	c.write(protocol.Message{Type: protocol.TypeDestroy})
	c.expectError(protocol.CodeRoomDestroyed)
	if _, m := joinWithTicket(t, before, doomed.RoomID, jd.Ticket); m.Type != protocol.TypeError || m.Code != protocol.CodeRoomDestroyed {
		t.Fatalf("destroyed room: %+v, want ROOM_DESTROYED", m)
	}
}
