package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/chat"
	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/signaling/server/servertest"
)

func TestSendOpUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const link = "http://127.0.0.1:1/r/V1StGXR8_Z5jdHi6B-myT#AAECAwQFBgcICQoLDA0ODw"
	tests := []struct {
		args     []string
		inStderr string
	}{
		{[]string{"send", link, "--react", "abc", "🤡"}, "not one of the reactions: 👍"},
		{[]string{"send", link, "--react", "abc"}, "--react ID EMOJI"},
		{[]string{"send", link, "--react", "abc", "👍", "extra"}, "--react ID EMOJI"},
		{[]string{"send", link, "--edit", "abc"}, "--edit ID needs --text"},
		{[]string{"send", link, "--reply", "abc"}, "--reply ID needs --text"},
		{[]string{"send", link, "--delete", "abc", "--text", "x"}, "--delete takes no --text"},
		{[]string{"send", link, "--react", "abc", "👍", "--text", "x"}, "--react takes no --text"},
		{[]string{"send", link, "--edit", "a", "--delete", "b", "--text", "x"}, "one at a time"},
		{[]string{"send", link, "--edit", "no such id!", "--text", "x"}, "not a message id"},
		{[]string{"send", link, "--reply", "abc", "--text", "x", "--file", "/etc/hostname"}, "--file cannot be combined with --reply"},
		{[]string{"send", link, "👍", "--text", "x"}, "send takes LINK"},
		{[]string{"history"}, "history takes LINK"},
	}
	for _, tc := range tests {
		out, errs, code := cli(t, dir, tc.args...)
		if code != exitUsage || out != "" || !strings.Contains(errs, tc.inStderr) {
			t.Errorf("parley-cli %q: exit %d (want %d)\nstdout: %s\nstderr: %s", tc.args, code, exitUsage, out, errs)
		}
	}
	if out, _, _ := cli(t, dir, "help"); !strings.Contains(out, "26  CANNOT_CHANGE") || !strings.Contains(out, "--react ID EMOJI") {
		t.Errorf("help lacks the operations:\n%s", out)
	}
}

func TestReactionNames(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"👍": "👍", "❤️": "❤️", "❤": "❤️", "🙏": "🙏", "🤡": "", "": "", "👍👍": ""} {
		if got, ok := reaction(in); got != want || ok != (want != "") {
			t.Errorf("reaction(%q) = %q, %t", in, got, ok)
		}
	}
}

// An operation on a message the room does not have is refused after
// joining, before waiting for the peer, with CANNOT_CHANGE.
func TestSendOpOnUnknownMessage(t *testing.T) {
	t.Parallel()
	hs := servertest.New(t, servertest.Options{DefaultLimits: true})
	dir := t.TempDir()
	out, _, code := cli(t, dir, "create", "--server", hs.URL)
	if code != 0 {
		t.Fatal("create failed")
	}
	link := strings.TrimSpace(out)
	for _, args := range [][]string{
		{"--edit", "nosuchmessage", "--text", "x"},
		{"--delete", "nosuchmessage"},
		{"--react", "nosuchmessage", "👍"},
		{"--reply", "nosuchmessage", "--text", "x"},
	} {
		start := time.Now()
		_, errs, code := cli(t, dir, append([]string{"send", link, "--wait", "30s"}, args...)...)
		if code != exitCannotChange || !strings.Contains(errs, "CANNOT_CHANGE: there is no message with this id") || time.Since(start) > 20*time.Second {
			t.Errorf("send %q: exit %d after %v, stderr %s", args, code, time.Since(start), errs)
		}
	}
	if out, errs, code := cli(t, dir, "history", link); code != 0 || out != "" {
		t.Errorf("history of an empty room: %d %q %q", code, out, errs)
	}
}

// receive's lines: a plain message is its text as always; replies and the
// other person's changes are readable lines, or JSON objects with stable
// fields.
func TestPrinter(t *testing.T) {
	t.Parallel()
	key := make([]byte, history.KeySize)
	h, err := history.Open(filepath.Join(t.TempDir(), "h.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	r := history.Room{ID: "room", Server: "https://s.example", Link: "https://s.example/r/room#x", CreatedAt: time.Now(), LastActive: time.Now()}
	if err := h.PutRoom(r); err != nil {
		t.Fatal(err)
	}
	rk := history.RoomKey(r.Server, r.ID)
	at := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	orig := history.Message{ID: "orig", RoomKey: rk, Outgoing: true, Text: "a rather long first message\nwith a second line in it", SentAt: at, State: history.StateDelivered}
	if _, err := h.AddMessage(orig); err != nil {
		t.Fatal(err)
	}
	plain := history.Message{ID: "m1", RoomKey: rk, Text: "hi\nthere", SentAt: at}
	reply := history.Message{ID: "m2", RoomKey: rk, Text: "yes", SentAt: at, ReplyTo: "orig"}
	orphan := history.Message{ID: "m3", RoomKey: rk, Text: "what?", SentAt: at, ReplyTo: "gone"}
	edited := history.Message{ID: "m1", RoomKey: rk, Text: "hi there", SentAt: at, Edited: true}
	deleted := history.Message{ID: "m1", RoomKey: rk, SentAt: at, Deleted: true}

	tests := []struct {
		do        func(p printer)
		line, obj string
	}{
		{func(p printer) { p.message(plain, "peer") }, `hi\nthere`,
			`{"type":"message","id":"m1","from":"peer","sentAt":"2026-12-07T15:00:00Z","text":"hi\nthere"}`},
		{func(p printer) { p.message(reply, "peer") }, `(reply to "a rather long first message with a secon…") yes`,
			`{"type":"message","id":"m2","from":"peer","sentAt":"2026-12-07T15:00:00Z","text":"yes","replyTo":"orig"}`},
		{func(p printer) { p.message(orphan, "peer") }, `(reply to a message not in this history) what?`, ""},
		{func(p printer) { p.change(chat.OpEdit, edited, "peer", "") }, `(edited) hi there`,
			`{"type":"edit","id":"m1","from":"peer","text":"hi there"}`},
		{func(p printer) { p.change(chat.OpDelete, deleted, "peer", "") }, `(deleted a message)`,
			`{"type":"delete","id":"m1","from":"peer"}`},
		{func(p printer) { p.change(chat.OpReact, orig, "peer", "👍") }, `(reacted 👍 to "a rather long first message with a secon…")`,
			`{"type":"reaction","id":"orig","from":"peer","emoji":"👍"}`},
		{func(p printer) { p.change(chat.OpReact, orig, "peer", "") }, `(removed a reaction from "a rather long first message with a secon…")`,
			`{"type":"reaction","id":"orig","from":"peer","emoji":""}`},
		{func(p printer) { p.file("/tmp/x y.pdf") }, `/tmp/x y.pdf`, `{"type":"file","path":"/tmp/x y.pdf"}`},
	}
	for _, tt := range tests {
		var lb, jb bytes.Buffer
		tt.do(printer{w: &lb, h: h, key: rk})
		tt.do(printer{w: &jb, json: true, h: h, key: rk})
		if got := strings.TrimSuffix(lb.String(), "\n"); got != tt.line || strings.Count(lb.String(), "\n") != 1 {
			t.Errorf("line %q, want %q", lb.String(), tt.line)
		}
		if strings.Count(jb.String(), "\n") != 1 || !json.Valid(jb.Bytes()) {
			t.Errorf("not one JSON line: %q", jb.String())
		}
		if tt.obj != "" && strings.TrimSuffix(jb.String(), "\n") != tt.obj {
			t.Errorf("json %s, want %s", jb.String(), tt.obj)
		}
	}
}
