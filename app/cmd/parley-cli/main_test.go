package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parley-chat/parley/app/identity"
	"github.com/parley-chat/parley/app/session"
	"github.com/parley-chat/parley/app/sigclient"
	"github.com/parley-chat/parley/app/transfer"
	"github.com/parley-chat/parley/signaling/server/servertest"
)

// cli runs one command line in-process with a file secret store in dir.
func cli(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--data-dir", dir, "--secret-store", "file"}, args...)
	code = run(context.Background(), full, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestUsageAndHelp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{nil, exitUsage, "", "no command given"},
		{[]string{"--help"}, exitOK, "Exit status:", ""},
		{[]string{"help"}, exitOK, "VERIFY_FAILED", ""},
		{[]string{"help"}, exitOK, "24  KEY_CHANGED", ""},
		{[]string{"help"}, exitOK, "after KEY_CHANGED: trust", ""},
		{[]string{"version"}, exitOK, "parley-cli dev (commit ", ""},
		{[]string{"version", "x"}, exitUsage, "", "version takes"},
		{[]string{"send", "--help"}, exitOK, "-text TEXT", ""},
		{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"send"}, exitUsage, "", "send takes LINK"},
		{[]string{"send", "http://x/r/y#z"}, exitUsage, "", "--text"},
		{[]string{"create"}, exitUsage, "", "--server"},
		{[]string{"create", "--server", "ftp://x"}, exitUsage, "", "scheme"},
		{[]string{"create", "--server", "http://127.0.0.1:1", "--self-destruct", "200h"}, exitUsage, "", "self-destruct"},
		{[]string{"--secret-store", "vault", "whoami"}, exitUsage, "", "keyring or file"},
		{[]string{"--profile", "../etc", "whoami"}, exitUsage, "", "--profile"},
		{[]string{"receive", "https://example.org/r/V1StGXR8_Z5jdHi6B-myT"}, exitBadLink, "", "BAD_LINK"},
		{[]string{"rename", "V1StGXR8_Z5jdHi6B-myT", "x\x00y"}, exitUsage, "", "control"},
		{[]string{"clear", "V1StGXR8_Z5jdHi6B-myT"}, exitError, "", "not in this profile's recent rooms"},
	}
	for _, tc := range tests {
		out, errs, code := cli(t, dir, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.inStdout) || !strings.Contains(errs, tc.inStderr) {
			t.Errorf("parley-cli %q: exit %d (want %d)\nstdout: %s\nstderr: %s", tc.args, code, tc.code, out, errs)
		}
	}
}

func TestGlobalFlagsBeforeOrAfterCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, _, code := cli(t, dir, "--profile", "alice", "whoami")
	b, _, code2 := cli(t, dir, "whoami", "--profile", "alice")
	c, _, _ := cli(t, dir, "whoami", "--profile", "bob")
	if code != 0 || code2 != 0 || a != b || a == c || a == "" {
		t.Fatalf("whoami: %q (%d) vs %q (%d) vs bob %q", a, code, b, code2, c)
	}
}

