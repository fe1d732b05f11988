package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parley-chat/parley/app/chat"
	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/identity"
	"github.com/parley-chat/parley/app/session"
	"github.com/parley-chat/parley/app/sigclient"
	"github.com/parley-chat/parley/app/transfer"
	"github.com/parley-chat/parley/internal/buildinfo"
	"github.com/parley-chat/parley/signaling/protocol"
)

// command is one subcommand.
type command struct {
	name, args, help string
	run              func(ctx context.Context, e *cliEnv, args []string) error
}

// commandTable lists the commands in help order. It is a function rather
// than a variable because help refers back to the table.
func commandTable() []command {
	return []command{
		{"create", "--server URL [--self-destruct 10m]", "create a room; prints its link as the only stdout line", cmdCreate},
		{"send", "LINK --text TEXT [--wait 5m]", "join, wait for the peer, send, wait for the delivery ack", cmdSend},
		{"", "LINK --reply ID --text TEXT", "answer message ID", nil},
		{"", "LINK --edit ID --text TEXT", "replace the text of your message ID on both sides", nil},
		{"", "LINK --delete ID", "delete your message ID for both (its text leaves both histories)", nil},
		{"", "LINK --react ID EMOJI", "toggle your reaction to message ID: " + strings.Join(chat.Reactions, " "), nil},
		{"receive", "LINK [--count N] [--out DIR] [--wait D]", "join and print each received message as one stdout line; exit after N", cmdReceive},
		{"chat", "LINK", "interactive: stdin lines are sent, incoming messages printed", cmdChat},
		{"call", "LINK [--video V] [--audio A] [--stats]", "call (or answer): send testsrc|screen[:N]|window:0xID|sine|a device|none, receive the peer's", cmdCall},
		{"screens", "", "list what --video can share on $DISPLAY: one line each, 'screen:0 1920x1080 Entire screen', 'window:0xID WxH Title'", cmdScreens},
		{"rooms", "", "list recent rooms: id, name, last activity, last message", cmdRooms},
		{"history", "LINK [--json]", "list a room's messages with their ids, oldest first", cmdHistory},
		{"rename", "LINK NAME", "set a room's local name (never sent anywhere)", cmdRename},
		{"clear", "LINK", "delete a room's messages on this computer only", cmdClear},
		{"forget", "LINK", "remove a room and its messages from this computer only", cmdForget},
		{"destroy", "LINK", "destroy the room on the server; the peer is told and both histories are wiped", cmdDestroy},
		{"whoami", "", "print this profile's key fingerprint", cmdWhoami},
		{"verify", "LINK", "print the safety number to compare with the other person", cmdVerify},
		{"trust", "LINK", "after KEY_CHANGED: trust the other person's new key (compare the new safety number first)", cmdTrust},
		{"version", "", "print the version and the commit it was built from", cmdVersion},
		{"help", "", "show this help", cmdHelp},
	}
}

// dispatch parses the global flags, finds the command and runs it.
func dispatch(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("parley-cli", e)
	rest, err := parseInterspersed(fs, args, true)
	if errors.Is(err, errHelp) {
		printUsage(e.stdout)
		return errHelp
	}
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		printUsage(e.stderr)
		return usagef("no command given")
	}
	for _, c := range commandTable() {
		if c.name == rest[0] && c.run != nil {
			err := c.run(ctx, e, rest[1:])
			var he helpError
			if errors.As(err, &he) {
				printCommandUsage(e.stdout, c)
				fmt.Fprint(e.stdout, "\nFlags:\n"+he.flags)
			}
			return err
		}
	}
	return usagef("unknown command %q", rest[0])
}

func newFlagSet(name string, e *cliEnv) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	e.globalFlags(fs)
	return fs
}

// printCommandUsage prints one command's synopsis.
func printCommandUsage(w io.Writer, c command) {
	fmt.Fprintf(w, "Usage: parley-cli %s %s\n  %s\n", c.name, c.args, c.help)
	fmt.Fprintln(w, "Run 'parley-cli help' for the global flags and exit statuses.")
}

