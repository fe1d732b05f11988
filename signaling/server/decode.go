package server

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/parley-chat/parley/signaling/protocol"
)

// FrameError is why a client frame was refused; Code is the wire code sent
// back in the error message.
type FrameError struct {
	Code   string
	Reason string
}

func (e *FrameError) Error() string { return e.Code + ": " + e.Reason }

func badFrame(format string, args ...any) *FrameError {
	return &FrameError{Code: protocol.CodeBadRequest, Reason: fmt.Sprintf(format, args...)}
}

// b64 is the key, nonce and signature encoding: base64url without padding,
// strict so every value has exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

// DecodeClientMessage parses one frame a client sent and checks its shape:
// a known client message type, and for signals exactly one of description,
// candidate or app, an offer or answer description, and the size limit.
// Join messages are checked for shape only (version, room id, key and
// signature encodings, and for version 2 the verifier and proof
// encodings); the signatures themselves are verified against the
// connection's nonce by VerifyJoin and VerifyRoomProof. A version 1 join
// comes back with Verifier and Proof cleared: it proves nothing.
func DecodeClientMessage(data []byte, maxBytes int) (protocol.Message, error) {
	var m protocol.Message
	if maxBytes > 0 && len(data) > maxBytes {
		return m, badFrame("message of %d bytes exceeds %d", len(data), maxBytes)
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return m, badFrame("message is not a JSON object")
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return protocol.Message{}, badFrame("malformed JSON")
	}
	switch m.Type {
	case protocol.TypeJoin:
		if m.Version < protocol.MinVersion || m.Version > protocol.Version {
			return m, &FrameError{Code: protocol.CodeUnsupportedVersion, Reason: fmt.Sprintf("protocol version %d, server speaks %d to %d", m.Version, protocol.MinVersion, protocol.Version)}
		}
		if !protocol.ValidRoomID(m.RoomID) {
			return m, badFrame("malformed room id")
		}
		if _, err := fixedB64(m.PublicKey, ed25519.PublicKeySize, "public key"); err != nil {
			return m, err
		}
		if _, err := fixedB64(m.Signature, ed25519.SignatureSize, "signature"); err != nil {
			return m, err
		}
		if len(m.Ticket) > protocol.MaxTicketLength {
			return m, badFrame("ticket too long")
		}
		if m.Version < 2 {
			m.Verifier, m.Proof = "", ""
			break
		}
		if _, err := fixedB64(m.Verifier, protocol.VerifierSize, "room verifier"); err != nil {
			return m, err
		}
		if _, err := fixedB64(m.Proof, ed25519.SignatureSize, "room proof"); err != nil {
			return m, err
		}
	case protocol.TypeSignal:
		if err := validateSignal(m.Signal); err != nil {
			return m, err
		}
	case protocol.TypeLeave, protocol.TypeDestroy:
	case "":
		return m, badFrame("missing message type")
	default:
		return m, badFrame("unknown message type")
	}
	return m, nil
}

func validateSignal(s *protocol.Signal) error {
	if s == nil {
		return badFrame("signal message without signal")
	}
	parts := 0
	if s.Description != nil {
		parts++
		if t := s.Description.Type; t != "offer" && t != "answer" {
			return badFrame("description type must be offer or answer")
		}
		if s.Description.SDP == "" {
			return badFrame("description without sdp")
		}
	}
	if s.Candidate != nil {
		parts++
	}
	if len(s.App) > 0 && !bytes.Equal(bytes.TrimSpace(s.App), []byte("null")) {
		parts++
	}
	if parts != 1 {
		return badFrame("signal must carry exactly one of description, candidate, app (has %d)", parts)
	}
	if len(s.Session) > 128 {
		return badFrame("session tag too long")
	}
	return nil
}

// VerifyJoin checks a join message's signature over
// protocol.JoinSigningBytes(roomId, nonce) and returns the canonical
// encoding of the public key, which identifies the participant.
func VerifyJoin(m protocol.Message, nonce []byte) (string, error) {
	key, err := fixedB64(m.PublicKey, ed25519.PublicKeySize, "public key")
	if err != nil {
		return "", err
	}
	sig, err := fixedB64(m.Signature, ed25519.SignatureSize, "signature")
	if err != nil {
		return "", err
	}
	if !ed25519.Verify(ed25519.PublicKey(key), protocol.JoinSigningBytes(m.RoomID, nonce), sig) {
		return "", &FrameError{Code: protocol.CodeUnauthorized, Reason: "signature does not verify"}
	}
	return b64.EncodeToString(key), nil
}

// VerifyRoomProof checks a version 2 join's proof that the joiner holds
// the room link's secret: an Ed25519 signature by the verifier key over
// protocol.ProofSigningBytes(roomId, nonce, publicKey). It returns the
// canonical encoding of the proven verifier, or "" for a version 1 join,
// which proves nothing. Whether the room wants that verifier is the
// room store's decision (room.Store.Join).
func VerifyRoomProof(m protocol.Message, nonce []byte) (string, error) {
	if m.Version < 2 {
		return "", nil
	}
	key, err := fixedB64(m.PublicKey, ed25519.PublicKeySize, "public key")
	if err != nil {
		return "", err
	}
	v, err := fixedB64(m.Verifier, protocol.VerifierSize, "room verifier")
	if err != nil {
		return "", err
	}
	proof, err := fixedB64(m.Proof, ed25519.SignatureSize, "room proof")
	if err != nil {
		return "", err
	}
	if !ed25519.Verify(ed25519.PublicKey(v), protocol.ProofSigningBytes(m.RoomID, nonce, key), proof) {
		return "", &FrameError{Code: protocol.CodeUnauthorized, Reason: "room proof does not verify"}
	}
	return b64.EncodeToString(v), nil
}

// fixedB64 decodes a join credential that must be exactly n bytes; a
// malformed one is UNAUTHORIZED, like a signature that does not verify.
func fixedB64(s string, n int, what string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil || len(b) != n {
		return nil, &FrameError{Code: protocol.CodeUnauthorized, Reason: "malformed " + what}
	}
	return b, nil
}
