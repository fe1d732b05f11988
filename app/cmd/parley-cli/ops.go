package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/parley-chat/parley/app/chat"
	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/session"
)

// sendOp is what `send` does with a message besides sending new text:
// answer it (--reply), edit it (--edit), delete it for both (--delete) or
// toggle our reaction to it (--react ID EMOJI).
type sendOp struct {
	kind  string // "" (plain text), opReply, chat.OpEdit, chat.OpDelete, chat.OpReact
	of    string // the message it is about
	emoji string // --react
}

// opReply marks a reply: a new message, not an operation on the wire.
const opReply = "reply"

// parseSendOp checks the message flags of send against the rest of its
// command line. pos are send's positional arguments: LINK, and EMOJI
// after --react ID. It returns pos without EMOJI.
func parseSendOp(reply, edit, del, react, text string, files int, pos []string) (sendOp, []string, error) {
	var op sendOp
	n := 0
	for _, f := range []struct{ kind, id, flag string }{
		{opReply, reply, "--reply"}, {chat.OpEdit, edit, "--edit"}, {chat.OpDelete, del, "--delete"}, {chat.OpReact, react, "--react"},
	} {
		if f.id == "" {
			continue
		}
		if !validMessageID(f.id) {
			return sendOp{}, nil, usagef("%s %q: not a message id (ids are listed by 'parley-cli history LINK')", f.flag, f.id)
		}
		op, n = sendOp{kind: f.kind, of: f.id}, n+1
	}
	switch {
	case n > 1:
		return sendOp{}, nil, usagef("--reply, --edit, --delete and --react go one at a time")
	case op.kind != "" && files > 0:
		return sendOp{}, nil, usagef("--file cannot be combined with --%s", op.kind)
	case (op.kind == opReply || op.kind == chat.OpEdit) && text == "":
		return sendOp{}, nil, usagef("--%s ID needs --text TEXT", op.kind)
	case (op.kind == chat.OpDelete || op.kind == chat.OpReact) && text != "":
		return sendOp{}, nil, usagef("--%s takes no --text", op.kind)
	}
	if op.kind != chat.OpReact {
		return op, pos, positional("send", pos, "LINK")
	}
	if len(pos) != 2 {
		return sendOp{}, nil, usagef("send LINK --react ID EMOJI: give one of %s", strings.Join(chat.Reactions, " "))
	}
	emoji, ok := reaction(pos[1])
	if !ok {
		return sendOp{}, nil, usagef("%q is not one of the reactions: %s", pos[1], strings.Join(chat.Reactions, " "))
	}
	op.emoji = emoji
	return op, pos[:1], nil
}

// reaction returns the reaction e names: one of chat.Reactions, also
// without its emoji variation selector (U+FE0F; "❤" for "❤️").
func reaction(e string) (string, bool) {
	for _, r := range chat.Reactions {
		if e == r || e == strings.TrimSuffix(r, "\ufe0f") {
			return r, true
		}
	}
	return "", false
}

// validMessageID reports whether id looks like a message id: 1 to 64
// characters of the base64url alphabet (what the chat protocol accepts).
func validMessageID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// check refuses, before waiting for the peer, what the session would
// refuse: a message that is not in this room's history, a deleted one, or
// (edit, delete) the other person's.
func (op sendOp) check(h *history.Store, key string) error {
	if op.of == "" {
		return nil
	}
	m, ok, err := h.Message(key, op.of)
	switch {
	case err != nil:
		return err
	case !ok:
		return history.ErrMessageNotFound
	case op.kind == opReply:
		return nil
	case m.Deleted:
		return session.ErrMessageDeleted
	case (op.kind == chat.OpEdit || op.kind == chat.OpDelete) && !m.Outgoing:
		return session.ErrNotYours
	}
	return nil
}