// parseInterspersed parses flags that may stand before or after positional
// arguments ("send LINK --text hi"). With stopAtFirst it stops at the first
// positional argument (the command name) and returns it with everything after.
func parseInterspersed(fs *flag.FlagSet, args []string, stopAtFirst bool) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		// A room id may start with '-' (one of its 64 letters): such an
		// argument is positional, not an unknown flag.
		if a := args[0]; a == "-" || !strings.HasPrefix(a, "-") || looksLikeRoomID(fs, a) {
			if stopAtFirst {
				return args, nil
			}
			pos = append(pos, a)
			args = args[1:]
			continue
		}
		if args[0] == "--" {
			if stopAtFirst {
				return args[1:], nil
			}
			return append(pos, args[1:]...), nil
		}
		end := len(args)
		if i := roomIDArg(fs, args); i > 0 {
			end = i
		}
		if err := fs.Parse(args[:end]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				var b strings.Builder
				fs.SetOutput(&b)
				fs.PrintDefaults()
				return nil, helpError{flags: b.String()}
			}
			return nil, usagef("%v", err)
		}
		args = slices.Concat(fs.Args(), args[end:])
	}
	return pos, nil
}

// looksLikeRoomID reports whether arg, which starts with '-', is a room id
// rather than a flag of fs.
func looksLikeRoomID(fs *flag.FlagSet, arg string) bool {
	if !strings.HasPrefix(arg, "-") || !protocol.ValidRoomID(arg) {
		return false
	}
	return fs.Lookup(strings.TrimLeft(arg, "-")) == nil
}

// roomIDArg returns the index of the first argument that is "--" or
// looksLikeRoomID and is not the value of a flag before it, or -1.
func roomIDArg(fs *flag.FlagSet, args []string) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || looksLikeRoomID(fs, a) {
			return i
		}
		if takesValue(fs, a) {
			i++
		}
	}
	return -1
}

// takesValue reports whether arg is a flag of fs written without "=" that
// consumes the next argument as its value.
func takesValue(fs *flag.FlagSet, arg string) bool {
	if !strings.HasPrefix(arg, "-") || strings.Contains(arg, "=") {
		return false
	}
	f := fs.Lookup(strings.TrimLeft(arg, "-"))
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// positional checks the number of positional arguments.
func positional(name string, got []string, want ...string) error {
	if len(got) != len(want) {
		return usagef("%s takes %s", name, strings.Join(want, " "))
	}
	return nil
}

func cmdVersion(_ context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("version", e)
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("version", pos); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, buildinfo.Read().Line("parley-cli"))
	return nil
}

