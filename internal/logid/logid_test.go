package logid_test

import (
	"strings"
	"testing"

	"github.com/parley-chat/parley/internal/logid"
)

// TestOf pins the format every log line and error string already
// uses: the first 4 bytes of SHA-256, in hex.
func TestOf(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"abc", "ba7816bf"}, // SHA-256("abc") = ba7816bf8f01cfea...
		{"", "e3b0c442"},    // SHA-256("") = e3b0c44298fc1c14...
	}
	for _, tt := range tests {
		if got := logid.Of(tt.in); got != tt.want {
			t.Errorf("Of(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if id := "V1StGXR8_Z5jdHi6B-myT"; strings.Contains(id, logid.Of(id)) || len(logid.Of(id)) != 8 {
		t.Errorf("Of(%q) = %q", id, logid.Of(id))
	}
}
