package server_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room/roomtest"
	"github.com/parley-chat/parley/signaling/server"
)

func TestJoinHandshake(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) {
		c.ICEServers = []protocol.ICEServer{{URLs: []string{"stun:stun.example.org:3478"}}}
	})
	id := e.create(t, "").RoomID
	other := e.create(t, "").RoomID
	destroyed := e.create(t, "").RoomID
	d, _ := e.join(t, destroyed, newKey(t))
	d.write(protocol.Message{Type: protocol.TypeDestroy})
	d.expectError(protocol.CodeRoomDestroyed)

	tests := []struct {
		name   string
		mutate func(c *client, m *protocol.Message, nonce []byte)
		raw    string // sent instead of the join when set
		want   string // error code; "" = joined
	}{
		{name: "good", want: ""},
		{name: "wrong version", mutate: func(_ *client, m *protocol.Message, _ []byte) { m.Version = protocol.Version + 1 }, want: protocol.CodeUnsupportedVersion},
		{name: "missing version", mutate: func(_ *client, m *protocol.Message, _ []byte) { m.Version = 0 }, want: protocol.CodeUnsupportedVersion},
		{name: "bad signature", mutate: func(_ *client, m *protocol.Message, _ []byte) {
			sig, _ := b64.DecodeString(m.Signature)
			sig[0] ^= 1
			m.Signature = b64.EncodeToString(sig)
		}, want: protocol.CodeUnauthorized},
		{name: "signature for another room", mutate: func(c *client, m *protocol.Message, nonce []byte) {
			*m = c.joinMsg(other, nonce)
			m.RoomID = id
		}, want: protocol.CodeUnauthorized},
		{name: "signature over a stale nonce", mutate: func(c *client, m *protocol.Message, _ []byte) {
			*m = c.joinMsg(id, make([]byte, protocol.NonceSize))
		}, want: protocol.CodeUnauthorized},
		{name: "key of another", mutate: func(_ *client, m *protocol.Message, _ []byte) {
			m.PublicKey = b64.EncodeToString(newKey(t).Public().(ed25519.PublicKey))
		}, want: protocol.CodeUnauthorized},
		{name: "short key", mutate: func(_ *client, m *protocol.Message, _ []byte) { m.PublicKey = "abc" }, want: protocol.CodeUnauthorized},
		{name: "padded key", mutate: func(_ *client, m *protocol.Message, _ []byte) { m.PublicKey += "=" }, want: protocol.CodeUnauthorized},
		{name: "bad room id", mutate: func(_ *client, m *protocol.Message, _ []byte) { m.RoomID = "short" }, want: protocol.CodeBadRequest},
		{name: "unknown room", mutate: func(c *client, m *protocol.Message, nonce []byte) {
			*m = c.joinMsg("AAAAAAAAAAAAAAAAAAAAA", nonce)
		}, want: protocol.CodeRoomNotFound},
		{name: "destroyed room", mutate: func(c *client, m *protocol.Message, nonce []byte) {
			*m = c.joinMsg(destroyed, nonce)
		}, want: protocol.CodeRoomDestroyed},
		{name: "signal before join", raw: `{"type":"signal","signal":{"app":"x"}}`, want: protocol.CodeBadRequest},
		{name: "garbage", raw: `\x00garbage`, want: protocol.CodeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := e.dial(t, newKey(t))
			nonce := c.challenge()
			if tc.raw != "" {
				if err := c.ws.WriteMessage(websocket.TextMessage, []byte(tc.raw)); err != nil {
					t.Fatal(err)
				}
			} else {
				m := c.joinMsg(id, nonce)
				if tc.mutate != nil {
					tc.mutate(c, &m, nonce)
				}
				c.write(m)
			}
			if tc.want != "" {
				c.expectError(tc.want)
				return
			}
			m := c.read()
			if m.Type != protocol.TypeJoined || m.RoomID != id || m.ExpiresAt != nil {
				t.Fatalf("joined = %+v", m)
			}
			if len(m.ICEServers) != 1 || m.ICEServers[0].URLs[0] != "stun:stun.example.org:3478" {
				t.Fatalf("iceServers %+v", m.ICEServers)
			}
		})
	}
}

func TestJoinTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) { c.JoinTimeout = 200 * time.Millisecond })
	c := e.dial(t, newKey(t))
	c.challenge()
	c.expectError(protocol.CodeBadRequest)
}

func TestRelayAndPeerEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	id := e.create(t, "").RoomID
	ka, kb := newKey(t), newKey(t)

	a, ja := e.join(t, id, ka)
	if ja.Peer != "" || ja.PeerOnline {
		t.Fatalf("first joined %+v", ja)
	}
	b, jb := e.join(t, id, kb)
	if jb.Peer != a.pub || !jb.PeerOnline {
		t.Fatalf("second joined %+v", jb)
	}
	a.expectPeer(protocol.PeerJoined, b.pub)

	mid := "0"
	idx := uint16(0)
	sigs := []protocol.Signal{
		{Session: "s1", Description: &protocol.SessionDescription{Type: "offer", SDP: "v=0\r\n"}},
		{Session: "s1", Candidate: &protocol.ICECandidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", SDPMid: &mid, SDPMLineIndex: &idx}},
		{App: json.RawMessage(`{"k":"bye"}`)},
	}
	for _, s := range sigs {
		a.write(protocol.Message{Type: protocol.TypeSignal, Signal: &s})
		got := b.read()
		if got.Type != protocol.TypeSignal {
			t.Fatalf("b got %+v", got)
		}
		want, _ := json.Marshal(s)
		have, _ := json.Marshal(got.Signal)
		if string(want) != string(have) {
			t.Fatalf("relayed %s, want %s", have, want)
		}
	}
	answer := protocol.Signal{Description: &protocol.SessionDescription{Type: "answer", SDP: "v=0\r\n"}}
	b.write(protocol.Message{Type: protocol.TypeSignal, Signal: &answer})
	if got := a.read(); got.Signal == nil || got.Signal.Description == nil || got.Signal.Description.Type != "answer" {
		t.Fatalf("a got %+v", got)
	}

	// Clean leave: a hears left, b's connection is closed without error.
	b.write(protocol.Message{Type: protocol.TypeLeave})
	a.expectPeer(protocol.PeerLeft, b.pub)
	b.expectClosed()

	// Signals to an absent peer are dropped silently.
	a.write(protocol.Message{Type: protocol.TypeSignal, Signal: &answer})
	a.expectNothing()

	// b comes back: rejoined; it learns a's key and that a is online.
	b2, jb2 := e.join(t, id, kb)
	if jb2.Peer != a.pub || !jb2.PeerOnline {
		t.Fatalf("rejoined %+v", jb2)
	}
	a.expectPeer(protocol.PeerRejoined, b2.pub)

	// A dropped transport also counts as leaving.
	_ = b2.ws.Close()
	a.expectPeer(protocol.PeerLeft, b2.pub)
}

func TestReplaceAndFull(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	id := e.create(t, "").RoomID
	ka, kb := newKey(t), newKey(t)
	a1, _ := e.join(t, id, ka)
	b, _ := e.join(t, id, kb)
	a1.expectPeer(protocol.PeerJoined, b.pub)

	a2, j := e.join(t, id, ka)
	if j.Peer != b.pub || !j.PeerOnline {
		t.Fatalf("replacing join %+v", j)
	}
	a1.expectError(protocol.CodeReplaced)
	b.expectPeer(protocol.PeerRejoined, a2.pub)
	// No "left" for the replaced connection.
	b.expectNothing()

	c := e.dial(t, newKey(t))
	c.write(c.joinMsg(id, c.challenge()))
	c.expectError(protocol.CodeRoomFull)

	// The replacement still relays.
	a2.write(protocol.Message{Type: protocol.TypeSignal, Signal: &protocol.Signal{App: json.RawMessage(`1`)}})
	if m := b.read(); m.Type != protocol.TypeSignal {
		t.Fatalf("b got %+v", m)
	}
}

func TestDestroyReachesBoth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	id := e.create(t, "").RoomID
	a, _ := e.join(t, id, newKey(t))
	b, _ := e.join(t, id, newKey(t))
	a.expectPeer(protocol.PeerJoined, b.pub)
	b.write(protocol.Message{Type: protocol.TypeDestroy})
	a.expectError(protocol.CodeRoomDestroyed)
	b.expectError(protocol.CodeRoomDestroyed)
	if resp, body := e.do(t, "GET", "/api/rooms/"+id, ""); resp.StatusCode != http.StatusGone || !strings.Contains(string(body), protocol.CodeRoomDestroyed) {
		t.Fatalf("GET after destroy: %d %s", resp.StatusCode, body)
	}
}

func TestSelfDestructReachesBoth(t *testing.T) {
	t.Parallel()
	clk := roomtest.NewClock(time.Now())
	e := newEnv(t, clk, nil)
	cr := e.create(t, `{"selfDestructSeconds":60}`)
	a, ja := e.join(t, cr.RoomID, newKey(t))
	if ja.ExpiresAt == nil || *ja.ExpiresAt != *cr.ExpiresAt {
		t.Fatalf("joined expiresAt %v, want %v", ja.ExpiresAt, *cr.ExpiresAt)
	}
	b, _ := e.join(t, cr.RoomID, newKey(t))
	a.expectPeer(protocol.PeerJoined, b.pub)
	clk.Advance(time.Minute)
	a.expectError(protocol.CodeTimerExpired)
	b.expectError(protocol.CodeTimerExpired)
	if resp, body := e.do(t, "GET", "/api/rooms/"+cr.RoomID, ""); resp.StatusCode != http.StatusGone || !strings.Contains(string(body), protocol.CodeTimerExpired) {
		t.Fatalf("GET after timer: %d %s", resp.StatusCode, body)
	}
}

func TestSelfDestructRealClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	cr := e.create(t, `{"selfDestructSeconds":1}`)
	a, _ := e.join(t, cr.RoomID, newKey(t))
	a.expectError(protocol.CodeTimerExpired)
}

