package peer

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrVerifyFailed means the other side could not prove that it holds the
// room secret and terminates the DTLS connection we see: a wrong room
// secret, a wrong identity key or a man in the middle. The PeerConnection
// is closed.
var ErrVerifyFailed = errors.New("VERIFY_FAILED: peer verification failed")

// Verification wire format: the first message each side sends on the chat
// channel is tagVersion followed by the 32-byte tag.
const (
	tagVersion  = 1
	tagFrameLen = 1 + sha256.Size
	// Labels that separate these HMACs from any other use of the secret.
	verifyKeyLabel = "parley-verify-key-v1"
	verifyLabel    = "parley-verify-v1"
)

// verifyKey derives kv = HMAC-SHA256(key=secret, "parley-verify-key-v1").
func verifyKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(verifyKeyLabel))
	return m.Sum(nil)
}

// computeTag returns HMAC-SHA256(kv, "parley-verify-v1" || 0 || roomID || 0 ||
// senderKey || senderFP || receiverFP). Binding both DTLS fingerprints means
// a relay that terminates DTLS on either leg (so the fingerprints differ
// between the two legs) cannot forward a tag that verifies.
func computeTag(secret []byte, roomID string, senderKey ed25519.PublicKey, senderFP, receiverFP []byte) ([]byte, error) {
	if len(senderKey) != ed25519.PublicKeySize || len(senderFP) != sha256.Size || len(receiverFP) != sha256.Size {
		return nil, fmt.Errorf("peer: compute tag: bad input sizes key=%d fp=%d/%d", len(senderKey), len(senderFP), len(receiverFP))
	}
	m := hmac.New(sha256.New, verifyKey(secret))
	m.Write([]byte(verifyLabel))
	m.Write([]byte{0})
	m.Write([]byte(roomID))
	m.Write([]byte{0})
	m.Write(senderKey)
	m.Write(senderFP)
	m.Write(receiverFP)
	return m.Sum(nil), nil
}

// tagFrame frames a tag for the wire.
func tagFrame(tag []byte) []byte {
	b := make([]byte, 0, tagFrameLen)
	b = append(b, tagVersion)
	return append(b, tag...)
}

// checkTagFrame compares a received frame with the expected tag in
// constant time.
func checkTagFrame(frame, want []byte) error {
	if len(frame) != tagFrameLen {
		return fmt.Errorf("%w: tag frame of %d bytes", ErrVerifyFailed, len(frame))
	}
	if frame[0] != tagVersion {
		return fmt.Errorf("%w: unknown tag version %d", ErrVerifyFailed, frame[0])
	}
	if !hmac.Equal(frame[1:], want) {
		return fmt.Errorf("%w: tag mismatch", ErrVerifyFailed)
	}
	return nil
}
