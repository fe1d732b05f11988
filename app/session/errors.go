package session

import (
	"errors"
	"time"

	"github.com/parley-chat/parley/app/sigclient"
)

// Error is a failure with a stable code: one of the session's own
// (PEER_OFFLINE, VERIFY_FAILED, KEY_CHANGED, LINK_CONFLICT, ...) or the
// signaling server's (ROOM_NOT_FOUND, ROOM_FULL, ROOM_DESTROYED,
// TIMER_EXPIRED, ...), passed on. Callers branch on Code with AsError.
type Error struct {
	Code string
	// Reason is a human-readable detail; never branch on it.
	Reason string
	// RetryAfter is how long the server asked to wait (RATE_LIMITED,
	// SHUTTING_DOWN), zero otherwise.
	RetryAfter time.Duration
	err        error // the server's refusal this one passes on
}

// Error returns "CODE: reason", or just "CODE" without a reason.
func (e *Error) Error() string {
	if e.Reason == "" {
		return e.Code
	}
	return e.Code + ": " + e.Reason
}

// Unwrap returns the server's refusal the error passes on, if any.
func (e *Error) Unwrap() error { return e.err }

// AsError returns the coded error in err's chain (a signaling server's
// refusal, from the session or from CreateRoom, is one too), or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var se *sigclient.Error
	if errors.As(err, &se) {
		return &Error{Code: se.Code, Reason: se.Reason, RetryAfter: se.RetryAfter, err: err}
	}
	return nil
}

// IsCode reports whether err carries the code.
func IsCode(err error, code string) bool {
	e := AsError(err)
	return e != nil && e.Code == code
}

// coded returns err with a server refusal in it as an *Error, so what
// the session returns and reports carries the session's type.
func coded(err error) error {
	var e *Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	if c := AsError(err); c != nil {
		return c
	}
	return err
}
