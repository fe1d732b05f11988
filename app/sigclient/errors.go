package sigclient

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
)

// ErrClosed is returned by Send and Destroy once the client has ended,
// whether by Close or because the server ended the session.
var ErrClosed = errors.New("sigclient: client closed")

// Error is a refusal or an ending reported by the signaling server, over HTTP
// ({"error": code} bodies) or over the WebSocket (error messages). Code is one
// of the protocol.Code* constants; callers branch on it with errors.As or
// IsCode.
type Error struct {
	// Code is the server's stable error code, e.g. protocol.CodeRoomFull.
	Code string
	// Reason is an optional human-readable detail; never branch on it.
	Reason string
	// RetryAfter is how long the server asked the client to wait, for
	// RATE_LIMITED and SHUTTING_DOWN; zero when it said nothing.
	RetryAfter time.Duration
}

// Error returns "CODE: reason", or just "CODE" without a reason.
func (e *Error) Error() string {
	if e.Reason == "" {
		return e.Code
	}
	return e.Code + ": " + e.Reason
}

// IsCode reports whether err is, or wraps, an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// fatalCodes are the codes after which reconnecting cannot help: the room or
// the admission is gone for good, or the client itself is wrong.
var fatalCodes = map[string]bool{
	protocol.CodeRoomNotFound:       true,
	protocol.CodeRoomFull:           true,
	protocol.CodeRoomDestroyed:      true,
	protocol.CodeTimerExpired:       true,
	protocol.CodeReplaced:           true,
	protocol.CodeUnauthorized:       true,
	protocol.CodeUnsupportedVersion: true,
	protocol.CodeBadRequest:         true,
}

// isFatal reports whether err ends the session for good (no reconnect).
func isFatal(err error) bool {
	var e *Error
	return errors.As(err, &e) && fatalCodes[e.Code]
}

// errorFromMessage turns a WebSocket error message into an *Error.
func errorFromMessage(m protocol.Message) *Error {
	code := m.Code
	if code == "" {
		code = protocol.CodeInternal
	}
	return &Error{
		Code:       code,
		Reason:     m.Reason,
		RetryAfter: time.Duration(max(m.RetryAfter, 0)) * time.Second,
	}
}

// maxErrorBody caps how much of an HTTP error body is read.
const maxErrorBody = 4 << 10

// responseError turns a non-success HTTP response into an error: an *Error
// when the body carries a protocol error code, a plain error otherwise (for
// example a reverse proxy's HTML page).
func responseError(resp *http.Response) error {
	var body protocol.ErrorResponse
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err := jsonUnmarshal(data, &body); err != nil || body.Error == "" {
		return fmt.Errorf("unexpected HTTP status %s", resp.Status)
	}
	return &Error{
		Code:       body.Error,
		Reason:     "HTTP " + resp.Status,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After")),
	}
}

// parseRetryAfter reads a Retry-After header in its delay-seconds form; the
// HTTP-date form is not used by parley-signal and yields zero.
func parseRetryAfter(v string) time.Duration {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
