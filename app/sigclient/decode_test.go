package sigclient

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
)

func TestSessionEvent(t *testing.T) {
	t.Parallel()
	key := make([]byte, ed25519.PublicKeySize)
	key[0] = 7
	k := b64.EncodeToString(key)
	tests := []struct {
		name     string
		in       string
		wantType string // "peer", "signal", "error", "ignore", "invalid"
		wantCode string
	}{
		{"peer joined", `{"type":"peer","event":"joined","publicKey":"` + k + `"}`, "peer", ""},
		{"peer left", `{"type":"peer","event":"left","publicKey":"` + k + `"}`, "peer", ""},
		{"peer rejoined", `{"type":"peer","event":"rejoined","publicKey":"` + k + `"}`, "peer", ""},
		{"peer unknown event", `{"type":"peer","event":"danced","publicKey":"` + k + `"}`, "invalid", ""},
		{"peer short key", `{"type":"peer","event":"joined","publicKey":"AAAA"}`, "invalid", ""},
		{"peer bad base64", `{"type":"peer","event":"joined","publicKey":"!!"}`, "invalid", ""},
		{"signal", `{"type":"signal","signal":{"app":"bye"}}`, "signal", ""},
		{"signal missing", `{"type":"signal"}`, "invalid", ""},
		{"error", `{"type":"error","code":"ROOM_DESTROYED"}`, "error", protocol.CodeRoomDestroyed},
		{"error without code", `{"type":"error"}`, "error", protocol.CodeInternal},
		{"unknown type", `{"type":"future","x":1}`, "ignore", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := decodeMessage([]byte(tt.in))
			if err != nil {
				t.Fatalf("decodeMessage: %v", err)
			}
			ev, err := sessionEvent(m)
			var e *Error
			got := "ignore"
			switch {
			case errors.As(err, &e):
				got = "error"
				if e.Code != tt.wantCode {
					t.Errorf("code = %q, want %q", e.Code, tt.wantCode)
				}
			case err != nil:
				got = "invalid"
			case ev == nil:
			default:
				switch ev.(type) {
				case PeerEvent:
					got = "peer"
				case SignalEvent:
					got = "signal"
				}
			}
			if got != tt.wantType {
				t.Errorf("got %s (ev=%v err=%v), want %s", got, ev, err, tt.wantType)
			}
		})
	}
}

func TestDecodeMessageRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `{}`, `[]`, `{"type":"peer"} {}`, `{"type":1}`, `nul`} {
		if _, err := decodeMessage([]byte(in)); err == nil {
			t.Errorf("decodeMessage(%q) succeeded, want error", in)
		}
	}
}

func TestJoinedFromMessage(t *testing.T) {
	t.Parallel()
	key := make([]byte, ed25519.PublicKeySize)
	exp := int64(1_700_000_000_123)
	j, err := joinedFromMessage(protocol.Message{
		Type:       protocol.TypeJoined,
		ExpiresAt:  &exp,
		Peer:       b64.EncodeToString(key),
		PeerOnline: true,
		ICEServers: []protocol.ICEServer{{URLs: []string{"stun:stun.example.org"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !j.ExpiresAt.Equal(time.UnixMilli(exp)) || len(j.Peer) != ed25519.PublicKeySize || !j.PeerOnline || len(j.ICEServers) != 1 {
		t.Errorf("joined = %+v", j)
	}
	if _, err := joinedFromMessage(protocol.Message{Peer: "short"}); err == nil {
		t.Error("malformed peer key accepted")
	}
}

// FuzzDecodeServerMessage feeds arbitrary frames, as a hostile or broken
// server could send, through everything the client does with them.
func FuzzDecodeServerMessage(f *testing.F) {
	key := b64.EncodeToString(make([]byte, ed25519.PublicKeySize))
	for _, s := range []string{
		`{"type":"challenge","nonce":"` + b64.EncodeToString(make([]byte, 32)) + `"}`,
		`{"type":"joined","roomId":"V1StGXR8_Z5jdHi6B-myT","iceServers":[{"urls":["stun:x"]}],"expiresAt":1,"peer":"` + key + `","peerOnline":true}`,
		`{"type":"peer","event":"left","publicKey":"` + key + `"}`,
		`{"type":"signal","signal":{"session":"s1","description":{"type":"offer","sdp":"v=0"}}}`,
		`{"type":"signal","signal":{"candidate":{"candidate":"candidate:1","sdpMid":"0","sdpMLineIndex":0}}}`,
		`{"type":"error","code":"SHUTTING_DOWN","retryAfter":5}`,
		`{"type":"error","code":"RATE_LIMITED","retryAfter":-5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMessage(data)
		if err != nil {
			return
		}
		if j, err := joinedFromMessage(m); err == nil && j.Peer != nil && len(j.Peer) != ed25519.PublicKeySize {
			t.Fatalf("joined peer key of %d bytes", len(j.Peer))
		}
		ev, err := sessionEvent(m)
		var e *Error
		if errors.As(err, &e) && (e.Code == "" || e.RetryAfter < 0) {
			t.Fatalf("bad error %+v", e)
		}
		switch ev := ev.(type) {
		case PeerEvent:
			if len(ev.Key) != ed25519.PublicKeySize {
				t.Fatalf("peer key of %d bytes", len(ev.Key))
			}
		case SignalEvent:
			if _, err := json.Marshal(ev.Signal); err != nil {
				t.Fatalf("relayed signal does not re-encode: %v", err)
			}
		}
	})
}