func TestInvalidFrames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) { c.MaxBadFrames = 3 })
	id := e.create(t, "").RoomID
	a, _ := e.join(t, id, newKey(t))
	frames := []string{
		`{"type":"signal"}`,
		`{"type":"signal","signal":{"description":{"type":"rollback","sdp":"x"}}}`,
	}
	for _, f := range frames {
		_ = a.ws.WriteMessage(websocket.TextMessage, []byte(f))
		if m := a.read(); m.Type != protocol.TypeError || m.Code != protocol.CodeBadRequest {
			t.Fatalf("after %s: %+v", f, m)
		}
	}
	// Still usable, then the third bad frame closes it.
	a.write(protocol.Message{Type: protocol.TypeSignal, Signal: &protocol.Signal{App: json.RawMessage(`1`)}})
	_ = a.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	a.expectError(protocol.CodeBadRequest)
}

func TestOversizedFrameClosesOnlyThatConn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) { c.MaxMessageBytes = 4096 })
	id := e.create(t, "").RoomID
	a, _ := e.join(t, id, newKey(t))
	b, _ := e.join(t, id, newKey(t))
	a.expectPeer(protocol.PeerJoined, b.pub)
	big := protocol.Signal{App: json.RawMessage(`"` + strings.Repeat("x", 8192) + `"`)}
	b.write(protocol.Message{Type: protocol.TypeSignal, Signal: &big})
	b.expectClosed()
	a.expectPeer(protocol.PeerLeft, b.pub)
	// a is unaffected.
	b2, _ := e.join(t, id, b.priv)
	a.expectPeer(protocol.PeerRejoined, b2.pub)
	a.write(protocol.Message{Type: protocol.TypeSignal, Signal: &protocol.Signal{App: json.RawMessage(`1`)}})
	if m := b2.read(); m.Type != protocol.TypeSignal {
		t.Fatalf("b2 got %+v", m)
	}
}

func TestMessageRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) { c.MessageRate = 1; c.MessageBurst = 5 })
	id := e.create(t, "").RoomID
	a, _ := e.join(t, id, newKey(t))
	for range 10 {
		if err := a.ws.WriteJSON(protocol.Message{Type: protocol.TypeSignal, Signal: &protocol.Signal{App: json.RawMessage(`1`)}}); err != nil {
			break
		}
	}
	a.expectError(protocol.CodeRateLimited)
}

func TestSlowConsumerDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) {
		c.SendQueue = 4
		c.WriteTimeout = 500 * time.Millisecond
		c.MessageRate = 1e6
		c.MessageBurst = 1e6
	})
	id := e.create(t, "").RoomID
	a, _ := e.join(t, id, newKey(t))
	b, _ := e.join(t, id, newKey(t))
	a.expectPeer(protocol.PeerJoined, b.pub)
	// b stops reading; a floods it until the server gives up on b and
	// tells a that b left.
	payload := protocol.Signal{App: json.RawMessage(`"` + strings.Repeat("y", 32<<10) + `"`)}
	for range 600 {
		a.write(protocol.Message{Type: protocol.TypeSignal, Signal: &payload})
	}
	a.expectPeer(protocol.PeerLeft, b.pub)
	if resp, body := e.do(t, "GET", "/api/rooms/"+id, ""); !strings.Contains(string(body), `"connected":1`) {
		t.Fatalf("GET: %d %s", resp.StatusCode, body)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	id := e.create(t, "").RoomID
	a, _ := e.join(t, id, newKey(t))
	b, _ := e.join(t, id, newKey(t))
	a.expectPeer(protocol.PeerJoined, b.pub)
	var wg sync.WaitGroup
	for _, c := range []*client{a, b} {
		wg.Go(func() {
			m, err := c.tryRead(5 * time.Second)
			if err != nil || m.Type != protocol.TypeError || m.Code != protocol.CodeShuttingDown {
				t.Errorf("got %+v, %v; want SHUTTING_DOWN", m, err)
			}
			_, _, err = c.ws.ReadMessage()
			if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
				t.Errorf("close: %v", err)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	wg.Wait()
	// New connections are refused.
	url := e.WSURL()
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestMaxConnsAndJoinRate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) { c.MaxConns = 2 })
	e.dial(t, newKey(t))
	e.dial(t, newKey(t))
	url := e.WSURL()
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third conn: %v %v", err, resp)
	}
	resp.Body.Close()

	e2 := newEnv(t, nil, func(c *server.Config) { c.RateJoins = 1 })
	e2.dial(t, newKey(t))
	url = e2.WSURL()
	_, resp, err = websocket.DefaultDialer.Dial(url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second conn: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestOrigin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) { c.AllowedOrigins = []string{"https://chat.example.org"} })
	url := e.WSURL()
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"https://chat.example.org", true},
		{"https://evil.example", false},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		ws, resp, err := websocket.DefaultDialer.Dial(url, h)
		if (err == nil) != tc.ok {
			t.Errorf("origin %q: err %v", tc.origin, err)
		}
		if ws != nil {
			ws.Close()
		}
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
	}
}