func TestErrorCodesMapToDistinctStatuses(t *testing.T) {
	t.Parallel()
	seen := map[int]string{}
	for code, info := range codes {
		if info.status == exitError {
			continue
		}
		if other, dup := seen[info.status]; dup {
			t.Errorf("%s and %s share exit status %d", code, other, info.status)
		}
		seen[info.status] = code
		got, status, sentence := describe(&sigclient.Error{Code: code})
		if info.sentence != "" && (got != code || status != info.status || sentence == "") {
			t.Errorf("describe(%s) = %s %d %q", code, got, status, sentence)
		}
	}
	if c, s, _ := describe(fmt.Errorf("join: %w", &identity.UnavailableError{Err: errors.New("no bus")})); c != "KEYRING_UNAVAILABLE" || s != exitKeyring {
		t.Errorf("keyring error mapped to %s %d", c, s)
	}
	if c, s, _ := describe(fmt.Errorf("wait: %w", context.DeadlineExceeded)); c != session.CodeTimeout || s != exitTimeout {
		t.Errorf("timeout mapped to %s %d", c, s)
	}
	// KEY_CHANGED says both safety numbers, so the user can compare.
	local, old, changed := make(ed25519.PublicKey, 32), make(ed25519.PublicKey, 32), make(ed25519.PublicKey, 32)
	old[0], changed[0] = 1, 2
	kc := &session.KeyChangedError{Local: local, Old: old, New: changed}
	c, s, sentence := describe(fmt.Errorf("session: %w", kc))
	if c != session.CodeKeyChanged || s != exitKeyChanged ||
		!strings.Contains(sentence, identity.SafetyNumber(local, old)) || !strings.Contains(sentence, identity.SafetyNumber(local, changed)) {
		t.Errorf("key change mapped to %s %d %q", c, s, sentence)
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":           "plain",
		"a\nb":            `a\nb`,
		"a\r\nb":          `a\nb`,
		`back\slash`:      `back\\slash`,
		"tab\tstays":      "tab\tstays",
		"ünïcödé ✓ 🎉":     "ünïcödé ✓ 🎉",
		"\x1b[31mred\x07": `\x1b[31mred\x07`,
		"rtl\u202eexe":    `rtl\u{202e}exe`,
		"bad\xffutf8":     `bad\xffutf8`,
		"del\x7f":         `del\x7f`,
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRoomIDStartingWithDash: '-' is one of a room id's 64 letters, so one
// id in 64 starts with it. Such an id is an argument, never an unknown flag
// (CI once failed "forget" with "flag provided but not defined: -wyxTbb...").
func TestRoomIDStartingWithDash(t *testing.T) {
	t.Parallel()
	const id = "-wyxTbbRtWHZm7xB-e2N6"
	const id2 = "--yxTbbRtWHZm7xB-e2N6"
	for _, tc := range []struct {
		args []string
		pos  []string
		text string
		bad  bool
	}{
		{args: []string{id}, pos: []string{id}},
		{args: []string{id2}, pos: []string{id2}},
		{args: []string{"--text", "hi", id}, pos: []string{id}, text: "hi"},
		{args: []string{id, "--text", "hi"}, pos: []string{id}, text: "hi"},
		{args: []string{"--json", id, "x"}, pos: []string{id, "x"}},
		// A flag's value stays its value, whatever it looks like.
		{args: []string{"--text", id, "a"}, pos: []string{"a"}, text: id},
		{args: []string{"--text=" + id, "a"}, pos: []string{"a"}, text: id},
		{args: []string{"--text", "--", id}, pos: []string{id}, text: "--"},
		{args: []string{"--text", "--text", id}, pos: []string{id}, text: "--text"},
		{args: []string{"--", "-x"}, pos: []string{"-x"}},
		{args: []string{"a", "--", "--text", "b"}, pos: []string{"a", "--text", "b"}},
		// A real unknown flag is still an error.
		{args: []string{"-nosuchflag", id}, bad: true},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		text := fs.String("text", "", "")
		fs.Bool("json", false, "")
		pos, err := parseInterspersed(fs, tc.args, false)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.args)
			}
			continue
		}
		if err != nil || !slices.Equal(pos, tc.pos) || *text != tc.text {
			t.Errorf("%q: pos %q text %q err %v; want %q %q", tc.args, pos, *text, err, tc.pos, tc.text)
		}
	}
	// And end to end: forget takes such an id.
	dir := t.TempDir()
	if _, errs, code := cli(t, dir, "forget", id); code == exitUsage || strings.Contains(errs, "flag provided") {
		t.Fatalf("forget %s: %d %q", id, code, errs)
	}
}

func TestCreateRenameForgetAgainstRealServer(t *testing.T) {
	t.Parallel()
	hs := servertest.New(t, servertest.Options{DefaultLimits: true})
	dir := t.TempDir()
	out, errs, code := cli(t, dir, "create", "--server", hs.URL, "--self-destruct", "10m")
	if code != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("create: %d %q %q", code, out, errs)
	}
	link, err := session.ParseLink(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("create printed an unparsable link %q: %v", out, err)
	}
	if _, errs, code := cli(t, dir, "rename", link.String(), "Ünïcode name"); code != 0 {
		t.Fatalf("rename failed: %d %q", code, errs)
	}
	rooms, _, _ := cli(t, dir, "rooms")
	if !strings.Contains(rooms, link.RoomID) || !strings.Contains(rooms, "Ünïcode name") {
		t.Fatalf("rooms: %q", rooms)
	}
	if _, errs, code := cli(t, dir, "forget", link.RoomID); code != 0 {
		t.Fatalf("forget failed: %d %q", code, errs)
	}
	if rooms, _, _ := cli(t, dir, "rooms"); strings.Contains(rooms, link.RoomID) {
		t.Fatalf("forgotten room still listed: %q", rooms)
	}
	_, errs, code = cli(t, dir, "create", "--server", "http://127.0.0.1:1")
	if code != exitUnreachable || !strings.Contains(errs, "SERVER_UNREACHABLE") {
		t.Fatalf("unreachable server: %d %q", code, errs)
	}
}

// TestReceiveRefusesSharedOutFolder: --out must be a folder of this user
// that others cannot write to (files saved into a shared folder would be
// readable or replaceable by other accounts).
func TestReceiveRefusesSharedOutFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	shared := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	_, errs, code := cli(t, dir, "receive", "https://example.org/r/V1StGXR8_Z5jdHi6B-myT#k", "--out", shared)
	if code != exitError || !strings.Contains(errs, "other users may write into it") {
		t.Fatalf("exit %d, stderr: %s", code, errs)
	}
}

// TestFailureText: refusals print their code and what to do next.
func TestFailureText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", transfer.ErrDiskFull), "DISK_FULL: "},
		{transfer.ErrReceiveLimit, "RECEIVE_LIMIT: "},
		{fmt.Errorf("%w: it is not a folder", transfer.ErrNoDownloadFolder), "DOWNLOAD_FOLDER_UNUSABLE: no usable download folder: it is not a folder. "},
		{transfer.ErrPeerRefused, "PEER_SAVE_FAILED: "},
		{transfer.ErrHashMismatch, transfer.ErrHashMismatch.Error()},
	}
	for _, tt := range tests {
		if got := failureText(tt.err); !strings.HasPrefix(got, tt.want) {
			t.Errorf("failureText(%v) = %q, want prefix %q", tt.err, got, tt.want)
		}
	}
}
