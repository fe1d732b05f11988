package room

import (
	"io"

	"github.com/parley-chat/parley/internal/randid"
	"github.com/parley-chat/parley/signaling/protocol"
)

// NewID returns a random id of n characters from protocol.RoomIDAlphabet,
// read from r (crypto/rand.Reader when r is nil). The alphabet has 64
// symbols, so each character takes 6 bits of a random byte; ids.FromAlphabet
// rejects rather than wraps, keeping ids unbiased should the alphabet ever
// change size.
func NewID(r io.Reader, n int) (string, error) {
	return randid.FromAlphabet(r, n, protocol.RoomIDAlphabet)
}
