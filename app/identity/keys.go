package identity

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
)

// encodedKeyLen is the length of an Ed25519 public key in base64url without
// padding.
const encodedKeyLen = 43

// EncodeKey encodes a public key the way the signaling protocol carries it:
// base64url without padding.
func EncodeKey(pub ed25519.PublicKey) string {
	return base64.RawURLEncoding.EncodeToString(pub)
}

// DecodeKey parses a public key in the EncodeKey form. It is strict: exactly
// 43 characters of the base64url alphabet, canonical trailing bits, 32 bytes.
// Keys come from the network, so anything else is rejected.
func DecodeKey(s string) (ed25519.PublicKey, error) {
	if len(s) != encodedKeyLen {
		return nil, fmt.Errorf("decode public key: length %d, want %d", len(s), encodedKeyLen)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode public key: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("decode public key: %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

var fingerprintEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Fingerprint returns a short, human-comparable form of a public key: the
// first 80 bits of its SHA-256 in base32, as four groups of four characters
// ("ABCD EFGH IJKL MNOP"). It is for recognising a key at a glance; to
// verify a peer, compare SafetyNumber.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	s := fingerprintEncoding.EncodeToString(sum[:10]) // 80 bits = 16 characters
	return s[0:4] + " " + s[4:8] + " " + s[8:12] + " " + s[12:16]
}

// Safety number parameters, after Signal's numeric fingerprints: each key is
// hashed with SHA-512 many times (slowing down searches for a colliding key)
// and its first 30 bytes become six 5-digit groups.
const (
	safetyIterations = 5200
	safetyDomain     = "parley-safety-number-v1"
)

// SafetyNumber returns the 60-digit number, in 12 groups of 5, that two
// participants compare out of band to be sure they talk to each other and to
// nobody in between. It is the same whichever key is passed first.
func SafetyNumber(a, b ed25519.PublicKey) string {
	x, y := safetyHalf(a), safetyHalf(b)
	if y < x {
		x, y = y, x
	}
	digits := x + y
	groups := make([]string, 0, 12)
	for i := 0; i < len(digits); i += 5 {
		groups = append(groups, digits[i:i+5])
	}
	return strings.Join(groups, " ")
}

// safetyHalf returns the 30 digits one key contributes.
func safetyHalf(pub ed25519.PublicKey) string {
	h := sha512.New()
	h.Write([]byte(safetyDomain))
	h.Write(pub)
	sum := h.Sum(nil)
	for i := 0; i < safetyIterations; i++ {
		h.Reset()
		h.Write(sum)
		h.Write(pub)
		sum = h.Sum(sum[:0])
	}
	var sb strings.Builder
	var buf [8]byte
	for i := 0; i < 30; i += 5 {
		copy(buf[3:], sum[i:i+5])
		fmt.Fprintf(&sb, "%05d", binary.BigEndian.Uint64(buf[:])%100000)
	}
	return sb.String()
}
