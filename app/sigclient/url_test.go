package sigclient

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
)

func TestWSURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "http://127.0.0.1:8787", want: "ws://127.0.0.1:8787/ws"},
		{in: "https://signal.example.org/", want: "wss://signal.example.org/ws"},
		{in: "https://example.org/parley", want: "wss://example.org/parley/ws"},
		{in: "ws://example.org", wantErr: true},
		{in: "example.org", wantErr: true},
		{in: "http://", wantErr: true},
		{in: "http://example.org/?x=1", wantErr: true},
		{in: "http://user:pw@example.org", wantErr: true},
		{in: "://", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := wsURL(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("wsURL(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for n := 1; n <= 40; n++ {
		ceil := min(backoffMax, backoffBase<<min(n-1, 15))
		for range 200 {
			if d := backoff(n); d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", n, d, ceil)
			}
		}
	}
}

func TestError(t *testing.T) {
	t.Parallel()
	e := &Error{Code: protocol.CodeRoomFull, Reason: "two participants already"}
	wrapped := fmt.Errorf("join: %w", e)
	if got := e.Error(); got != "ROOM_FULL: two participants already" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Code: protocol.CodeReplaced}).Error(); got != "REPLACED" {
		t.Errorf("Error() = %q", got)
	}
	var target *Error
	if !errors.As(wrapped, &target) || target != e {
		t.Error("errors.As failed")
	}
	if !IsCode(wrapped, protocol.CodeRoomFull) || IsCode(wrapped, protocol.CodeRoomNotFound) || IsCode(errors.New("x"), "") {
		t.Error("IsCode mismatch")
	}
	if !isFatal(wrapped) || isFatal(&Error{Code: protocol.CodeShuttingDown}) || isFatal(errors.New("eof")) {
		t.Error("isFatal mismatch")
	}
	if d := parseRetryAfter("7"); d != 7*time.Second {
		t.Errorf("parseRetryAfter = %v", d)
	}
	for _, v := range []string{"", "-1", "Wed, 21 Oct 2015 07:28:00 GMT"} {
		if d := parseRetryAfter(v); d != 0 {
			t.Errorf("parseRetryAfter(%q) = %v, want 0", v, d)
		}
	}
}
