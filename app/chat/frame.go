package chat

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// Frame types carried in the "t" field.
const (
	typeMsg    = "msg"
	typeAck    = "ack"
	typeTyping = "typing"
	typeRead   = "read"
	// typeBye asks the peer to confirm it has everything we sent; typeByeAck
	// is that confirmation (see Conn.Goodbye).
	typeBye    = "bye"
	typeByeAck = "byeack"
	// Room control frames (versioned by "v"; peers from before them ignore
	// unknown types, and a receiver ignores a version it does not know):
	// typeDestroy says the sender destroyed the room, typeExpires carries
	// the room's self-destruct time (unix milliseconds in "ts").
	typeDestroy = "destroy"
	typeExpires = "expires"
	// controlVersion is the version of the control frames this side speaks.
	controlVersion = 1
)

const (
	// headerLen is the size of the big-endian uint32 length prefix.
	headerLen = 4
	// MaxFrameBytes bounds one frame body. JSON may escape a character of
	// text into six bytes (\u00XX), so a maximal message needs up to
	// 6*MaxTextBytes plus a little room for the other fields.
	MaxFrameBytes = 6*MaxTextBytes + 1024
	// maxIDLen bounds message ids coming from the peer.
	maxIDLen = 64
)

// ErrProtocol is wrapped by every error caused by malformed peer input.
var ErrProtocol = errors.New("chat: protocol error")

// frame is the JSON body of one wire frame. Which fields matter depends on T.
type frame struct {
	T    string `json:"t"`
	ID   string `json:"id,omitempty"`
	TS   int64  `json:"ts,omitempty"` // unix milliseconds, msg only
	Text string `json:"text,omitempty"`
	V    int    `json:"v,omitempty"` // control frames only
	// Message extensions (msg only; see Message). A peer from before them
	// ignores these fields and shows Text, which is why an op's Text is a
	// readable fallback.
	Re    string `json:"re,omitempty"`
	Op    string `json:"op,omitempty"`
	Of    string `json:"of,omitempty"`
	Emoji string `json:"emoji,omitempty"`
}

// encodeFrame returns the length prefix and JSON body as one buffer, so the
// frame goes out in a single Write.
func encodeFrame(f frame) ([]byte, error) {
	body, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("chat: encode %s frame: %w", f.T, err)
	}
	if len(body) > MaxFrameBytes {
		return nil, fmt.Errorf("chat: encode %s frame: %d bytes: %w", f.T, len(body), ErrTooLong)
	}
	buf := make([]byte, headerLen+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[headerLen:], body)
	return buf, nil
}

// readFrame reads one length-prefixed frame body from r. A length of zero or
// above MaxFrameBytes is a protocol error.
func readFrame(r io.Reader) ([]byte, error) {
	var hdr [headerLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > MaxFrameBytes {
		return nil, fmt.Errorf("%w: frame length %d outside 1..%d", ErrProtocol, n, MaxFrameBytes)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("chat: read frame body: %w", err)
	}
	return body, nil
}

// decodeFrame parses and validates one frame body from the untrusted peer.
// Unknown frame types decode without error (T is kept) so that newer peers
// can add frame types; the caller ignores them.
func decodeFrame(body []byte) (frame, error) {
	var f frame
	if !utf8.Valid(body) {
		return frame{}, fmt.Errorf("%w: frame is not valid UTF-8", ErrProtocol)
	}
	if err := json.Unmarshal(body, &f); err != nil {
		return frame{}, fmt.Errorf("%w: decode frame: %v", ErrProtocol, err)
	}
	switch f.T {
	case typeMsg:
		if !validID(f.ID) {
			return frame{}, fmt.Errorf("%w: msg frame with invalid id", ErrProtocol)
		}
		if len(f.Text) > MaxTextBytes {
			return frame{}, fmt.Errorf("%w: msg text of %d bytes", ErrProtocol, len(f.Text))
		}
		if !utf8.ValidString(f.Text) {
			return frame{}, fmt.Errorf("%w: msg text is not valid UTF-8", ErrProtocol)
		}
		f = checkExtensions(f)
	case typeAck, typeRead:
		if !validID(f.ID) {
			return frame{}, fmt.Errorf("%w: %s frame with invalid id", ErrProtocol, f.T)
		}
	case typeTyping, typeBye, typeByeAck, typeDestroy:
	case typeExpires:
		if f.V == controlVersion && f.TS <= 0 {
			return frame{}, fmt.Errorf("%w: expires frame without a time", ErrProtocol)
		}
	case "":
		return frame{}, fmt.Errorf("%w: frame without type", ErrProtocol)
	}
	return f, nil
}

// checkExtensions drops what this side cannot use of a msg frame's
// extensions, as an older peer would: a malformed reply id leaves a plain
// message, and an op it does not know (a newer peer's), or one with a
// malformed target or a reaction outside Reactions, is shown as its text.
// A well-formed op may still name a message that does not exist or that
// its sender may not change: the Handler refuses those.
func checkExtensions(f frame) frame {
	if f.Re != "" && !validID(f.Re) {
		f.Re = ""
	}
	ok := validID(f.Of)
	switch f.Op {
	case "":
	case OpEdit, OpDelete:
		ok = ok && f.Emoji == ""
	case OpReact:
		ok = ok && (f.Emoji == "" || IsReaction(f.Emoji))
	default:
		ok = false
	}
	if !ok || f.Op == "" {
		f.Op, f.Of, f.Emoji = "", "", ""
	}
	if f.Op != "" {
		f.Re = ""
	}
	return f
}

// validID reports whether id is 1..maxIDLen characters of the base64url
// alphabet.
func validID(id string) bool {
	if len(id) == 0 || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Timestamps from the peer are clamped into this window around the local
// clock; outside it the receive time is used instead.
var (
	minSentAt     = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	maxClockAhead = 24 * time.Hour
)

// sentAt turns the peer's unix-millisecond timestamp into a time, falling
// back to now when it is implausible (before 2020 or more than a day ahead).
func sentAt(ms int64, now time.Time) time.Time {
	t := time.UnixMilli(ms)
	if t.Before(minSentAt) || t.After(now.Add(maxClockAhead)) {
		return now
	}
	return t
}
