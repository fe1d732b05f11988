package history

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// TestSealIsXChaCha20Poly1305 pins the cipher that docs/threat-model.md
// names: a sealed value is a 24-byte nonce and an XChaCha20-Poly1305
// box that an independent XChaCha20-Poly1305 opens, and the threat model
// says so (it once claimed AES-256-GCM).
func TestSealIsXChaCha20Poly1305(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	s, err := newSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	plain, ad := []byte("hello"), []byte("msg\x00room\x00id")
	sealed, err := s.seal(plain, ad)
	if err != nil {
		t.Fatal(err)
	}
	if want := chacha20poly1305.NonceSizeX + len(plain) + chacha20poly1305.Overhead; len(sealed) != want {
		t.Fatalf("sealed value has %d bytes, want %d (24-byte nonce + box)", len(sealed), want)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := aead.Open(nil, sealed[:chacha20poly1305.NonceSizeX], sealed[chacha20poly1305.NonceSizeX:], ad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("an independent XChaCha20-Poly1305 does not open the sealed value: %v", err)
	}

	doc, err := os.ReadFile("../../docs/threat-model.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "XChaCha20-Poly1305") || strings.Contains(string(doc), "AES-256-GCM") {
		t.Error("docs/threat-model.md must name XChaCha20-Poly1305 for history at rest, and not AES-256-GCM")
	}
}
