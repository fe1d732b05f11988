package sigclient

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/parley-chat/parley/signaling/protocol"
)

// A room created with a verifier admits only clients with the matching
// room key; a wrong one is refused for good (no reconnect loop).
func TestRoomKeyIsRequired(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	id := createRoom(t, ts.URL, 0)
	wrong := protocol.RoomKey([]byte("not-the-secret!!"))
	c, err := Dial(ctxT(t), Config{ServerURL: ts.URL, RoomID: id, Key: newKey(t), RoomKey: wrong, Reconnect: true, Logger: testLogger(t)})
	if err == nil {
		c.Close()
		t.Fatal("Dial with the wrong room key succeeded")
	}
	if !IsCode(err, protocol.CodeUnauthorized) || !isFatal(err) {
		t.Fatalf("Dial = %v, want a final UNAUTHORIZED", err)
	}
	// The seats are still free for the holders.
	a, _ := join(t, ts.URL, id, newKey(t), false)
	join(t, ts.URL, id, newKey(t), false)
	expect[PeerEvent](t, a)

	if _, err := CreateRoom(ctxT(t), nil, ts.URL, 0, nil); err == nil {
		t.Fatal("CreateRoom without a verifier succeeded")
	}
}

// oldServer mimics a parley-signal from before protocol version 2: it
// refuses a create body with a verifier, and answers a version 2 join
// with UNSUPPORTED_VERSION. It records the joins it saw.
func oldServer(t *testing.T) (*httptest.Server, *atomic.Int32, *atomic.Value) {
	t.Helper()
	var joins atomic.Int32
	var last atomic.Value
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/rooms", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"BAD_REQUEST"}`))
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		nonce := make([]byte, protocol.NonceSize)
		_ = ws.WriteJSON(protocol.Message{Type: protocol.TypeChallenge, Nonce: b64.EncodeToString(nonce)})
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var m protocol.Message
		_ = json.Unmarshal(data, &m)
		m.Nonce = b64.EncodeToString(nonce) // for the test's proof check
		last.Store(m)
		joins.Add(1)
		_ = ws.WriteJSON(protocol.Message{Type: protocol.TypeError, Code: protocol.CodeUnsupportedVersion, Reason: "protocol version 2, server speaks 1"})
		_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, protocol.CodeUnsupportedVersion))
		_, _, _ = ws.ReadMessage()
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs, &joins, &last
}

// Against a server older than protocol version 2 the app fails clearly
// (UNSUPPORTED_VERSION: the server must be updated) and never falls back
// to a room without a verifier or a join without proof.
func TestOldServerIsReportedNotDowngraded(t *testing.T) {
	t.Parallel()
	hs, joins, last := oldServer(t)
	_, err := CreateRoom(ctxT(t), nil, hs.URL, 0, pub(testRoomKey))
	if !IsCode(err, protocol.CodeUnsupportedVersion) || !strings.Contains(err.Error(), "updated") {
		t.Fatalf("CreateRoom on an old server = %v, want UNSUPPORTED_VERSION saying to update", err)
	}

	id := "V1StGXR8_Z5jdHi6B-myT"
	key := newKey(t)
	c, err := Dial(ctxT(t), Config{ServerURL: hs.URL, RoomID: id, Key: key, RoomKey: testRoomKey, Reconnect: true, Logger: testLogger(t)})
	if err == nil {
		c.Close()
		t.Fatal("Dial to an old server succeeded")
	}
	if !IsCode(err, protocol.CodeUnsupportedVersion) || !isFatal(err) {
		t.Fatalf("Dial = %v, want a final UNSUPPORTED_VERSION", err)
	}
	if n := joins.Load(); n != 1 {
		t.Fatalf("%d joins sent, want exactly 1 (no downgrade retry)", n)
	}
	m := last.Load().(protocol.Message)
	nonce, _ := b64.DecodeString(m.Nonce)
	proof, _ := b64.DecodeString(m.Proof)
	if m.Version != protocol.Version || m.Verifier != b64.EncodeToString(pub(testRoomKey)) ||
		!ed25519.Verify(pub(testRoomKey), protocol.ProofSigningBytes(id, nonce, pub(key)), proof) {
		t.Fatalf("join sent %+v, want version %d with a valid proof", m, protocol.Version)
	}
}