// do sends text or the operation. It returns the stored message (new, or
// as changed) and, for an operation, its id (acked as OpDelivered).
func (op sendOp) do(sess *session.Session, h *history.Store, text string) (history.Message, string, error) {
	switch op.kind {
	case "":
		m, err := sess.Send(text)
		return m, "", err
	case opReply:
		m, err := sess.Reply(text, op.of)
		return m, "", err
	case chat.OpReact:
		// A toggle here; on the wire the reaction it sets (or none), so a
		// resent copy cannot flip it back.
		emoji := op.emoji
		if m, ok, err := h.Message(sess.Key(), op.of); err == nil && ok && m.MyReaction == emoji {
			emoji = ""
		}
		return sess.Change(chat.OpReact, op.of, "", emoji)
	}
	return sess.Change(op.kind, op.of, text, "")
}

// event is one line of --json output (receive, chat, send): a message or
// a change to one. Field names are stable (docs/cli.md).
type event struct {
	// Type is message, edit, delete, reaction or file.
	Type string `json:"type"`
	// ID is the message's id (for edit, delete and reaction: the message
	// changed).
	ID string `json:"id,omitempty"`
	// From is "peer" or "me": who sent the message or made the change.
	From string `json:"from,omitempty"`
	// SentAt is when a message was sent (RFC 3339, UTC).
	SentAt string `json:"sentAt,omitempty"`
	// Text is a message's text or an edit's new text.
	Text *string `json:"text,omitempty"`
	// ReplyTo is the id of the message a message answers.
	ReplyTo string `json:"replyTo,omitempty"`
	// Emoji is a reaction's emoji, "" when it was removed.
	Emoji *string `json:"emoji,omitempty"`
	// OpID is the id of an operation send made (acked by the peer).
	OpID string `json:"opId,omitempty"`
	// Path is where a received file was saved.
	Path string `json:"path,omitempty"`
}

func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// messageEvent describes a new message.
func messageEvent(m history.Message, from string) event {
	text := m.Text
	return event{Type: "message", ID: m.ID, From: from, SentAt: timeText(m.SentAt), Text: &text, ReplyTo: m.ReplyTo}
}

// changeEvent describes operation op on m (m as it is stored now).
func changeEvent(op string, m history.Message, from, emoji string) event {
	switch op {
	case chat.OpEdit:
		text := m.Text
		return event{Type: "edit", ID: m.ID, From: from, Text: &text}
	case chat.OpDelete:
		return event{Type: "delete", ID: m.ID, From: from}
	}
	return event{Type: "reaction", ID: m.ID, From: from, Emoji: &emoji}
}

// printer writes received messages and changes to stdout: one readable
// line each, or one JSON object each with --json.
type printer struct {
	w    io.Writer
	json bool
	h    *history.Store
	key  string
}

// message prints a new message. A plain message is its text on one line,
// as always; a reply starts with the start of the message it answers.
func (p printer) message(m history.Message, from string) {
	if p.json {
		p.emit(messageEvent(m, from))
		return
	}
	if m.ReplyTo == "" {
		fmt.Fprintln(p.w, oneLine(m.Text))
		return
	}
	fmt.Fprintf(p.w, "(reply to %s) %s\n", p.quote(m.ReplyTo), oneLine(m.Text))
}

// change prints an operation on m by from.
func (p printer) change(op string, m history.Message, from, emoji string) {
	if p.json {
		p.emit(changeEvent(op, m, from, emoji))
		return
	}
	switch {
	case op == chat.OpEdit:
		fmt.Fprintf(p.w, "(edited) %s\n", oneLine(m.Text))
	case op == chat.OpDelete:
		fmt.Fprintln(p.w, "(deleted a message)")
	case emoji != "":
		fmt.Fprintf(p.w, "(reacted %s to %s)\n", emoji, p.quote(m.ID))
	default:
		fmt.Fprintf(p.w, "(removed a reaction from %s)\n", p.quote(m.ID))
	}
}

func (p printer) file(path string) {
	if p.json {
		p.emit(event{Type: "file", Path: path})
		return
	}
	fmt.Fprintln(p.w, path)
}

