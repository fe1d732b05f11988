package server

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/turncred"
)

func TestDecodeClientMessage(t *testing.T) {
	t.Parallel()
	key := b64.EncodeToString(make([]byte, ed25519.PublicKeySize))
	sig := b64.EncodeToString(make([]byte, ed25519.SignatureSize))
	id := "AAAAAAAAAAAAAAAAAAAAA"
	tests := []struct {
		name string
		in   string
		code string // "" = valid
	}{
		{"join", `{"type":"join","version":1,"roomId":"` + id + `","publicKey":"` + key + `","signature":"` + sig + `"}`, ""},
		{"join v3", `{"type":"join","version":3,"roomId":"` + id + `","publicKey":"` + key + `","signature":"` + sig + `","verifier":"` + key + `","proof":"` + sig + `"}`, protocol.CodeUnsupportedVersion},
		{"join v0", `{"type":"join","version":0,"roomId":"` + id + `","publicKey":"` + key + `","signature":"` + sig + `"}`, protocol.CodeUnsupportedVersion},
		{"join v2", `{"type":"join","version":2,"roomId":"` + id + `","publicKey":"` + key + `","signature":"` + sig + `","verifier":"` + key + `","proof":"` + sig + `"}`, ""},
		{"join v2 without proof", `{"type":"join","version":2,"roomId":"` + id + `","publicKey":"` + key + `","signature":"` + sig + `"}`, protocol.CodeUnauthorized},
		{"join v2 without verifier", `{"type":"join","version":2,"roomId":"` + id + `","publicKey":"` + key + `","signature":"` + sig + `","proof":"` + sig + `"}`, protocol.CodeUnauthorized},
		{"join v2 short verifier", `{"type":"join","version":2,"roomId":"` + id + `","publicKey":"` + key + `","signature":"` + sig + `","verifier":"AAAA","proof":"` + sig + `"}`, protocol.CodeUnauthorized},
		{"join v2 padded proof", `{"type":"join","version":2,"roomId":"` + id + `","publicKey":"` + key + `","signature":"` + sig + `","verifier":"` + key + `","proof":"` + sig + `="}`, protocol.CodeUnauthorized},
		{"join v2 proof of a key's size", `{"type":"join","version":2,"roomId":"` + id + `","publicKey":"` + key + `","signature":"` + sig + `","verifier":"` + key + `","proof":"` + key + `"}`, protocol.CodeUnauthorized},
		{"join bad id", `{"type":"join","version":1,"roomId":"x","publicKey":"` + key + `","signature":"` + sig + `"}`, protocol.CodeBadRequest},
		{"join bad key", `{"type":"join","version":1,"roomId":"` + id + `","publicKey":"!!","signature":"` + sig + `"}`, protocol.CodeUnauthorized},
		{"join short sig", `{"type":"join","version":1,"roomId":"` + id + `","publicKey":"` + key + `","signature":"AAAA"}`, protocol.CodeUnauthorized},
		{"offer", `{"type":"signal","signal":{"description":{"type":"offer","sdp":"v=0"}}}`, ""},
		{"answer", `{"type":"signal","signal":{"session":"x","description":{"type":"answer","sdp":"v=0"}}}`, ""},
		{"rollback", `{"type":"signal","signal":{"description":{"type":"rollback","sdp":""}}}`, protocol.CodeBadRequest},
		{"empty sdp", `{"type":"signal","signal":{"description":{"type":"offer","sdp":""}}}`, protocol.CodeBadRequest},
		{"candidate", `{"type":"signal","signal":{"candidate":{"candidate":"candidate:1 1 udp 1 1.2.3.4 1 typ host","sdpMid":"0","sdpMLineIndex":0}}}`, ""},
		{"end of candidates", `{"type":"signal","signal":{"candidate":{"candidate":""}}}`, ""},
		{"app", `{"type":"signal","signal":{"app":"bye"}}`, ""},
		{"app null", `{"type":"signal","signal":{"app":null}}`, protocol.CodeBadRequest},
		{"two parts", `{"type":"signal","signal":{"app":1,"candidate":{"candidate":""}}}`, protocol.CodeBadRequest},
		{"no parts", `{"type":"signal","signal":{}}`, protocol.CodeBadRequest},
		{"no signal", `{"type":"signal"}`, protocol.CodeBadRequest},
		{"leave", `{"type":"leave"}`, ""},
		{"destroy", `{"type":"destroy","extra":1}`, ""},
		{"server type", `{"type":"joined"}`, protocol.CodeBadRequest},
		{"no type", `{}`, protocol.CodeBadRequest},
		{"array", `[]`, protocol.CodeBadRequest},
		{"number", `1`, protocol.CodeBadRequest},
		{"broken", `{"type":`, protocol.CodeBadRequest},
		{"wrong field type", `{"type":"join","version":"1"}`, protocol.CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeClientMessage([]byte(tc.in), protocol.DefaultMaxMessageBytes)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var fe *FrameError
			if !errors.As(err, &fe) || fe.Code != tc.code {
				t.Fatalf("err %v, want code %s", err, tc.code)
			}
		})
	}
	if _, err := DecodeClientMessage([]byte(`{"type":"leave"}`), 5); err == nil {
		t.Fatal("size limit not applied")
	}
}

