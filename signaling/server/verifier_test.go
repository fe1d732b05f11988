package server_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/server"
)

// secretRoom creates a room registered with the verifier of secret, as
// apps since protocol version 2 do; body adds other create fields.
func (e *env) secretRoom(t *testing.T, secret []byte, fields string) protocol.CreateRoomResponse {
	t.Helper()
	v := b64.EncodeToString(protocol.RoomKey(secret).Public().(ed25519.PublicKey))
	body := `{"verifier":"` + v + `"`
	if fields != "" {
		body += "," + fields
	}
	return e.create(t, body+"}")
}

// holder dials as a link holder: a new identity proving secret.
func (e *env) holder(t *testing.T, secret []byte) *client {
	t.Helper()
	c := e.dial(t, newKey(t))
	c.roomKey = protocol.RoomKey(secret)
	return c
}

func (e *env) connected(t *testing.T, id string) int {
	t.Helper()
	resp, b := e.do(t, http.MethodGet, "/api/rooms/"+id, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET room: %d %s", resp.StatusCode, b)
	}
	var info protocol.RoomInfo
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	return info.Connected
}

// A stranger who knows only the room id (not the link secret) can neither
// take a seat nor destroy the room, however the proof is wrong; the seats
// stay free for the link holders, and a refusal says nothing about them.
// This is the squatting finding of the hardening issue: before the fix any
// key could take a free seat and destroy the room.
func TestVerifierKeepsStrangersOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	secret := []byte("0123456789abcdef")
	wrong := []byte("fedcba9876543210")
	id := e.secretRoom(t, secret, "").RoomID
	other := e.secretRoom(t, secret, "").RoomID

	tests := []struct {
		name   string
		mutate func(c *client, m *protocol.Message, nonce []byte)
		want   string
	}{
		{"invented secret", func(c *client, m *protocol.Message, nonce []byte) {
			c.roomKey = protocol.RoomKey(wrong)
			*m = c.joinMsg(id, nonce)
		}, protocol.CodeUnauthorized},
		{"the room's verifier, a proof by another key", func(c *client, m *protocol.Message, nonce []byte) {
			pub := c.priv.Public().(ed25519.PublicKey)
			m.Proof = b64.EncodeToString(ed25519.Sign(protocol.RoomKey(wrong), protocol.ProofSigningBytes(id, nonce, pub)))
		}, protocol.CodeUnauthorized},
		{"a proof over another nonce", func(c *client, m *protocol.Message, _ []byte) {
			m.Proof = c.joinMsg(id, make([]byte, protocol.NonceSize)).Proof // the join signature stays fresh
		}, protocol.CodeUnauthorized},
		{"a proof for another room", func(c *client, m *protocol.Message, nonce []byte) {
			m.Proof = c.joinMsg(other, nonce).Proof
		}, protocol.CodeUnauthorized},
		{"a proof made for another identity", func(c *client, m *protocol.Message, nonce []byte) {
			m.Proof = b64.EncodeToString(ed25519.Sign(c.roomKey, protocol.ProofSigningBytes(id, nonce, newKey(t).Public().(ed25519.PublicKey))))
		}, protocol.CodeUnauthorized},
		{"no proof", func(_ *client, m *protocol.Message, _ []byte) { m.Proof = "" }, protocol.CodeUnauthorized},
		{"no verifier", func(_ *client, m *protocol.Message, _ []byte) { m.Verifier = "" }, protocol.CodeUnauthorized},
		{"an app older than the room (version 1)", func(c *client, m *protocol.Message, nonce []byte) {
			c.roomKey = nil
			*m = c.joinMsg(id, nonce)
		}, protocol.CodeUnsupportedVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := e.holder(t, secret)
			nonce := c.challenge()
			m := c.joinMsg(id, nonce)
			tc.mutate(c, &m, nonce)
			c.write(m)
			// A destroy right behind the join must not take effect either.
			_ = c.ws.WriteJSON(protocol.Message{Type: protocol.TypeDestroy})
			c.expectError(tc.want)
			if n := e.connected(t, id); n != 0 {
				t.Fatalf("%d connected after a refused join", n)
			}
		})
	}

	// The link holders get both seats: nobody squatted.
	a := e.holder(t, secret)
	a.write(a.joinMsg(id, a.challenge()))
	if m := a.read(); m.Type != protocol.TypeJoined {
		t.Fatalf("holder A: %+v", m)
	}
	b := e.holder(t, secret)
	b.write(b.joinMsg(id, b.challenge()))
	if m := b.read(); m.Type != protocol.TypeJoined || m.Peer != a.pub || !m.PeerOnline {
		t.Fatalf("holder B: %+v", m)
	}
	a.expectPeer(protocol.PeerJoined, b.pub)

	// With the room full, a stranger still hears UNAUTHORIZED (not
	// ROOM_FULL: a refusal tells nothing about the seats), and a v1 app
	// UNSUPPORTED_VERSION with a reason that says to update.
	s := e.holder(t, wrong)
	s.write(s.joinMsg(id, s.challenge()))
	s.expectError(protocol.CodeUnauthorized)
	old := e.dial(t, newKey(t))
	old.write(old.joinMsg(id, old.challenge()))
	m := old.read()
	if m.Type != protocol.TypeError || m.Code != protocol.CodeUnsupportedVersion || !strings.Contains(m.Reason, "update") {
		t.Fatalf("v1 join to a verifier room: %+v", m)
	}
	// A third holder is simply the third key.
	third := e.holder(t, secret)
	third.write(third.joinMsg(id, third.challenge()))
	third.expectError(protocol.CodeRoomFull)
	a.expectNothing()
	b.expectNothing()

	// A holder can destroy.
	a.write(protocol.Message{Type: protocol.TypeDestroy})
	a.expectError(protocol.CodeRoomDestroyed)
	b.expectError(protocol.CodeRoomDestroyed)
}

