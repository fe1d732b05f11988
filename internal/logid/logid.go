// Package logid makes the short tag that names a room id or a key in logs
// and error strings without revealing it. Both sides of Parley (the app
// and the signaling server) use it, so one room carries the same tag
// through every log.
//
// It imports only the standard library (app/boundaries_test.go checks).
package logid

import (
	"crypto/sha256"
	"encoding/hex"
)

// Of is a short, non-reversible tag of id for logs and error strings: the
// first 4 bytes of its SHA-256 in hex (8 characters). A room id is a
// capability (whoever holds it may join), so logs carry this instead; the
// same id always gives the same tag, on every side.
func Of(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:4])
}
