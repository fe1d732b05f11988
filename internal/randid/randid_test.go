package randid_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-chat/parley/internal/randid"
)

func TestBase64AndHex(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		gen     func() string
		decode  func(string) ([]byte, error)
		wantLen int // characters
		bytes   int
	}{
		{"Base64(16)", func() string { return randid.Base64(16) }, base64.RawURLEncoding.DecodeString, 22, 16},
		{"Base64(12)", func() string { return randid.Base64(12) }, base64.RawURLEncoding.DecodeString, 16, 12},
		{"Hex(12)", func() string { return randid.Hex(12) }, hex.DecodeString, 24, 12},
		{"Hex(8)", func() string { return randid.Hex(8) }, hex.DecodeString, 16, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			seen := make(map[string]bool)
			for range 1000 {
				id := tt.gen()
				b, err := tt.decode(id)
				if len(id) != tt.wantLen || err != nil || len(b) != tt.bytes {
					t.Fatalf("%q: %d characters, %v", id, len(id), err)
				}
				if seen[id] {
					t.Fatalf("%q twice", id)
				}
				seen[id] = true
			}
		})
	}
}

func TestFromAlphabet(t *testing.T) {
	t.Parallel()
	const a64 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"
	tests := []struct {
		name     string
		r        []byte
		n        int
		alphabet string
		want     string
		wantErr  bool
	}{
		{name: "low bits pick the symbol", r: []byte{0xFF, 0x00, 0x41, 0x80}, n: 4, alphabet: a64, want: "-010"},
		{name: "out-of-range values are skipped", r: []byte{3, 7, 0, 2, 1, 9}, n: 3, alphabet: "abc", want: "acb"},
		{name: "runs dry", r: []byte{3, 3}, n: 2, alphabet: "abc", wantErr: true},
		{name: "empty alphabet", r: []byte{1}, n: 1, alphabet: "", wantErr: true},
		{name: "zero length", r: nil, n: 0, alphabet: a64, want: ""},
	}
	for _, tt := range tests {
		got, err := randid.FromAlphabet(bytes.NewReader(tt.r), tt.n, tt.alphabet)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: %q, %v; want %q (error %t)", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
	// crypto/rand: right length and alphabet, every symbol about equally
	// likely (3 symbols: a third of the values are rejected, none wrapped).
	re := regexp.MustCompile(`^[abc]+$`)
	id, err := randid.FromAlphabet(nil, 30000, "abc")
	if err != nil || len(id) != 30000 || !re.MatchString(id) {
		t.Fatalf("FromAlphabet(nil) = %d characters, %v", len(id), err)
	}
	for _, c := range "abc" {
		if n := strings.Count(id, string(c)); n < 9000 || n > 11000 {
			t.Errorf("%c drawn %d times of 30000", c, n)
		}
	}
}
