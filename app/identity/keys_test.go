package identity

import (
	"crypto/ed25519"
	"regexp"
	"strings"
	"testing"
)

// testKey derives a fixed public key, so golden values stay stable.
func testKey(b byte) ed25519.PublicKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b
	}
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}

func TestFingerprintGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		seed byte
		want string
	}{
		{1, "GR2Q 7GF5 LH6P ZFDN"},
		{2, "NI4A HVPQ LGIC UHDN"},
	}
	shape := regexp.MustCompile(`^[A-Z2-7]{4} [A-Z2-7]{4} [A-Z2-7]{4} [A-Z2-7]{4}$`)
	for _, tt := range tests {
		got := Fingerprint(testKey(tt.seed))
		if !shape.MatchString(got) {
			t.Errorf("Fingerprint %q has the wrong shape", got)
		}
		if got != tt.want {
			t.Errorf("Fingerprint(seed %d) = %q, want %q", tt.seed, got, tt.want)
		}
	}
}

func TestSafetyNumber(t *testing.T) {
	t.Parallel()
	a, b, c := testKey(1), testKey(2), testKey(3)
	const golden = "49044 84173 64296 92190 32043 19555 84918 76357 69904 12511 15144 46733"
	ab, ba := SafetyNumber(a, b), SafetyNumber(b, a)
	if ab != ba {
		t.Fatalf("not symmetric: %q vs %q", ab, ba)
	}
	if ab != golden {
		t.Errorf("SafetyNumber = %q, want %q", ab, golden)
	}
	if !regexp.MustCompile(`^\d{5}( \d{5}){11}$`).MatchString(ab) {
		t.Errorf("SafetyNumber %q is not 12 groups of 5 digits", ab)
	}
	if SafetyNumber(a, c) == ab || SafetyNumber(c, b) == ab {
		t.Error("different pairs share a safety number")
	}
	// Each half is one key's contribution: changing one key changes one half.
	ac := SafetyNumber(a, c)
	if !strings.Contains(ab, safetyGroups(a)) || !strings.Contains(ac, safetyGroups(a)) {
		t.Error("a's half missing from its safety numbers")
	}
}

func safetyGroups(k ed25519.PublicKey) string {
	h := safetyHalf(k)
	return strings.Join([]string{h[0:5], h[5:10], h[10:15], h[15:20], h[20:25], h[25:30]}, " ")
}

func TestEncodeDecodeKey(t *testing.T) {
	t.Parallel()
	k := testKey(7)
	s := EncodeKey(k)
	if len(s) != 43 || strings.ContainsAny(s, "+/=") {
		t.Fatalf("EncodeKey = %q, want 43 base64url characters", s)
	}
	got, err := DecodeKey(s)
	if err != nil || !got.Equal(k) {
		t.Fatalf("DecodeKey = %x, %v", got, err)
	}
}

func TestDecodeKeyRejects(t *testing.T) {
	t.Parallel()
	good := EncodeKey(testKey(7))
	// 43 characters carry 258 bits: the last character's two low bits must
	// be zero. Setting one gives a second spelling of the same key.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	nonCanonical := good[:42] + string(alphabet[strings.IndexByte(alphabet, good[42])|1])
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"short", good[:42]},
		{"long", good + "A"},
		{"padded", good + "="},
		{"std alphabet", strings.Repeat("+", 42) + "A"},
		{"newline inside", good[:20] + "\n" + good[21:]},
		{"space", " " + good[1:]},
		{"non-canonical bits", nonCanonical},
		{"hex", strings.Repeat("ab", 21) + "a"},
		{"unicode", "é" + good[2:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if k, err := DecodeKey(tt.in); err == nil {
				t.Fatalf("DecodeKey(%q) = %x, want error", tt.in, k)
			}
		})
	}
}

func FuzzDecodeKey(f *testing.F) {
	f.Add(EncodeKey(testKey(1)))
	f.Add("")
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("_", 43))
	f.Fuzz(func(t *testing.T, s string) {
		k, err := DecodeKey(s)
		if err != nil {
			return
		}
		if len(k) != ed25519.PublicKeySize {
			t.Fatalf("decoded %d bytes", len(k))
		}
		if EncodeKey(k) != s {
			t.Fatalf("round trip changed %q into %q", s, EncodeKey(k))
		}
		_ = Fingerprint(k)
	})
}
