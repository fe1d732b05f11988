// Package protocol defines Parley's signaling wire format: the JSON bodies of
// the HTTP API and the messages exchanged over the /ws WebSocket.
//
// Both parley-signal and the app import this package, so the wire format has
// exactly one definition. It must import only the standard library. Any
// incompatible change bumps Version; docs/protocol.md describes the same
// types in prose.
package protocol

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
)

// Version is the protocol version a client announces in its join message.
// Version 2 added the room verifier: a version 2 join carries Verifier and
// Proof (see ProofSigningBytes).
const Version = 2

// MinVersion is the oldest join version the server still accepts. A
// version 1 join carries no proof, so it is admitted only to rooms created
// without a verifier (by apps older than version 2).
const MinVersion = 1

// Limits that both sides rely on.
const (
	// RoomIDLength is the length of a room id.
	RoomIDLength = 21
	// MaxSelfDestructSeconds is the longest self-destruct timer (7 days).
	MaxSelfDestructSeconds = 604800
	// NonceSize is the size in bytes of the server's join challenge.
	NonceSize = 32
	// MaxTicketLength caps a room ticket on the wire.
	MaxTicketLength = 128
	// VerifierSize is the size of a room verifier (an Ed25519 public key).
	VerifierSize = ed25519.PublicKeySize
	// DefaultMaxMessageBytes is the default cap on one WebSocket message.
	// SDP fits comfortably; file contents never travel through signaling.
	DefaultMaxMessageBytes = 64 << 10
)

// RoomIDAlphabet is the nanoid alphabet room ids are drawn from.
const RoomIDAlphabet = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict"

