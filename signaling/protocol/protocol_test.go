package protocol_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"testing"

	"github.com/parley-chat/parley/signaling/protocol"
)

// The verifier derivation is shared by every app (the creator registers
// the verifier, the other participant proves it), so it is pinned: the
// seed below was computed independently (HKDF-SHA256 by hand with Python's
// hmac module) for the secret 00 01 .. 0f.
func TestRoomKeyKnownAnswer(t *testing.T) {
	t.Parallel()
	secret := make([]byte, 16)
	for i := range secret {
		secret[i] = byte(i)
	}
	const wantSeed = "4acc731a6ce82a5ce46bb74851ce9eac2176b84c77b8e40a42f8506bbf94b879"
	if got := hex.EncodeToString(protocol.RoomKey(secret).Seed()); got != wantSeed {
		t.Fatalf("RoomKey seed %s, want %s", got, wantSeed)
	}
	other := bytes.Clone(secret)
	other[15] ^= 1
	if protocol.RoomKey(secret).Equal(protocol.RoomKey(other)) {
		t.Fatal("two secrets gave one key")
	}
}

func TestProofSigningBytes(t *testing.T) {
	t.Parallel()
	nonce := bytes.Repeat([]byte{0xAA}, protocol.NonceSize)
	pub := bytes.Repeat([]byte{0xBB}, ed25519.PublicKeySize)
	id := "AAAAAAAAAAAAAAAAAAAAA"
	got := protocol.ProofSigningBytes(id, nonce, pub)
	want := append([]byte("parley-signal-room-proof-v1\x00"+id+"\x00"), nonce...)
	want = append(append(want, 0), pub...)
	if !bytes.Equal(got, want) {
		t.Fatalf("ProofSigningBytes = %q, want %q", got, want)
	}
	// A proof is never a join signature: the contexts differ.
	if bytes.HasPrefix(protocol.JoinSigningBytes(id, nonce), []byte("parley-signal-room-proof")) {
		t.Fatal("join and proof contexts collide")
	}
}