func TestVerifyJoin(t *testing.T) {
	t.Parallel()
	pub, priv, _ := ed25519.GenerateKey(nil)
	nonce := []byte("0123456789abcdef0123456789abcdef")
	id := "AAAAAAAAAAAAAAAAAAAAA"
	m := protocol.Message{Type: protocol.TypeJoin, Version: 1, RoomID: id, PublicKey: b64.EncodeToString(pub),
		Signature: b64.EncodeToString(ed25519.Sign(priv, protocol.JoinSigningBytes(id, nonce)))}
	key, err := VerifyJoin(m, nonce)
	if err != nil || key != m.PublicKey {
		t.Fatalf("VerifyJoin = %q, %v", key, err)
	}
	if _, err := VerifyJoin(m, append([]byte{1}, nonce[1:]...)); err == nil {
		t.Fatal("verified against another nonce")
	}
}

func TestVerifyRoomProof(t *testing.T) {
	t.Parallel()
	pub, priv, _ := ed25519.GenerateKey(nil)
	roomKey := protocol.RoomKey([]byte("0123456789abcdef"))
	otherKey := protocol.RoomKey([]byte("fedcba9876543210"))
	nonce := []byte("0123456789abcdef0123456789abcdef")
	id := "AAAAAAAAAAAAAAAAAAAAA"
	verifier := b64.EncodeToString(roomKey.Public().(ed25519.PublicKey))
	good := func() protocol.Message {
		return protocol.Message{Type: protocol.TypeJoin, Version: 2, RoomID: id, PublicKey: b64.EncodeToString(pub),
			Signature: b64.EncodeToString(ed25519.Sign(priv, protocol.JoinSigningBytes(id, nonce))),
			Verifier:  verifier,
			Proof:     b64.EncodeToString(ed25519.Sign(roomKey, protocol.ProofSigningBytes(id, nonce, pub)))}
	}
	if v, err := VerifyRoomProof(good(), nonce); err != nil || v != verifier {
		t.Fatalf("VerifyRoomProof = %q, %v; want %q", v, err, verifier)
	}
	otherPub, _, _ := ed25519.GenerateKey(nil)
	tests := []struct {
		name   string
		mutate func(m *protocol.Message)
		nonce  []byte
	}{
		{"another nonce", nil, append([]byte{1}, nonce[1:]...)},
		{"another room", func(m *protocol.Message) { m.RoomID = "BBBBBBBBBBBBBBBBBBBBB" }, nonce},
		{"lifted onto another identity", func(m *protocol.Message) { m.PublicKey = b64.EncodeToString(otherPub) }, nonce},
		{"signed by another secret", func(m *protocol.Message) {
			m.Proof = b64.EncodeToString(ed25519.Sign(otherKey, protocol.ProofSigningBytes(id, nonce, pub)))
		}, nonce},
		{"the join signature as proof", func(m *protocol.Message) { m.Proof = m.Signature }, nonce},
		{"malformed verifier", func(m *protocol.Message) { m.Verifier = "x" }, nonce},
		{"malformed proof", func(m *protocol.Message) { m.Proof = "" }, nonce},
	}
	for _, tc := range tests {
		m := good()
		if tc.mutate != nil {
			tc.mutate(&m)
		}
		v, err := VerifyRoomProof(m, tc.nonce)
		var fe *FrameError
		if !errors.As(err, &fe) || fe.Code != protocol.CodeUnauthorized || v != "" {
			t.Errorf("%s: VerifyRoomProof = %q, %v; want UNAUTHORIZED", tc.name, v, err)
		}
	}
	// A version 1 join proves nothing, whatever fields it carries.
	data, _ := json.Marshal(func() protocol.Message { m := good(); m.Version = 1; return m }())
	m, err := DecodeClientMessage(data, 0)
	if err != nil || m.Verifier != "" || m.Proof != "" {
		t.Fatalf("v1 join decoded as %+v, %v; want verifier and proof cleared", m, err)
	}
	if v, err := VerifyRoomProof(m, nonce); err != nil || v != "" {
		t.Fatalf("VerifyRoomProof(v1) = %q, %v; want nothing proven", v, err)
	}
}

