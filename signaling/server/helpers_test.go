package server_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/server"
	"github.com/parley-chat/parley/signaling/server/servertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var b64 = base64.RawURLEncoding

// env is a real server (servertest) with the raw-protocol helpers below.
type env struct {
	*servertest.Server
	srv *server.Server
	ts  *httptest.Server
	reg *room.Registry
}

// newEnv starts a real server on loopback. mutate adjusts the config.
func newEnv(t *testing.T, clock room.Clock, mutate func(*server.Config)) *env {
	t.Helper()
	return envOf(servertest.New(t, servertest.Options{Clock: clock, Config: mutate}))
}

func envOf(s *servertest.Server) *env {
	return &env{Server: s, srv: s.Server, ts: s.HTTP, reg: s.Registry}
}

func (e *env) do(t *testing.T, method, path, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func (e *env) create(t *testing.T, body string) protocol.CreateRoomResponse {
	t.Helper()
	resp, b := e.do(t, http.MethodPost, "/api/rooms", body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var out protocol.CreateRoomResponse
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// client is a raw WebSocket participant. Without a roomKey it joins as an
// app older than protocol version 2 (a version 1 join, no proof); with
// one it sends a version 2 join proving that key.
type client struct {
	t       *testing.T
	ws      *websocket.Conn
	priv    ed25519.PrivateKey
	pub     string
	roomKey ed25519.PrivateKey
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func (e *env) dial(t *testing.T, priv ed25519.PrivateKey) *client {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(e.WSURL(), nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	if resp.Body != nil {
		resp.Body.Close()
	}
	t.Cleanup(func() { _ = ws.Close() })
	return &client{t: t, ws: ws, priv: priv, pub: b64.EncodeToString(priv.Public().(ed25519.PublicKey))}
}

func (c *client) read() protocol.Message {
	c.t.Helper()
	m, err := c.tryRead(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

func (c *client) tryRead(d time.Duration) (protocol.Message, error) {
	var m protocol.Message
	_ = c.ws.SetReadDeadline(time.Now().Add(d))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, err
	}
	return m, nil
}

func (c *client) write(m any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(m); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// expectError reads until an error message arrives and checks its code,
// then checks the server closes the connection.
func (c *client) expectError(code string) {
	c.t.Helper()
	for {
		m := c.read()
		if m.Type == protocol.TypeError {
			if m.Code != code {
				c.t.Fatalf("error code %s (%s), want %s", m.Code, m.Reason, code)
			}
			break
		}
	}
	c.expectClosed()
}

func (c *client) expectClosed() {
	c.t.Helper()
	for {
		_, err := c.tryRead(5 * time.Second)
		if err == nil {
			continue
		}
		if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
			c.t.Fatal("connection still open")
		}
		return
	}
}

func (c *client) joinMsg(roomID string, nonce []byte) protocol.Message {
	sig := ed25519.Sign(c.priv, protocol.JoinSigningBytes(roomID, nonce))
	m := protocol.Message{Type: protocol.TypeJoin, Version: 1, RoomID: roomID, PublicKey: c.pub, Signature: b64.EncodeToString(sig)}
	if c.roomKey != nil {
		pub := c.priv.Public().(ed25519.PublicKey)
		m.Version = 2
		m.Verifier = b64.EncodeToString(c.roomKey.Public().(ed25519.PublicKey))
		m.Proof = b64.EncodeToString(ed25519.Sign(c.roomKey, protocol.ProofSigningBytes(roomID, nonce, pub)))
	}
	return m
}

func (c *client) challenge() []byte {
	c.t.Helper()
	m := c.read()
	if m.Type != protocol.TypeChallenge {
		c.t.Fatalf("first message %q, want challenge", m.Type)
	}
	nonce, err := b64.DecodeString(m.Nonce)
	if err != nil || len(nonce) != protocol.NonceSize {
		c.t.Fatalf("bad nonce %q", m.Nonce)
	}
	return nonce
}

// join dials and joins; it returns the joined message.
func (e *env) join(t *testing.T, roomID string, priv ed25519.PrivateKey) (*client, protocol.Message) {
	t.Helper()
	c := e.dial(t, priv)
	c.write(c.joinMsg(roomID, c.challenge()))
	m := c.read()
	if m.Type != protocol.TypeJoined {
		t.Fatalf("join: got %+v", m)
	}
	return c, m
}

func (c *client) expectPeer(event, key string) {
	c.t.Helper()
	m := c.read()
	if m.Type != protocol.TypePeer || m.Event != event || m.PublicKey != key {
		c.t.Fatalf("got %+v, want peer %s", m, event)
	}
}

// expectNothing checks that no message is waiting: it sends an invalid
// frame and expects the BAD_REQUEST answer to be the next message. (A read
// timeout would break a gorilla connection for good.)
func (c *client) expectNothing() {
	c.t.Helper()
	c.write(map[string]string{"type": "probe"})
	if m := c.read(); m.Type != protocol.TypeError || m.Code != protocol.CodeBadRequest {
		c.t.Fatalf("unexpected %+v", m)
	}
}
