// Package randid makes random identifiers (crypto/rand) for both sides of
// Parley: message, call, transfer and node ids, and room ids over their
// own alphabet.
//
// It imports only the standard library (app/boundaries_test.go checks).
// Secrets (room secrets, tokens, nonces, keys) are not ids: their call
// sites read crypto/rand themselves, where a reviewer looks for them.
package randid

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
)

// Base64 returns n random bytes (crypto/rand) in unpadded base64url:
// 16 bytes give 22 characters.
func Base64(n int) string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(n))
}

// Hex returns n random bytes (crypto/rand) in lower-case hex.
func Hex(n int) string {
	return hex.EncodeToString(randomBytes(n))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails: it crashes the program instead (Go 1.24)
	return b
}

// FromAlphabet returns n characters drawn uniformly from alphabet (at most
// 256 distinct bytes), reading randomness from r (crypto/rand.Reader when
// r is nil; tests pass a fixed stream). Each character takes the low bits
// of one random byte; values beyond the alphabet are rejected, not
// wrapped, so no symbol is more likely than another whatever the
// alphabet's size.
func FromAlphabet(r io.Reader, n int, alphabet string) (string, error) {
	if len(alphabet) == 0 || len(alphabet) > 256 {
		return "", fmt.Errorf("randid: alphabet of %d symbols", len(alphabet))
	}
	if r == nil {
		r = rand.Reader
	}
	mask := 0
	for mask < len(alphabet)-1 {
		mask = mask<<1 | 1
	}
	out := make([]byte, 0, n)
	buf := make([]byte, n) // enough when nothing is rejected; refilled otherwise
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("read random bytes: %w", err)
		}
		for _, b := range buf {
			idx := int(b) & mask
			if idx >= len(alphabet) {
				continue
			}
			out = append(out, alphabet[idx])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}