// quote names a stored message by the start of its text.
func (p printer) quote(id string) string {
	m, ok, err := p.h.Message(p.key, id)
	switch {
	case err != nil || !ok:
		return "a message not in this history"
	case m.Deleted:
		return "a deleted message"
	}
	const quoteRunes = 40
	r := []rune(strings.Join(strings.Fields(m.Text), " "))
	if len(r) > quoteRunes {
		r = append(r[:quoteRunes], '…')
	}
	return `"` + oneLine(string(r)) + `"`
}

func (p printer) emit(ev event) {
	b, err := json.Marshal(ev)
	if err != nil { // cannot happen: strings and pointers to strings
		return
	}
	fmt.Fprintf(p.w, "%s\n", b)
}

// historyEntry is one message of `history --json`.
type historyEntry struct {
	ID           string `json:"id"`
	From         string `json:"from"`
	SentAt       string `json:"sentAt"`
	State        string `json:"state"`
	Text         string `json:"text"`
	ReplyTo      string `json:"replyTo"`
	Edited       bool   `json:"edited"`
	Deleted      bool   `json:"deleted"`
	MyReaction   string `json:"myReaction"`
	PeerReaction string `json:"peerReaction"`
}

func from(outgoing bool) string {
	if outgoing {
		return "me"
	}
	return "peer"
}

func cmdHistory(_ context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("history", e)
	asJSON := fs.Bool("json", false, "print one JSON object per message (fields in docs/cli.md)")
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("history", pos, "LINK"); err != nil {
		return err
	}
	p, key, err := e.knownRoom(pos[0])
	if err != nil {
		return err
	}
	defer p.Close()
	msgs, err := p.History.Messages(key)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if *asJSON {
			b, err := json.Marshal(historyEntry{
				ID: m.ID, From: from(m.Outgoing), SentAt: timeText(m.SentAt), State: string(m.State), Text: m.Text,
				ReplyTo: m.ReplyTo, Edited: m.Edited, Deleted: m.Deleted, MyReaction: m.MyReaction, PeerReaction: m.PeerReaction,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s\n", b)
			continue
		}
		var flags []string
		if m.State != "" {
			flags = append(flags, string(m.State))
		}
		for _, f := range []struct {
			on   bool
			text string
		}{
			{m.Edited, "edited"}, {m.Deleted, "deleted"}, {m.ReplyTo != "", "re:" + m.ReplyTo},
			{m.MyReaction != "", "me:" + m.MyReaction}, {m.PeerReaction != "", "peer:" + m.PeerReaction},
		} {
			if f.on {
				flags = append(flags, f.text)
			}
		}
		if len(flags) == 0 {
			flags = []string{"-"}
		}
		text := oneLine(m.Text)
		if m.Deleted {
			text = "(deleted)"
		}
		fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\t%s\n", m.ID, m.SentAt.Format(time.RFC3339), from(m.Outgoing), strings.Join(flags, ","), text)
	}
	return nil
}

// cannotChange returns what to say when err is the session's refusal of
// a reply or an operation (code CANNOT_CHANGE).
func cannotChange(err error) (string, bool) {
	switch {
	case errors.Is(err, history.ErrMessageNotFound):
		return "there is no message with this id in this room on this computer. 'parley-cli history LINK' lists the ids.", true
	case errors.Is(err, session.ErrNotYours):
		return "only the person who wrote a message can edit or delete it.", true
	case errors.Is(err, session.ErrMessageDeleted):
		return "that message was deleted; it cannot change any more.", true
	case errors.Is(err, session.ErrBadReaction):
		return "that is not one of the reactions: " + strings.Join(chat.Reactions, " ") + ".", true
	}
	return "", false
}

// sent prints what send sent on stdout: the new message's id (nothing for
// an operation: its message id is on the command line), or with --json
// the message or change as receive prints it on the other side.
func (p printer) sent(op sendOp, m history.Message, opID string) {
	if !p.json {
		if opID == "" {
			fmt.Fprintln(p.w, m.ID)
		}
		return
	}
	if opID == "" {
		p.emit(messageEvent(m, "me"))
		return
	}
	ev := changeEvent(op.kind, m, "me", m.MyReaction)
	ev.OpID = opID
	p.emit(ev)
}
