package room

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/parley-chat/parley/signaling/protocol"
)

// NewID returns a random id of n characters from protocol.RoomIDAlphabet,
// read from r (crypto/rand.Reader when r is nil). The alphabet has 64
// symbols, so each character takes 6 bits of a random byte; the mask-and-
// reject loop below keeps ids unbiased should the alphabet ever change size.
func NewID(r io.Reader, n int) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	const alphabet = protocol.RoomIDAlphabet
	mask := byte(1)
	for int(mask) < len(alphabet)-1 {
		mask = mask<<1 | 1
	}
	out := make([]byte, 0, n)
	buf := make([]byte, n) // enough when nothing is rejected; refilled otherwise
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("read random bytes: %w", err)
		}
		for _, b := range buf {
			idx := int(b & mask)
			if idx >= len(alphabet) {
				continue // reject rather than wrap: wrapping would bias the first symbols
			}
			out = append(out, alphabet[idx])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}