// FuzzDecodeMessage feeds arbitrary frames to the client-frame decoder and
// validator: it must never panic, and whatever it accepts must survive a
// round trip and be relayable.
func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(`{"type":"signal","signal":{"description":{"type":"offer","sdp":"v=0\r\n"}}}`))
	f.Add([]byte(`{"type":"join","version":1,"roomId":"AAAAAAAAAAAAAAAAAAAAA","publicKey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","signature":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`))
	f.Add([]byte(`{"type":"join","version":2,"roomId":"AAAAAAAAAAAAAAAAAAAAA","publicKey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","signature":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","verifier":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","proof":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`))
	f.Add([]byte(`{"type":"leave"}`))
	f.Add([]byte(`[]`))
	nonce := make([]byte, protocol.NonceSize)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeClientMessage(data, protocol.DefaultMaxMessageBytes)
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) || fe.Code == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		switch m.Type {
		case protocol.TypeJoin:
			// The verifiers must cope with any join the decoder lets
			// through, and a version 1 join proves no verifier.
			_, _ = VerifyJoin(m, nonce)
			if v, err := VerifyRoomProof(m, nonce); m.Version < 2 && (v != "" || err != nil) {
				t.Fatalf("version 1 join proved %q, %v", v, err)
			}
		case protocol.TypeLeave, protocol.TypeDestroy:
		case protocol.TypeSignal:
			out, err := json.Marshal(protocol.Message{Type: protocol.TypeSignal, Signal: m.Signal})
			if err != nil {
				t.Fatalf("accepted signal does not re-encode: %v", err)
			}
			if _, err := DecodeClientMessage(out, 0); err != nil {
				t.Fatalf("relayed form of an accepted signal is rejected: %v\n%s", err, out)
			}
		default:
			t.Fatalf("accepted unknown type %q", m.Type)
		}
	})
}

func TestSafeHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"signal.example.org":       "signal.example.org",
		"127.0.0.1:8787":           "127.0.0.1:8787",
		"[::1]:8787":               "[::1]:8787",
		"":                         "localhost",
		`evil"><script>`:           "localhost",
		"a/b":                      "localhost",
		"host\u00e9.example":       "localhost",
		"x.example/r/#frag":        "localhost",
		"very-long-but-ok.example": "very-long-but-ok.example",
	} {
		if got := safeHost(in); got != want {
			t.Errorf("safeHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		remote string
		xff    []string
		want   string
	}{
		{"192.0.2.1:1234", nil, "192.0.2.1"},
		{"192.0.2.1:1234", []string{"203.0.113.9"}, "192.0.2.1"},
		{"10.1.2.3:1234", []string{"203.0.113.9"}, "203.0.113.9"},
		{"10.1.2.3:1234", []string{"198.51.100.1, 203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"10.1.2.3:1234", []string{"198.51.100.1", "203.0.113.9"}, "203.0.113.9"},
		{"10.1.2.3:1234", []string{"garbage"}, "10.1.2.3"},
		{"10.1.2.3:1234", nil, "10.1.2.3"},
		{"[::ffff:192.0.2.7]:1", nil, "192.0.2.7"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientIP(r, trusted); got.String() != tc.want {
			t.Errorf("clientIP(%s, %v) = %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestIPLimiterBoundedMemory(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := newIPLimiter(2, 3, func() time.Time { return now })
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) }
	for i := range 3 {
		if ok, _ := l.allow(ip(i)); !ok {
			t.Fatalf("first request from %d refused", i)
		}
	}
	if l.len() != 3 {
		t.Fatalf("len %d", l.len())
	}
	// Full: newcomers share the overflow bucket, the map does not grow.
	l.allow(ip(10))
	l.allow(ip(11))
	if ok, _ := l.allow(ip(12)); ok {
		t.Fatal("overflow bucket not limited")
	}
	if l.len() != 3 {
		t.Fatalf("len %d after overflow", l.len())
	}
	// Per-IP limit with Retry-After.
	l.allow(ip(0))
	ok, retry := l.allow(ip(0))
	if ok || retry <= 0 || retry > time.Minute {
		t.Fatalf("third request from one IP: ok=%v retry=%v", ok, retry)
	}
	// Idle entries are swept.
	now = now.Add(2 * time.Minute)
	l.allow(ip(50))
	if l.len() != 1 {
		t.Fatalf("len %d after sweep, want 1", l.len())
	}
}

// Joined members get TURN credentials bound to their room (the tag opens
// to the room id, which is not in clear), valid for TURNCredentialTTL but
// never past the room's self-destruct time plus turnGrace; fixed
// credentials and STUN entries stay as configured.
func TestICEServersMintRoomBoundTURNCredentials(t *testing.T) {
	t.Parallel()
	s := New(Config{
		TURNSecret:        "secret",
		TURNCredentialTTL: time.Hour,
		ICEServers: []protocol.ICEServer{
			{URLs: []string{"stun:s.example:3478"}},
			{URLs: []string{"turn:t.example:3478"}},
			{URLs: []string{"turns:u.example:5349"}, Username: "fixed", Credential: "pw"},
		},
	}, room.NewRegistry(nil, room.Config{}), nil)
	now := time.Unix(1700000000, 0)
	const id = "AbCdEfGhIjKlMnOpQrStU"
	for _, c := range []struct {
		name      string
		expiresAt time.Time
		want      time.Time
	}{
		{"no self-destruct", time.Time{}, now.Add(time.Hour)},
		{"self-destruct first", now.Add(10 * time.Minute), now.Add(10*time.Minute + turnGrace)},
		{"self-destruct later", now.Add(3 * time.Hour), now.Add(time.Hour)},
	} {
		got := s.iceServers(now, room.Info{ID: id, ExpiresAt: c.expiresAt})
		if got[0].Username != "" || got[1].Username == "" || got[1].Credential == "" || got[2].Username != "fixed" || got[2].Credential != "pw" {
			t.Fatalf("%s: iceServers %+v", c.name, got)
		}
		if strings.Contains(got[1].Username, id) {
			t.Fatalf("%s: room id in clear in %q", c.name, got[1].Username)
		}
		roomID, exp, err := turncred.Open("secret", got[1].Username, now)
		if err != nil || roomID != id || !exp.Equal(c.want) {
			t.Fatalf("%s: credential opens to %q until %v (%v), want %q until %v", c.name, roomID, exp, err, id, c.want)
		}
		if got[1].Credential != turncred.Password("secret", got[1].Username) {
			t.Fatalf("%s: password does not match the username", c.name)
		}
	}
}

// FuzzParseCreateBody: the create body decoder never panics, and what it
// accepts has a timer in range and a verifier in canonical form.
func FuzzParseCreateBody(f *testing.F) {
	f.Add([]byte(`{"selfDestructSeconds":60,"verifier":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`))
	f.Add([]byte(`{"verifier":null}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseCreateBody(body)
		if err != nil {
			return
		}
		if req.selfDestruct < 0 || req.selfDestruct > protocol.MaxSelfDestructSeconds*time.Second {
			t.Fatalf("timer %v accepted", req.selfDestruct)
		}
		if req.verifier != "" {
			v, err := b64.DecodeString(req.verifier)
			if err != nil || len(v) != protocol.VerifierSize || b64.EncodeToString(v) != req.verifier {
				t.Fatalf("verifier %q accepted", req.verifier)
			}
		}
	})
}

// FuzzParseTicket: no input panics the ticket parser, and only tickets
// this key minted are accepted.
func FuzzParseTicket(f *testing.F) {
	key := make([]byte, TicketKeySize)
	id := "AAAAAAAAAAAAAAAAAAAAA"
	now := time.UnixMilli(1767322245000)
	f.Add(mintTicket(key, room.Info{ID: id, CreatedAt: now}))
	f.Add(mintTicket(key, room.Info{ID: id, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Verifier: b64.EncodeToString(make([]byte, protocol.VerifierSize))}))
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, ticket string) {
		info, err := parseTicket(key, id, ticket)
		if err != nil {
			return
		}
		if again := mintTicket(key, info); again != ticket {
			t.Fatalf("accepted %q, which this key would mint as %q", ticket, again)
		}
	})
}

func TestTicketVersions(t *testing.T) {
	t.Parallel()
	key := make([]byte, TicketKeySize)
	id := "AAAAAAAAAAAAAAAAAAAAA"
	created := time.UnixMilli(1767322245000)
	verifier := b64.EncodeToString(protocol.RoomKey(make([]byte, 16)).Public().(ed25519.PublicKey))
	for _, info := range []room.Info{
		{ID: id, CreatedAt: created},
		{ID: id, CreatedAt: created, ExpiresAt: created.Add(time.Minute), Verifier: verifier},
	} {
		tk := mintTicket(key, info)
		if tk == "" || len(tk) > protocol.MaxTicketLength {
			t.Fatalf("ticket %q for %+v", tk, info)
		}
		got, err := parseTicket(key, id, tk)
		if err != nil || got.Verifier != info.Verifier || !got.CreatedAt.Equal(info.CreatedAt) || !got.ExpiresAt.Equal(info.ExpiresAt) {
			t.Fatalf("parseTicket = %+v, %v; want %+v", got, err, info)
		}
	}
	// A room without a verifier keeps the version 1 format, which servers
	// before protocol version 2 minted and parse.
	if raw, _ := b64.DecodeString(mintTicket(key, room.Info{ID: id, CreatedAt: created})); len(raw) != ticketSize || raw[0] != ticketVersion {
		t.Fatalf("ticket of a room without a verifier: % x", raw)
	}
	// Stripping the verifier off a version 2 ticket does not give a
	// version 1 ticket for the same room: the tags differ.
	raw, _ := b64.DecodeString(mintTicket(key, room.Info{ID: id, CreatedAt: created, Verifier: verifier}))
	stripped := append([]byte{ticketVersion}, raw[1:ticketFieldsEnd]...)
	stripped = append(stripped, raw[len(raw)-32:]...)
	if _, err := parseTicket(key, id, b64.EncodeToString(stripped)); err == nil {
		t.Fatal("a version 2 ticket stripped of its verifier was accepted")
	}
	// A malformed verifier gets no ticket rather than an unprotected one.
	if tk := mintTicket(key, room.Info{ID: id, CreatedAt: created, Verifier: "x"}); tk != "" {
		t.Fatalf("ticket %q for a malformed verifier", tk)
	}
}
