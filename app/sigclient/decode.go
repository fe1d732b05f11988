package sigclient

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
)

// b64 is the encoding of keys, nonces and signatures on the wire.
var b64 = base64.RawURLEncoding

// jsonUnmarshal decodes one JSON value and rejects trailing data.
func jsonUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// decodeMessage parses one WebSocket frame from the server. The server is
// not trusted: anything malformed is an error, never a panic.
func decodeMessage(data []byte) (protocol.Message, error) {
	var m protocol.Message
	if err := jsonUnmarshal(data, &m); err != nil {
		return protocol.Message{}, fmt.Errorf("decode server message: %w", err)
	}
	if m.Type == "" {
		return protocol.Message{}, errors.New("decode server message: missing type")
	}
	return m, nil
}

// decodeKey parses a base64url Ed25519 public key.
func decodeKey(s string) (ed25519.PublicKey, error) {
	k, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode public key: %w", err)
	}
	if len(k) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("decode public key: %d bytes, want %d", len(k), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(k), nil
}

// joinedFromMessage converts a joined message into a Joined event.
func joinedFromMessage(m protocol.Message) (Joined, error) {
	j := Joined{ICEServers: m.ICEServers, PeerOnline: m.PeerOnline}
	if len(m.Ticket) <= protocol.MaxTicketLength {
		j.Ticket = m.Ticket
	}
	if m.ExpiresAt != nil {
		t := time.UnixMilli(*m.ExpiresAt)
		j.ExpiresAt = &t
	}
	if m.Peer != "" {
		k, err := decodeKey(m.Peer)
		if err != nil {
			return Joined{}, fmt.Errorf("joined: peer: %w", err)
		}
		j.Peer = k
	}
	return j, nil
}

// sessionEvent converts a message received after the join into an event.
// It returns (nil, nil) for messages the client ignores (unknown types, kept
// for forward compatibility), and an *Error for a server error message
// (readLoop decides whether it ended the connection).
func sessionEvent(m protocol.Message) (Event, error) {
	switch m.Type {
	case protocol.TypePeer:
		switch m.Event {
		case protocol.PeerJoined, protocol.PeerLeft, protocol.PeerRejoined:
		default:
			return nil, fmt.Errorf("peer message: unknown event %q", m.Event)
		}
		k, err := decodeKey(m.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("peer message: %w", err)
		}
		return PeerEvent{Event: m.Event, Key: k}, nil
	case protocol.TypeSignal:
		if m.Signal == nil {
			return nil, errors.New("signal message without signal")
		}
		return SignalEvent{Signal: *m.Signal}, nil
	case protocol.TypeError:
		return nil, errorFromMessage(m)
	default:
		return nil, nil
	}
}
