package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-chat/parley/app/call"
	"github.com/parley-chat/parley/app/chat"
	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/identity"
	"github.com/parley-chat/parley/app/session"
	"github.com/parley-chat/parley/signaling/protocol"
)

// Exit statuses. Each error code has its own, so scripts can branch on the
// status alone; the table is printed by `parley-cli help`.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitFull        = 4
	exitDestroyed   = 5
	exitExpired     = 6
	exitVerify      = 7
	exitPeerOffline = 8
	exitTimeout     = 9
	exitKeyring     = 10
	exitRateLimited = 11
	exitBadLink     = 12
	exitTooLong     = 13
	exitUnreachable = 14
	exitInUse       = 15
	// Calls (parley-cli call).
	exitDeclined     = 16
	exitNoAnswer     = 17
	exitPeerLeft     = 18
	exitCallFailed   = 19
	exitNoMicrophone = 20
	exitNoCamera     = 21
	exitDeviceBusy   = 22
	exitPermission   = 23
	// Trust (the peer's key, the link's secret).
	exitKeyChanged   = 24
	exitLinkConflict = 25
	// Replies, edits, deletes and reactions (send --reply/--edit/--delete/--react).
	exitCannotChange = 26
	// Screen sharing (call --video screen).
	exitScreenUnavailable = 27
)

// codeInfo is what the CLI says for one error code.
type codeInfo struct {
	status   int
	sentence string
}

// codes maps every stable error code to an exit status and a human
// sentence with a next step.
var codes = map[string]codeInfo{
	protocol.CodeRoomNotFound:       {exitNotFound, "this room does not exist (it may have expired). Ask for a new link or create a room."},
	protocol.CodeRoomFull:           {exitFull, "this room already has two people in it. Ask for a new link."},
	protocol.CodeRoomDestroyed:      {exitDestroyed, "this room was destroyed. Create a new room to keep talking."},
	protocol.CodeTimerExpired:       {exitExpired, "this room's self-destruct timer ran out. Create a new room to keep talking."},
	session.CodeVerifyFailed:        {exitVerify, "the connection could not be verified with the link's secret; someone may be in the middle. Do not use this room; share a new link another way."},
	session.CodePeerOffline:         {exitPeerOffline, "the other person is not connected, so nothing was sent. Try again when they are online."},
	session.CodeTimeout:             {exitTimeout, "gave up waiting. Check that the other person has the link open, or raise --wait."},
	"KEYRING_UNAVAILABLE":           {exitKeyring, ""},
	protocol.CodeRateLimited:        {exitRateLimited, "the server is rate limiting this address. Wait a minute and try again."},
	"BAD_LINK":                      {exitBadLink, ""},
	"TOO_LONG":                      {exitTooLong, "the message is over 64 KiB. Split it or send it as a file."},
	"SERVER_UNREACHABLE":            {exitUnreachable, ""},
	"PROFILE_IN_USE":                {exitInUse, "another Parley process (the app or parley-cli) is using this profile. Inside a running chat, type /verify; otherwise stop the other process or use another --profile."},
	protocol.CodeUnsupportedVersion: {exitError, "the server speaks another protocol version. Update Parley or use another server."},
	protocol.CodeUnauthorized:       {exitError, "the server refused this link: its secret does not match the room. Copy the whole link again, or ask for a new one."},
	protocol.CodeServerBusy:         {exitError, "the server is at capacity. Try again later."},
	protocol.CodeReplaced:           {exitError, "this identity joined the room from another window or process, which took over."},
	"DECLINED":                      {exitDeclined, "the other person declined the call."},
	"NO_ANSWER":                     {exitNoAnswer, "nobody answered the call."},
	"PEER_LEFT":                     {exitPeerLeft, "the other person left during the call."},
	"CALL_FAILED":                   {exitCallFailed, "the call could not be connected. Try again; if it keeps failing, try --relay-only."},
	"NO_MICROPHONE":                 {exitNoMicrophone, "no microphone was found. Use --audio sine or --audio none."},
	"NO_CAMERA":                     {exitNoCamera, "no camera was found. Use --video testsrc or --video none."},
	"DEVICE_BUSY":                   {exitDeviceBusy, "the camera or microphone is in use by another program."},
	"PERMISSION_DENIED":             {exitPermission, "permission to use the camera or microphone was denied (check the device's group, e.g. video or audio)."},
	call.ReasonScreenUnavailable:    {exitScreenUnavailable, "the screen cannot be shared. Use --video testsrc or --video none."},
	session.CodeKeyChanged:          {exitKeyChanged, "the other person's key changed since the room was first verified; nothing was connected or sent. Compare the new safety number with them another way (on a call, in person); only if it matches, run 'parley-cli trust LINK'."},
	codeCannotChange:                {exitCannotChange, "that message cannot be answered or changed."},
	session.CodeLinkConflict:        {exitLinkConflict, "you already have a room with this server and id but another secret: this link is not that room's link. Ask for the link again another way, or 'parley-cli forget' the old room first."},
}