func cmdHelp(_ context.Context, e *cliEnv, _ []string) error {
	printUsage(e.stdout)
	return errHelp
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: parley-cli [global flags] COMMAND [args] [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commandTable() {
		fmt.Fprintf(w, "  %-8s %-40s %s\n", c.name, c.args, c.help)
	}
	fmt.Fprintln(w, "\nGlobal flags (also accepted after the command):")
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	(&cliEnv{}).globalFlags(fs)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nState changes go to stderr: waiting for peer, connecting, connected direct|relayed,")
	fmt.Fprintln(w, "verified, peer left, reconnecting. A received message is printed as one line; a line")
	fmt.Fprintln(w, "break inside it is shown as \\n. call adds: call ringing, call incoming, call connecting,")
	fmt.Fprintln(w, "call active, call ended[: REASON].")
	fmt.Fprintln(w, "A reply is printed as (reply to \"START OF THE MESSAGE\") TEXT; the other person's changes as")
	fmt.Fprintln(w, "(edited) NEW TEXT, (deleted a message), (reacted EMOJI to \"...\"), (removed a reaction from \"...\").")
	fmt.Fprintln(w, "send prints the new message's id on stdout. With --json, receive, chat and send print one")
	fmt.Fprintln(w, "JSON object per message or change instead (fields: type, id, from, sentAt, text, replyTo,")
	fmt.Fprintln(w, "emoji, opId, path; see docs/cli.md).")
	fmt.Fprintln(w, "\nExit status:")
	fmt.Fprintf(w, "  %2d  success\n  %2d  other error\n  %2d  bad command line\n", exitOK, exitError, exitUsage)
	for _, row := range []struct {
		code   string
		status int
	}{
		{protocol.CodeRoomNotFound, exitNotFound}, {protocol.CodeRoomFull, exitFull},
		{protocol.CodeRoomDestroyed, exitDestroyed}, {protocol.CodeTimerExpired, exitExpired},
		{session.CodeVerifyFailed, exitVerify}, {session.CodePeerOffline, exitPeerOffline},
		{session.CodeTimeout, exitTimeout}, {"KEYRING_UNAVAILABLE", exitKeyring},
		{protocol.CodeRateLimited, exitRateLimited}, {"BAD_LINK", exitBadLink},
		{"TOO_LONG", exitTooLong}, {"SERVER_UNREACHABLE", exitUnreachable},
		{"PROFILE_IN_USE", exitInUse},
		{"DECLINED", exitDeclined}, {"NO_ANSWER", exitNoAnswer}, {"PEER_LEFT", exitPeerLeft},
		{"CALL_FAILED", exitCallFailed}, {"NO_MICROPHONE", exitNoMicrophone}, {"NO_CAMERA", exitNoCamera},
		{"DEVICE_BUSY", exitDeviceBusy}, {"PERMISSION_DENIED", exitPermission},
		{session.CodeKeyChanged, exitKeyChanged}, {session.CodeLinkConflict, exitLinkConflict},
		{codeCannotChange, exitCannotChange}, {"SCREEN_UNAVAILABLE", exitScreenUnavailable},
	} {
		fmt.Fprintf(w, "  %2d  %s\n", row.status, row.code)
	}
}

func cmdCreate(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("create", e)
	server := fs.String("server", envOr("PARLEY_SERVER", ""), "signaling server `URL`, e.g. https://signal.example.org (env PARLEY_SERVER)")
	selfDestruct := fs.Duration("self-destruct", 0, "destroy the room this long after creation, e.g. 10m (max 168h)")
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("create", pos); err != nil {
		return err
	}
	if *server == "" {
		return usagef("create needs --server URL")
	}
	base, err := session.ServerURL(*server)
	if err != nil {
		return usagef("%v", err)
	}
	if *selfDestruct < 0 || *selfDestruct > protocol.MaxSelfDestructSeconds*time.Second {
		return usagef("--self-destruct must be between 1s and 168h")
	}
	if *selfDestruct > 0 && *selfDestruct < time.Second {
		return usagef("--self-destruct must be at least 1s")
	}
	p, err := e.open()
	if err != nil {
		return err
	}
	defer p.Close()
	link, err := session.CreateRoom(ctx, http.DefaultClient, base, *selfDestruct, p.History)
	if err != nil {
		return classifyNetErr(err)
	}
	fmt.Fprintln(e.stdout, link.String())
	return nil
}

// classifyNetErr marks transport failures as SERVER_UNREACHABLE.
func classifyNetErr(err error) error {
	if session.AsError(err) != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return unreachableError{err}
}

// joinRoom opens the profile and joins the room of link.
// Calls, when set, turns calls on (parley-cli call).
func (e *cliEnv) joinRoom(ctx context.Context, rawLink, downloadDir string, calls *session.CallConfig) (*profile, *session.Session, error) {
	link, err := session.ParseLink(rawLink)
	if err != nil {
		return nil, nil, err
	}
	p, err := e.open()
	if err != nil {
		return nil, nil, err
	}
	sess, err := session.Join(ctx, session.Config{
		Link:         link,
		Identity:     p.Identity,
		History:      p.History,
		Logger:       p.logger,
		LoopbackOnly: envOr("PARLEY_ICE_LOOPBACK", "") == "1",
		RelayOnly:    e.relayOnly,
		DownloadDir:  downloadDir,
		// A headless receiver has no one to ask: --out means "accept"
		// (within the room's receive limits and the disk's free space).
		AutoAcceptMax: autoAccept(downloadDir),
		Calls:         calls,
	})
	if err != nil {
		p.Close()
		return nil, nil, classifyNetErr(err)
	}
	if testHook != nil {
		testHook(sess)
	}
	return p, sess, nil
}

// testHook, set only in builds with the parleytest tag (testhooks.go),
// sees every session the CLI joins.
var testHook func(*session.Session)

// autoAccept is the largest offer accepted without asking: anything
// with --out, nothing without (there is no folder to save into).
func autoAccept(downloadDir string) int64 {
	if downloadDir == "" {
		return 0
	}
	return math.MaxInt64
}

// printStatus writes a state change to stderr in the documented words.
func printStatus(w io.Writer, st session.StatusChanged) {
	switch st.Status {
	case session.StatusWaiting:
		fmt.Fprintln(w, "waiting for peer")
	case session.StatusConnecting:
		fmt.Fprintln(w, "connecting")
	case session.StatusConnected:
		fmt.Fprintf(w, "connected %s\n", st.Route)
	case session.StatusVerified:
		fmt.Fprintln(w, "verified")
	case session.StatusReconnecting:
		fmt.Fprintln(w, "reconnecting")
	case session.StatusPeerLeft:
		fmt.Fprintln(w, "peer left")
	}
}

// oneLine renders untrusted text (a message, a file name) as one line of
// terminal output: line breaks become \n, a backslash is doubled, and any
// other control character (an escape sequence could rewrite the terminal)
// is shown as \xNN or \u{NNNN}. Tabs and printable Unicode stay as they are.
func oneLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\r' && strings.HasPrefix(s[i+1:], "\n"):
			b.WriteString(`\n`)
			size++
		case r == '\n', r == '\r':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteRune(r)
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			fmt.Fprintf(&b, `\u{%04x}`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// waitContext returns ctx bounded by d (0 = unbounded).
func waitContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// closedErr turns a session's final error into what the command returns.
func closedErr(err error) error {
	if err == nil {
		return errors.New("the session ended")
	}
	return err
}

func cmdSend(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("send", e)
	text := fs.String("text", "", "the message `TEXT` to send")
	var files stringList
	fs.Var(&files, "file", "a file or folder to send (repeat for several); waits until the receiver verified each. A folder goes whole, as one item; symbolic links inside it are left out")
	wait := fs.Duration("wait", 5*time.Minute, "how long to wait for the peer and the delivery ack (files: for the peer, then as long as the transfer takes)")
	reply := fs.String("reply", "", "send --text as an answer to message `ID`")
	edit := fs.String("edit", "", "replace the text of your message `ID` with --text, on both sides")
	del := fs.String("delete", "", "delete your message `ID` for both")
	react := fs.String("react", "", "toggle your reaction to message `ID`; the emoji follows: --react ID "+chat.Reactions[0])
	asJSON := fs.Bool("json", false, "print what was sent as one JSON object (fields in docs/cli.md) instead of the id")
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	op, pos, err := parseSendOp(*reply, *edit, *del, *react, *text, len(files), pos)
	if err != nil {
		return err
	}
	if *text == "" && len(files) == 0 && op.kind == "" {
		return usagef("send needs --text TEXT or --file PATH")
	}
	if !utf8.ValidString(*text) {
		return usagef("--text is not valid UTF-8")
	}
	if len(*text) > chat.MaxTextBytes {
		return fmt.Errorf("--text: %w", chat.ErrTooLong) // say so now, not after waiting for the peer
	}
	for i, f := range files {
		if st, err := os.Stat(f); err != nil || !(st.Mode().IsRegular() || st.IsDir()) {
			return usagef("--file %s: not a readable regular file or folder", f)
		}
		abs, err := filepath.Abs(f)
		if err != nil {
			return usagef("--file %s: %v", f, err)
		}
		files[i] = abs
	}
	wctx, cancel := waitContext(ctx, *wait)
	defer cancel()
	p, sess, err := e.joinRoom(wctx, pos[0], "", nil)
	if err != nil {
		return err
	}
	defer p.Close()
	defer sess.Close()
	if err := op.check(p.History, sess.Key()); err != nil {
		return err // say so now, not after waiting for the peer
	}
	show := printer{w: e.stdout, json: *asJSON, h: p.History, key: sess.Key()}

	// The session sends the files one after the other; they wait for the
	// peer themselves and resume after a reconnect. Once the peer is
	// connected, the transfer itself is not bounded by --wait.
	filesLeft := map[string]bool{}
	for _, t := range sess.SendFiles(files) {
		if t.State.Terminal() {
			return fmt.Errorf("send %s: %w", t.Name, t.Err)
		}
		filesLeft[t.ID] = true
	}
	textPending := *text != "" || op.kind != ""
	var sentID, opID string
	bar := newProgressPrinter(e.stderr)
	connected := false
	for {
		if !textPending && len(filesLeft) == 0 {
			return nil
		}
		timeout := wctx.Done()
		if connected && len(filesLeft) > 0 && !textPending {
			timeout = nil // the transfer may take longer than --wait
		}
		select {
		case <-timeout:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return errTimeout
		case ev, ok := <-sess.Events():
			if !ok {
				return errors.New("the session ended")
			}
			switch ev := ev.(type) {
			case session.StatusChanged:
				bar.clear()
				printStatus(e.stderr, ev)
				if ev.Status == session.StatusVerified {
					connected = true
				}
				if ev.Status == session.StatusVerified && textPending && sentID == "" {
					m, id, err := op.do(sess, p.History, *text)
					switch {
					case errors.Is(err, session.ErrPeerOffline):
						// The peer dropped between verify and send: if the
						// message was stored it is resent on reconnect.
						if m.ID != "" {
							sentID = m.ID
							show.sent(op, m, id)
						}
					case err != nil:
						return err
					default:
						// An operation is queued: sent now, and again on
						// every reconnect until the peer acks it.
						sentID, opID = m.ID, id
						fmt.Fprintln(e.stderr, "sent")
						show.sent(op, m, id)
					}
				}
			case session.Delivered:
				if ev.ID == sentID && opID == "" && textPending {
					fmt.Fprintln(e.stderr, "delivered")
					textPending = false
				}
			case session.OpDelivered:
				if ev.ID == opID && opID != "" && textPending {
					fmt.Fprintln(e.stderr, "delivered")
					textPending = false
				}
			case session.TransferChanged:
				bar.update(ev.Transfer)
				t := ev.Transfer
				if !filesLeft[t.ID] || !t.State.Terminal() {
					continue
				}
				if t.State != session.TransferDone {
					return fmt.Errorf("send %s: %w", t.Name, t.Err)
				}
				delete(filesLeft, t.ID)
			case session.Closed:
				return closedErr(ev.Err)
			}
		}
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func cmdReceive(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("receive", e)
	count := fs.Int("count", 0, "exit after N items: messages and files, not edits, deletes or reactions (0: run until interrupted)")
	asJSON := fs.Bool("json", false, "print one JSON object per message, edit, delete, reaction or file (fields in docs/cli.md)")
	wait := fs.Duration("wait", 0, "give up after this long (0: no limit)")
	out := fs.String("out", "", "save received files and folders into `DIR` (without it, offered files are declined); a folder's line is the path of the folder saved")
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("receive", pos, "LINK"); err != nil {
		return err
	}
	if *count < 0 {
		return usagef("--count must be 0 or more")
	}
	dir := ""
	if *out != "" {
		if dir, err = filepath.Abs(*out); err != nil {
			return usagef("--out: %v", err)
		}
		// Created 0700; an existing folder must be ours and not writable
		// by others (a shared folder would hand the files to other users).
		if err := transfer.PrepareDownloadDir(dir); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	wctx, cancel := waitContext(ctx, *wait)
	defer cancel()
	p, sess, err := e.joinRoom(wctx, pos[0], dir, nil)
	if err != nil {
		return err
	}
	defer p.Close()
	defer sess.Close()
	show := printer{w: e.stdout, json: *asJSON, h: p.History, key: sess.Key()}
	bar := newProgressPrinter(e.stderr)
	n := 0
	for {
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return nil // interrupted: a normal way to stop receiving
			}
			return errTimeout
		case ev, ok := <-sess.Events():
			if !ok {
				return errors.New("the session ended")
			}
			item := false
			switch ev := ev.(type) {
			case session.StatusChanged:
				bar.clear()
				printStatus(e.stderr, ev)
			case session.MessageReceived:
				bar.clear()
				show.message(ev.Message, "peer")
				item = true
			case session.MessageChanged:
				bar.clear()
				show.change(ev.Op, ev.Message, "peer", ev.Message.PeerReaction)
			case session.TransferChanged:
				bar.update(ev.Transfer)
				if t := ev.Transfer; !t.Outgoing && t.State == session.TransferDone {
					show.file(t.Path)
					item = true
				}
			case session.Closed:
				return closedErr(ev.Err)
			}
			if item {
				n++
				if *count > 0 && n >= *count {
					return nil
				}
			}
		}
	}
}

func cmdChat(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("chat", e)
	asJSON := fs.Bool("json", false, "print incoming messages and changes as JSON objects, one per line (docs/cli.md)")
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("chat", pos, "LINK"); err != nil {
		return err
	}
	p, sess, err := e.joinRoom(ctx, pos[0], "", nil)
	if err != nil {
		return err
	}
	defer p.Close()
	defer sess.Close()
	show := printer{w: e.stdout, json: *asJSON, h: p.History, key: sess.Key()}
	fmt.Fprintln(e.stderr, "type a message and press Enter; /verify shows the safety number; Ctrl-D leaves")

	lines := make(chan string)
	go func() { // ends when stdin does; the process exits right after
		defer close(lines)
		sc := bufio.NewScanner(e.stdin)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			switch strings.TrimSpace(line) {
			case "":
				continue
			case "/verify":
				if k := sess.PeerKey(); k != nil {
					fmt.Fprintln(e.stderr, "safety number:", identity.SafetyNumber(p.Identity.PublicKey(), k))
				} else {
					fmt.Fprintln(e.stderr, "the other person has not joined yet")
				}
				continue
			}
			if _, err := sess.Send(line); err != nil {
				code, _, sentence := describe(err)
				fmt.Fprintf(e.stderr, "not sent: %s: %s\n", code, sentence)
			}
		case ev, ok := <-sess.Events():
			if !ok {
				return nil
			}
			switch ev := ev.(type) {
			case session.StatusChanged:
				printStatus(e.stderr, ev)
				if k := sess.PeerKey(); ev.Status == session.StatusVerified && k != nil {
					fmt.Fprintln(e.stderr, "safety number:", identity.SafetyNumber(p.Identity.PublicKey(), k))
				}
			case session.MessageReceived:
				show.message(ev.Message, "peer")
			case session.MessageChanged:
				show.change(ev.Op, ev.Message, "peer", ev.Message.PeerReaction)
			case session.Delivered:
				fmt.Fprintln(e.stderr, "delivered")
			case session.Closed:
				return closedErr(ev.Err)
			}
		}
	}
}

func cmdRooms(_ context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("rooms", e)
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("rooms", pos); err != nil {
		return err
	}
	p, err := e.open()
	if err != nil {
		return err
	}
	defer p.Close()
	rooms, err := p.History.Rooms()
	if err != nil {
		return err
	}
	for _, r := range rooms {
		name := r.Name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\n", r.ID, oneLine(name), r.LastActive.Format(time.RFC3339), oneLine(r.LastPreview))
	}
	return nil
}

// roomKey finds the history key of a full link, or of a bare room id
// when exactly one stored room has it (the same id on two servers is two
// rooms: then only the link says which).
func roomKey(p *profile, arg string) (string, error) {
	if !protocol.ValidRoomID(arg) {
		l, err := session.ParseLink(arg)
		if err != nil {
			return "", err
		}
		return history.RoomKey(l.Server, l.RoomID), nil
	}
	rooms, err := p.History.Rooms()
	if err != nil {
		return "", err
	}
	key := ""
	for _, r := range rooms {
		if r.ID != arg {
			continue
		}
		if key != "" {
			return "", usagef("several rooms have the id %s (on different servers): give the whole link", session.ShortRoomID(arg))
		}
		key = r.Key
	}
	if key == "" {
		return history.RoomKey("", arg), nil // reported as not found below
	}
	return key, nil
}

// knownRoom opens the profile and checks the room is in its history.
func (e *cliEnv) knownRoom(arg string) (*profile, string, error) {
	if !protocol.ValidRoomID(arg) {
		if _, err := session.ParseLink(arg); err != nil {
			return nil, "", err
		}
	}
	p, err := e.open()
	if err != nil {
		return nil, "", err
	}
	key, err := roomKey(p, arg)
	if err != nil {
		p.Close()
		return nil, "", err
	}
	if _, ok, err := p.History.Room(key); err != nil || !ok {
		p.Close()
		if err == nil {
			id, _, _ := strings.Cut(key, ".")
			err = fmt.Errorf("room %s is not in this profile's recent rooms (see 'parley-cli rooms')", session.ShortRoomID(id))
		}
		return nil, "", err
	}
	return p, key, nil
}

func cmdRename(_ context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("rename", e)
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("rename", pos, "LINK", "NAME"); err != nil {
		return err
	}
	name := strings.TrimSpace(pos[1])
	if utf8.RuneCountInString(name) > 100 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return usagef("a room name is at most 100 characters with no control characters")
	}
	p, id, err := e.knownRoom(pos[0])
	if err != nil {
		return err
	}
	defer p.Close()
	return p.History.Rename(id, name)
}

func cmdClear(_ context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("clear", e)
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("clear", pos, "LINK"); err != nil {
		return err
	}
	p, id, err := e.knownRoom(pos[0])
	if err != nil {
		return err
	}
	defer p.Close()
	return p.History.ClearMessages(id)
}

func cmdForget(_ context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("forget", e)
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("forget", pos, "LINK"); err != nil {
		return err
	}
	p, id, err := e.knownRoom(pos[0])
	if err != nil {
		return err
	}
	defer p.Close()
	return p.History.Forget(id)
}

func cmdDestroy(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("destroy", e)
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for the server")
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("destroy", pos, "LINK"); err != nil {
		return err
	}
	wctx, cancel := waitContext(ctx, *wait)
	defer cancel()
	p, sess, err := e.joinRoom(wctx, pos[0], "", nil)
	if err != nil {
		if session.IsCode(err, protocol.CodeRoomDestroyed) || session.IsCode(err, protocol.CodeTimerExpired) {
			// Already gone on the server: still wipe it here.
			if p2, id, err2 := e.knownRoom(pos[0]); err2 == nil {
				_ = p2.History.Forget(id)
				p2.Close()
			}
		}
		return err
	}
	defer p.Close()
	defer sess.Close()
	if err := sess.Destroy(wctx); err != nil {
		return err
	}
	for {
		select {
		case <-wctx.Done():
			return errTimeout
		case ev, ok := <-sess.Events():
			if !ok {
				return nil
			}
			if c, ok := ev.(session.Closed); ok {
				if c.Err == nil || session.IsCode(c.Err, protocol.CodeRoomDestroyed) {
					fmt.Fprintln(e.stderr, "room destroyed")
					return nil
				}
				return c.Err
			}
		}
	}
}

func cmdWhoami(_ context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("whoami", e)
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("whoami", pos); err != nil {
		return err
	}
	id, err := e.openIdentity()
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, id.Fingerprint())
	fmt.Fprintf(e.stderr, "profile %s, public key %s\n", e.profile, identity.EncodeKey(id.PublicKey()))
	return nil
}

