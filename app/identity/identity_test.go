package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	t.Parallel()
	s := NewFileStore(t.TempDir())
	a, err := LoadOrCreate(s, "alice")
	if err != nil {
		t.Fatalf("LoadOrCreate: %v", err)
	}
	a2, err := LoadOrCreate(s, "alice")
	if err != nil {
		t.Fatalf("LoadOrCreate again: %v", err)
	}
	if !a.PublicKey().Equal(a2.PublicKey()) {
		t.Fatal("identity not stable across loads")
	}
	b, err := LoadOrCreate(s, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if a.PublicKey().Equal(b.PublicKey()) {
		t.Fatal("two profiles share a key")
	}
	if a.Fingerprint() != Fingerprint(a.PublicKey()) {
		t.Fatal("Fingerprint method and function disagree")
	}
	msg := []byte("join challenge")
	if !ed25519.Verify(a.PublicKey(), msg, ed25519.Sign(a.PrivateKey(), msg)) {
		t.Fatal("private and public key do not match")
	}
}

func TestLoadOrCreateRejects(t *testing.T) {
	t.Parallel()
	s := NewFileStore(t.TempDir())
	for _, p := range []string{"", ".hidden", "a/b", "a b", strings.Repeat("x", 65), "é"} {
		if _, err := LoadOrCreate(s, p); err == nil {
			t.Errorf("profile %q accepted", p)
		}
	}
	// A stored seed of the wrong size is reported, never replaced.
	if err := s.Set("carol/identity", []byte("short")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(s, "carol"); err == nil || !strings.Contains(err.Error(), "5 bytes") {
		t.Fatalf("wrong-size seed: got %v", err)
	}
	if got, _ := s.Get("carol/identity"); string(got) != "short" {
		t.Fatal("wrong-size seed was overwritten")
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	t.Parallel()
	s := NewFileStore(t.TempDir())
	k, err := LoadOrCreateSecret(s, "p/history-key", 32)
	if err != nil || len(k) != 32 {
		t.Fatalf("LoadOrCreateSecret = %d bytes, %v", len(k), err)
	}
	k2, err := LoadOrCreateSecret(s, "p/history-key", 32)
	if err != nil || !bytes.Equal(k, k2) {
		t.Fatalf("secret not stable: %v", err)
	}
	if _, err := LoadOrCreateSecret(s, "p/history-key", 16); err == nil {
		t.Fatal("size mismatch accepted")
	}
	for _, size := range []int{0, -1, MaxSecretSize + 1} {
		if _, err := LoadOrCreateSecret(s, "p/other", size); err == nil {
			t.Errorf("size %d accepted", size)
		}
	}
}

// TestIdentityNeverShowsPrivateKey prints and logs an Identity every way we
// can think of and looks for the private key in any common encoding.
func TestIdentityNeverShowsPrivateKey(t *testing.T) {
	t.Parallel()
	id, err := LoadOrCreate(NewFileStore(t.TempDir()), "p")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("ptr", "id", id)
	logger.Info("val", "id", *id)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("text", "id", id)
	out := logs.String() +
		fmt.Sprint(id, *id) + fmt.Sprintf("%v %+v %#v %s %v %+v %#v", id, id, id, id, *id, *id, *id)

	priv, seed := id.PrivateKey(), id.PrivateKey().Seed()
	for _, secret := range []string{
		hex.EncodeToString(seed), hex.EncodeToString(priv),
		base64.StdEncoding.EncodeToString(seed), base64.RawURLEncoding.EncodeToString(seed),
		base64.StdEncoding.EncodeToString(priv)[:40],
		fmt.Sprint([]byte(seed))[:40], fmt.Sprintf("%#v", []byte(seed))[:40],
	} {
		if strings.Contains(out, secret) {
			t.Fatalf("private key leaked in output:\n%s", out)
		}
	}
	if !strings.Contains(out, id.Fingerprint()) {
		t.Fatalf("output does not show the fingerprint:\n%s", out)
	}
}
