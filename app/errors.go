package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/parley-chat/parley/app/call"
	"github.com/parley-chat/parley/app/chat"
	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/identity"
	"github.com/parley-chat/parley/app/session"
	"github.com/parley-chat/parley/signaling/protocol"
)

// Codes the facade adds to the signaling and session codes (docs/app-api.md).
const (
	CodeBadLink            = "BAD_LINK"
	CodeTooLong            = "TOO_LONG"
	CodeServerUnreachable  = "SERVER_UNREACHABLE"
	CodeKeyringUnavailable = "KEYRING_UNAVAILABLE"
	CodeProfileInUse       = "PROFILE_IN_USE"
	CodeBadRequest         = protocol.CodeBadRequest
	CodeInternal           = protocol.CodeInternal

	// CodeCannotChange: a reply, edit, delete or reaction names a message
	// that is not there, not ours (edit, delete), deleted, or a reaction
	// outside chat.Reactions.
	CodeCannotChange = "CANNOT_CHANGE"

	// Calls: StartCall's refusals (docs/app-api.md, "Calls"). The same
	// codes end a call in CallView.error.
	CodeCallFailed       = call.ReasonCallFailed
	CodeNoCamera         = "NO_CAMERA"
	CodeNoMicrophone     = "NO_MICROPHONE"
	CodeDeviceBusy       = "DEVICE_BUSY"
	CodePermissionDenied = "PERMISSION_DENIED"
	// CodeScreenUnavailable: ShareScreen found no screen to capture.
	CodeScreenUnavailable = call.ReasonScreenUnavailable
)

// Error is what every facade method returns to the UI: Wails rejects the JS
// promise with Error(), "CODE: detail", and the UI branches on the code.
type Error struct {
	Code   string
	Detail string
}

// Error returns "CODE: detail".
func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Code
	}
	return e.Code + ": " + e.Detail
}

// unreachableError marks a failure to talk to the signaling server at all
// (connection refused, DNS, TLS, a proxy's HTML error page).
type unreachableError struct{ err error }

func (e unreachableError) Error() string { return e.err.Error() }
func (e unreachableError) Unwrap() error { return e.err }

// network marks err as SERVER_UNREACHABLE unless it already carries a code
// of its own (a server refusal, a timeout, a cancellation).
func network(err error) error {
	if err == nil || session.AsError(err) != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return unreachableError{err}
}

// passThrough are the server and session codes the UI knows by name.
var passThrough = map[string]bool{
	protocol.CodeRoomNotFound:       true,
	protocol.CodeRoomFull:           true,
	protocol.CodeRoomDestroyed:      true,
	protocol.CodeTimerExpired:       true,
	protocol.CodeRateLimited:        true,
	protocol.CodeServerBusy:         true,
	protocol.CodeUnsupportedVersion: true,
	protocol.CodeReplaced:           true,
	session.CodeVerifyFailed:        true,
	session.CodePeerOffline:         true,
	session.CodeTimeout:             true,
	session.CodeKeyChanged:          true,
	session.CodeLinkConflict:        true,
	CodeInternal:                    true,
}

// toAPI maps any error to an *Error with one of the codes of
// docs/app-api.md. It returns nil for nil.
func toAPI(err error) error {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var ke *identity.UnavailableError
	se := session.AsError(err)
	var ue unreachableError
	switch {
	case errors.As(err, &ke):
		return &Error{CodeKeyringUnavailable, ke.Error()}
	case errors.Is(err, history.ErrInUse):
		return &Error{CodeProfileInUse, "another Parley process (the app or parley-cli) has this profile open"}
	case errors.Is(err, session.ErrBadLink):
		return &Error{CodeBadLink, err.Error()}
	case errors.Is(err, history.ErrMessageNotFound), errors.Is(err, session.ErrNotYours),
		errors.Is(err, session.ErrMessageDeleted), errors.Is(err, session.ErrBadReaction):
		return &Error{CodeCannotChange, err.Error()}
	case errors.Is(err, chat.ErrTooLong):
		return &Error{CodeTooLong, fmt.Sprintf("the message is over %d KiB", chat.MaxTextBytes>>10)}
	case se != nil:
		switch {
		case passThrough[se.Code]:
			return &Error{se.Code, se.Reason}
		case se.Code == protocol.CodeShuttingDown:
			return &Error{CodeServerUnreachable, se.Error()}
		case se.Code == protocol.CodeUnauthorized:
			// The server wants proof of the link's secret and this
			// link's does not match the room: a damaged or altered link.
			return &Error{CodeBadLink, "the server refused this link: its secret does not match the room"}
		default:
			return &Error{CodeInternal, se.Error()}
		}
	case errors.Is(err, call.ErrDeviceBusy):
		return &Error{CodeDeviceBusy, err.Error()}
	case errors.Is(err, call.ErrPermissionDenied):
		return &Error{CodePermissionDenied, err.Error()}
	case errors.Is(err, call.ErrNoMicrophone):
		return &Error{CodeNoMicrophone, err.Error()}
	case errors.Is(err, call.ErrNoCamera):
		return &Error{CodeNoCamera, err.Error()}
	case errors.Is(err, call.ErrScreenUnavailable):
		return &Error{CodeScreenUnavailable, strings.TrimPrefix(err.Error(), call.ErrScreenUnavailable.Error()+": ")}
	case errors.Is(err, call.ErrNotInCall):
		return &Error{CodeInternal, "no call is under way in this room"}
	case errors.Is(err, call.ErrBusy):
		return &Error{CodeCallFailed, "a call is already under way"}
	case errors.Is(err, call.ErrNotRinging):
		return &Error{CodeInternal, "no call is ringing in this room"}
	case errors.Is(err, call.ErrClosed):
		return &Error{session.CodePeerOffline, "the other person is not connected"}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{session.CodeTimeout, "gave up waiting"}
	case errors.As(err, &ue):
		return &Error{CodeServerUnreachable, ue.Error()}
	}
	return &Error{CodeInternal, err.Error()}
}

// apiErrorf is a coded error the facade raises itself.
func apiErrorf(code, format string, a ...any) error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, a...)}
}