// Rooms created without a verifier (by apps before protocol version 2)
// behave as before for old and new apps alike: a v1 join without proof
// and a v2 join with any proof both get in, and a member may destroy.
func TestRoomWithoutVerifierAdmitsOldAndNewApps(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	id := e.create(t, "").RoomID
	old := e.dial(t, newKey(t)) // version 1
	old.write(old.joinMsg(id, old.challenge()))
	if m := old.read(); m.Type != protocol.TypeJoined {
		t.Fatalf("v1 join: %+v", m)
	}
	fresh := e.holder(t, []byte("0123456789abcdef"))
	fresh.write(fresh.joinMsg(id, fresh.challenge()))
	if m := fresh.read(); m.Type != protocol.TypeJoined || m.Peer != old.pub {
		t.Fatalf("v2 join: %+v", m)
	}
	old.expectPeer(protocol.PeerJoined, fresh.pub)
	old.write(protocol.Message{Type: protocol.TypeDestroy})
	old.expectError(protocol.CodeRoomDestroyed)
	fresh.expectError(protocol.CodeRoomDestroyed)
}

// A room re-created from a ticket after a restart keeps its verifier:
// the ticket carries it, so a stranger holding a leaked ticket still
// cannot sit, while the link holder rejoins.
func TestTicketKeepsVerifier(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{5}, server.TicketKeySize)
	withKey := func(c *server.Config) { c.TicketKey = key }
	secret := []byte("0123456789abcdef")
	before := newEnv(t, nil, withKey)
	id := before.secretRoom(t, secret, `"selfDestructSeconds":3600`).RoomID
	a := before.holder(t, secret)
	a.write(a.joinMsg(id, a.challenge()))
	joined := a.read()
	if joined.Type != protocol.TypeJoined || joined.Ticket == "" || len(joined.Ticket) > protocol.MaxTicketLength {
		t.Fatalf("joined: %+v", joined)
	}

	after := newEnv(t, nil, withKey) // restarted: no rooms
	for name, c := range map[string]*client{
		"stranger":   after.holder(t, []byte("fedcba9876543210")),
		"v1 app":     after.dial(t, newKey(t)),
		"no roomKey": after.dial(t, newKey(t)),
	} {
		m := c.joinMsg(id, c.challenge())
		m.Ticket = joined.Ticket
		if name == "no roomKey" {
			m.Version, m.Verifier, m.Proof = 2, b64.EncodeToString(make([]byte, 32)), b64.EncodeToString(make([]byte, 64))
		}
		c.write(m)
		want := protocol.CodeUnauthorized
		if name == "v1 app" {
			want = protocol.CodeUnsupportedVersion
		}
		c.expectError(want)
	}
	if n := after.connected(t, id); n != 0 {
		t.Fatalf("%d connected after refused joins", n)
	}
	h := after.holder(t, secret)
	m := h.joinMsg(id, h.challenge())
	m.Ticket = joined.Ticket
	h.write(m)
	if got := h.read(); got.Type != protocol.TypeJoined || got.ExpiresAt == nil || got.Ticket == "" {
		t.Fatalf("holder with ticket: %+v", got)
	}
}

func TestCreateRoomVerifier(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	v := b64.EncodeToString(protocol.RoomKey([]byte("0123456789abcdef")).Public().(ed25519.PublicKey))
	tests := []struct {
		name string
		body string
		want int
	}{
		{"verifier", `{"verifier":"` + v + `"}`, 201},
		{"verifier and timer", `{"selfDestructSeconds":60,"verifier":"` + v + `"}`, 201},
		{"null verifier", `{"verifier":null}`, 201},
		{"empty verifier", `{"verifier":""}`, 400},
		{"short verifier", `{"verifier":"` + v[:42] + `"}`, 400},
		{"long verifier", `{"verifier":"` + v + `AA"}`, 400},
		{"padded verifier", `{"verifier":"` + v + `="}`, 400},
		{"standard base64", `{"verifier":"` + strings.NewReplacer("-", "+", "_", "/").Replace(v) + `+"}`, 400},
		{"number verifier", `{"verifier":1}`, 400},
		{"duplicate verifier", `{"verifier":"` + v + `","verifier":"` + v + `"}`, 400},
		{"wrong case", `{"Verifier":"` + v + `"}`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, b := e.do(t, http.MethodPost, "/api/rooms", tc.body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, tc.want)
			}
			if tc.want == 201 && bytes.Contains(b, []byte(v)) {
				t.Fatalf("the verifier is echoed: %s", b)
			}
		})
	}
}