// ValidRoomID reports whether s has the shape of a room id: exactly
// RoomIDLength characters of [A-Za-z0-9_-].
func ValidRoomID(s string) bool {
	if len(s) != RoomIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Error codes carried on the wire (HTTP {"error": code} bodies and WebSocket
// error messages). They are stable: clients branch on them and the UI maps
// them to sentences.
const (
	CodeRoomNotFound       = "ROOM_NOT_FOUND"
	CodeRoomFull           = "ROOM_FULL"
	CodeRoomDestroyed      = "ROOM_DESTROYED"
	CodeTimerExpired       = "TIMER_EXPIRED"
	CodeBadRequest         = "BAD_REQUEST"
	CodeRateLimited        = "RATE_LIMITED"
	CodeUnsupportedVersion = "UNSUPPORTED_VERSION"
	// CodeUnauthorized: the join signature did not verify, or the room has
	// a verifier and the join's proof of the link secret is missing or wrong.
	CodeUnauthorized = "UNAUTHORIZED"
	// CodeReplaced: the same key joined the room on a newer connection; the
	// older connection is closed with this code and must not reconnect on its own.
	CodeReplaced = "REPLACED"
	// CodeServerBusy: max rooms or max connections reached.
	CodeServerBusy = "SERVER_BUSY"
	// CodeShuttingDown: the server is going away; reconnect with backoff.
	CodeShuttingDown = "SHUTTING_DOWN"
	// CodeInternal: an unexpected server-side failure.
	CodeInternal = "INTERNAL"
)

// ---- HTTP API ----

// CreateRoomRequest is the optional JSON body of POST /api/rooms.
type CreateRoomRequest struct {
	// SelfDestructSeconds, when set, must be a whole number from 1 to
	// MaxSelfDestructSeconds.
	SelfDestructSeconds *int64 `json:"selfDestructSeconds,omitempty"`
	// Verifier is the room's join verifier: the Ed25519 public key of
	// RoomKey(link secret), base64url without padding. A room created with
	// one admits and lets destroy only connections that prove they hold
	// the link secret. Apps since protocol version 2 always send it.
	Verifier string `json:"verifier,omitempty"`
}

// CreateRoomResponse is the 201 body of POST /api/rooms.
type CreateRoomResponse struct {
	RoomID    string `json:"roomId"`
	CreatedAt int64  `json:"createdAt"` // unix milliseconds
	ExpiresAt *int64 `json:"expiresAt"` // unix milliseconds, or null without a self-destruct timer
}

// RoomInfo is the 200 body of GET /api/rooms/{id}.
type RoomInfo struct {
	RoomID    string `json:"roomId"`
	CreatedAt int64  `json:"createdAt"`
	Connected int    `json:"connected"` // 0, 1 or 2
	ExpiresAt *int64 `json:"expiresAt"`
}

// ErrorResponse is the body of every HTTP error.
type ErrorResponse struct {
	Error string `json:"error"`
}

// ---- WebSocket messages ----

// Message types. Client to server: join, signal, leave, destroy.
// Server to client: challenge, joined, peer, signal, error.
const (
	TypeChallenge = "challenge"
	TypeJoin      = "join"
	TypeJoined    = "joined"
	TypePeer      = "peer"
	TypeSignal    = "signal"
	TypeLeave     = "leave"
	TypeDestroy   = "destroy"
	TypeError     = "error"
)

// Peer events carried by TypePeer messages.
const (
	PeerJoined   = "joined"   // the other participant joined for the first time on this server
	PeerLeft     = "left"     // the other participant's connection ended
	PeerRejoined = "rejoined" // the other participant came back (new connection, same key)
)

// Message is the one envelope for every WebSocket frame (a JSON text
// message). Type says which of the optional fields are meaningful; unknown
// fields are ignored by both sides.
type Message struct {
	Type string `json:"type"`

	// challenge (server → client): a fresh random nonce, base64url without padding.
	Nonce string `json:"nonce,omitempty"`

	// join (client → server).
	Version int    `json:"version,omitempty"`
	RoomID  string `json:"roomId,omitempty"`
	// PublicKey is the participant's Ed25519 public key, base64url without padding.
	PublicKey string `json:"publicKey,omitempty"`
	// Signature is Ed25519(JoinSigningBytes(roomId, nonce)), base64url without padding.
	Signature string `json:"signature,omitempty"`
	// Verifier (version 2 joins) is the room verifier the joiner proves it
	// holds the key of, base64url without padding.
	Verifier string `json:"verifier,omitempty"`
	// Proof (version 2 joins) is Ed25519(RoomKey(secret),
	// ProofSigningBytes(roomId, nonce, publicKey)), base64url without
	// padding: proof that the joiner holds the room link's secret.
	Proof string `json:"proof,omitempty"`

	// Ticket (joined: server → client; join: client → server) is the
	// server's signed statement that the room exists, with its creation
	// and self-destruct times. A client keeps the newest one and sends it
	// with every join, so a server that lost the room (a restart without
	// shared state) can bring it back instead of answering ROOM_NOT_FOUND.
	// It is opaque to clients.
	Ticket string `json:"ticket,omitempty"`
	// joined (server → client).
	ICEServers []ICEServer `json:"iceServers,omitempty"`
	ExpiresAt  *int64      `json:"expiresAt,omitempty"`
	// Peer is the other participant's public key when it is known to the
	// room (it has joined before), whether or not it is online now.
	Peer       string `json:"peer,omitempty"`
	PeerOnline bool   `json:"peerOnline,omitempty"`

	// peer (server → client): one of PeerJoined, PeerLeft, PeerRejoined.
	// PublicKey carries the peer's key.
	Event string `json:"event,omitempty"`

	// signal (both ways): relayed to the other participant untouched, apart
	// from size and shape checks.
	Signal *Signal `json:"signal,omitempty"`

	// error (server → client).
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// RetryAfter in seconds, for RATE_LIMITED and SHUTTING_DOWN.
	RetryAfter int `json:"retryAfter,omitempty"`
}

// Signal is what one participant hands the other through the server. The
// server only checks that exactly one part is set and the size limit.
type Signal struct {
	// Session tags the sender's PeerConnection generation so the receiver can
	// drop candidates that belong to an older connection.
	Session string `json:"session,omitempty"`

	Description *SessionDescription `json:"description,omitempty"`
	Candidate   *ICECandidate       `json:"candidate,omitempty"`
	// App is an application-defined small JSON value (e.g. "bye").
	App json.RawMessage `json:"app,omitempty"`
}

// SessionDescription mirrors RTCSessionDescriptionInit.
type SessionDescription struct {
	Type string `json:"type"` // "offer" or "answer" (or "rollback", never relayed)
	SDP  string `json:"sdp"`
}

// ICECandidate mirrors RTCIceCandidateInit.
type ICECandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// ICEServer mirrors RTCIceServer. Credentials are short-lived when the server
// hands out TURN credentials.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// joinContext separates join signatures from any other use of the key.
const joinContext = "parley-signal-join-v1"

// JoinSigningBytes returns the bytes a client signs to prove it owns its
// key: a fixed context string, the room id and the server's nonce (the
// decoded bytes), separated by zero bytes. Binding the room id stops a
// signature from being replayed into another room.
func JoinSigningBytes(roomID string, nonce []byte) []byte {
	b := make([]byte, 0, len(joinContext)+1+len(roomID)+1+len(nonce))
	b = append(b, joinContext...)
	b = append(b, 0)
	b = append(b, roomID...)
	b = append(b, 0)
	b = append(b, nonce...)
	return b
}

// Context strings of the room verifier: roomKeyContext separates the
// verifier key from every other key derived from the link secret;
// proofContext separates proofs from any other signature by that key.
const (
	roomKeyContext = "parley-room-verifier-v1"
	proofContext   = "parley-signal-room-proof-v1"
)

// RoomKey derives the room's verifier key from the room link's secret:
// the Ed25519 key whose seed is HKDF-SHA256(secret, no salt,
// "parley-room-verifier-v1"). Its public half, the verifier, is registered
// with the server when the room is created; the server never sees the
// secret or this private key, so it can check proofs but not make them.
// secret is the link's 16 random bytes.
func RoomKey(secret []byte) ed25519.PrivateKey {
	seed, err := hkdf.Key(sha256.New, secret, nil, roomKeyContext, ed25519.SeedSize)
	if err != nil {
		// hkdf.Key fails only for an output longer than 255 hashes.
		panic("protocol: room key derivation: " + err.Error())
	}
	return ed25519.NewKeyFromSeed(seed)
}

// ProofSigningBytes returns the bytes a version 2 client signs with its
// RoomKey to prove it holds the room link's secret: a fixed context
// string, the room id, the server's nonce (the decoded bytes) and the
// joiner's identity public key, separated by zero bytes. The room id and
// the fresh nonce stop a proof from being replayed into another room or
// connection; the identity key stops a proof from being lifted onto
// another joiner's join on the same connection.
func ProofSigningBytes(roomID string, nonce, publicKey []byte) []byte {
	b := make([]byte, 0, len(proofContext)+1+len(roomID)+1+len(nonce)+1+len(publicKey))
	b = append(b, proofContext...)
	b = append(b, 0)
	b = append(b, roomID...)
	b = append(b, 0)
	b = append(b, nonce...)
	b = append(b, 0)
	b = append(b, publicKey...)
	return b
}
