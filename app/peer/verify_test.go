package peer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestComputeTagKnownAnswer(t *testing.T) {
	t.Parallel()
	// Computed independently with Python's hmac module from the spec.
	secret := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	key, sfp, rfp := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	got, err := computeTag(secret, testRoom, key, sfp, rfp)
	if err != nil {
		t.Fatal(err)
	}
	const want = "cbac7ee974acd137db29fa63e21fb5137ba214b4b6916b7b3cfc9ac46a6bebd6"
	if hex.EncodeToString(got) != want {
		t.Fatalf("tag %x, want %s", got, want)
	}

	// Every input is bound: changing any one changes the tag.
	other := bytes.Repeat([]byte{9}, 32)
	variants := []struct {
		name string
		tag  func() ([]byte, error)
	}{
		{"secret", func() ([]byte, error) { return computeTag(testSecret(1), testRoom, key, sfp, rfp) }},
		{"room", func() ([]byte, error) { return computeTag(secret, "otherroom", key, sfp, rfp) }},
		{"sender key", func() ([]byte, error) { return computeTag(secret, testRoom, other, sfp, rfp) }},
		{"sender fp", func() ([]byte, error) { return computeTag(secret, testRoom, key, other, rfp) }},
		{"receiver fp", func() ([]byte, error) { return computeTag(secret, testRoom, key, sfp, other) }},
		{"swapped fps", func() ([]byte, error) { return computeTag(secret, testRoom, key, rfp, sfp) }},
	}
	for _, v := range variants {
		tag, err := v.tag()
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if bytes.Equal(tag, got) {
			t.Errorf("%s: tag unchanged", v.name)
		}
	}
	if _, err := computeTag(secret, testRoom, key[:31], sfp, rfp); err == nil {
		t.Error("short key accepted")
	}
}

func TestCheckTagFrame(t *testing.T) {
	t.Parallel()
	want := bytes.Repeat([]byte{5}, 32)
	tests := []struct {
		name  string
		frame []byte
		ok    bool
	}{
		{"good", tagFrame(want), true},
		{"wrong tag", tagFrame(bytes.Repeat([]byte{6}, 32)), false},
		{"wrong version", append([]byte{2}, want...), false},
		{"short", tagFrame(want)[:32], false},
		{"long", append(tagFrame(want), 0), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		err := checkTagFrame(tt.frame, want)
		if tt.ok != (err == nil) {
			t.Errorf("%s: err=%v", tt.name, err)
		}
		if err != nil && !errors.Is(err, ErrVerifyFailed) {
			t.Errorf("%s: error does not wrap ErrVerifyFailed: %v", tt.name, err)
		}
	}
}