// describe turns an error into (code, exit status, sentence).
func describe(err error) (string, int, string) {
	se := session.AsError(err)
	var ke *identity.UnavailableError
	var ce callError
	var kc *session.KeyChangedError
	switch {
	case errors.As(err, &kc):
		before, after := kc.SafetyNumbers()
		return session.CodeKeyChanged, exitKeyChanged, codes[session.CodeKeyChanged].sentence + "\n  old safety number: " + before + "\n  new safety number: " + after
	case errors.As(err, &ke):
		return "KEYRING_UNAVAILABLE", exitKeyring, ke.Error()
	case errors.Is(err, session.ErrBadLink):
		return "BAD_LINK", exitBadLink, err.Error()
	case errors.Is(err, history.ErrInUse):
		return "PROFILE_IN_USE", exitInUse, codes["PROFILE_IN_USE"].sentence
	case errors.As(err, &ce):
		info := codes[ce.code]
		if info.status == 0 {
			return ce.code, exitError, "the call ended."
		}
		if ce.code == call.ReasonScreenUnavailable && ce.why != "" {
			return ce.code, info.status, "the screen cannot be shared: " + ce.why + ". Use --video testsrc or --video none."
		}
		return ce.code, info.status, info.sentence
	case cannotChangeErr(err):
		sentence, _ := cannotChange(err)
		return codeCannotChange, exitCannotChange, sentence
	case errors.Is(err, chat.ErrTooLong):
		return "TOO_LONG", exitTooLong, codes["TOO_LONG"].sentence
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, errTimeout):
		return session.CodeTimeout, exitTimeout, codes[session.CodeTimeout].sentence
	case se != nil:
		if info, ok := codes[se.Code]; ok && info.sentence != "" {
			return se.Code, info.status, info.sentence
		}
		if se.Reason != "" {
			return se.Code, exitError, se.Reason
		}
		return se.Code, exitError, "the server refused the request."
	}
	var ue unreachableError
	if errors.As(err, &ue) {
		return "SERVER_UNREACHABLE", exitUnreachable, ue.Error()
	}
	return "", exitError, ""
}

// codeCannotChange: the message to answer or change is not in this
// room's history, is deleted, or (edit, delete) is the other person's.
// The app's facade uses the same code.
const codeCannotChange = "CANNOT_CHANGE"

func cannotChangeErr(err error) bool { _, ok := cannotChange(err); return ok }

// errTimeout is returned when a --wait runs out.
var errTimeout = errors.New("timed out")

// usageError is a bad command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// unreachableError wraps a failure to reach the signaling server at all.
type unreachableError struct{ err error }

func (e unreachableError) Error() string {
	return fmt.Sprintf("cannot reach the signaling server (%v). Check the address and that it is running.", e.err)
}

func (e unreachableError) Unwrap() error { return e.err }

// errHelp means help was printed; exit 0.
var errHelp = errors.New("help")

// helpError is -h/--help on a command; it carries that command's flags.
type helpError struct{ flags string }

func (helpError) Error() string        { return "help" }
func (helpError) Is(target error) bool { return target == errHelp }