func cmdVerify(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("verify", e)
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("verify", pos, "LINK"); err != nil {
		return err
	}
	link, err := session.ParseLink(pos[0])
	if err != nil {
		return err
	}
	p, err := e.open()
	if err != nil {
		return err
	}
	defer p.Close()
	var peerKey []byte
	if r, ok, err := p.History.Room(history.RoomKey(link.Server, link.RoomID)); err != nil {
		return err
	} else if ok {
		peerKey = r.PeerKey
		if len(r.NewPeerKey) != 0 {
			// KEY_CHANGED: the number to compare now is the new one.
			fmt.Fprintln(e.stderr, "the other person's key changed; old safety number:", identity.SafetyNumber(p.Identity.PublicKey(), r.PeerKey))
			fmt.Fprintln(e.stderr, "new safety number (compare this one; if it matches, run 'parley-cli trust LINK'):")
			peerKey = r.NewPeerKey
		}
	}
	if peerKey == nil {
		// Not seen yet: ask the server who else is in the room.
		c, err := sigclient.Dial(ctx, sigclient.Config{ServerURL: link.Server, RoomID: link.RoomID, Key: p.Identity.PrivateKey(), Logger: p.logger})
		if err != nil {
			return classifyNetErr(err)
		}
		select {
		case ev := <-c.Events():
			if j, ok := ev.(sigclient.Joined); ok {
				peerKey = j.Peer
			}
		case <-time.After(10 * time.Second):
		}
		_ = c.Close()
	}
	if peerKey == nil {
		return errors.New("the other person has not joined this room yet, so there is no safety number to compare")
	}
	fmt.Fprintln(e.stdout, identity.SafetyNumber(p.Identity.PublicKey(), peerKey))
	return nil
}

func cmdTrust(_ context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("trust", e)
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("trust", pos, "LINK"); err != nil {
		return err
	}
	p, key, err := e.knownRoom(pos[0])
	if err != nil {
		return err
	}
	defer p.Close()
	r, _, err := p.History.Room(key)
	if err != nil {
		return err
	}
	if len(r.NewPeerKey) == 0 {
		return errors.New("the other person's key has not changed: there is nothing to trust")
	}
	if err := p.History.TrustNewPeerKey(key); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "trusted the new key; messages the old key never received will not be sent to it")
	return nil
}
