package chat

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzDecodeFrame feeds arbitrary bytes through the same reader and decoder
// the read loop uses. It must never panic, and everything it accepts must
// satisfy the validation rules.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"t":"msg","id":"abc","ts":1700000000000,"text":"hi"}`,
		`{"t":"ack","id":"abc"}`,
		`{"t":"typing"}`,
		`{"t":"read","id":"x_-9"}`,
		`{"t":"unknown"}`,
		`{"t":"destroy","v":1}`,
		`{"t":"expires","v":1,"ts":1700000000000}`,
		`{"t":"expires","v":2}`,
		`{"t":"msg","id":"r","text":"answer","re":"abc"}`,
		`{"t":"msg","id":"e","text":"new","op":"edit","of":"abc"}`,
		`{"t":"msg","id":"x","text":"(reacted)","op":"react","of":"abc","emoji":"👍"}`,
		`{"t":"msg","id":"d","text":"(deleted)","op":"delete","of":"abc"}`,
		`{"t":"msg","id":"p","text":"(pinned)","op":"pin","of":"abc"}`,
		`not json`,
	} {
		f.Add(rawFrame(s))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			body, err := readFrame(r)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrProtocol) {
					t.Fatalf("unexpected read error %v", err)
				}
				return
			}
			fr, err := decodeFrame(body)
			if err != nil {
				if !errors.Is(err, ErrProtocol) {
					t.Fatalf("decode error does not wrap ErrProtocol: %v", err)
				}
				continue
			}
			switch fr.T {
			case typeMsg, typeAck, typeRead:
				if !validID(fr.ID) {
					t.Fatalf("accepted invalid id %q", fr.ID)
				}
			}
			if fr.T == typeExpires && fr.V == controlVersion && fr.TS <= 0 {
				t.Fatalf("accepted expires frame without a time")
			}
			if fr.T == typeMsg {
				checkFuzzedExtensions(t, fr)
			}
			if len(fr.Text) > MaxTextBytes {
				t.Fatalf("accepted text of %d bytes", len(fr.Text))
			}
		}
	})
}

// checkFuzzedExtensions fails unless a decoded msg frame's extensions obey
// checkExtensions' rules (other frames' handlers never read them).
func checkFuzzedExtensions(t *testing.T, fr frame) {
	t.Helper()
	if fr.Re != "" && (!validID(fr.Re) || fr.Op != "") {
		t.Fatalf("accepted reply id %q (op %q)", fr.Re, fr.Op)
	}
	switch fr.Op {
	case "":
		if fr.Of != "" || fr.Emoji != "" {
			t.Fatalf("kept of %q / emoji %q without an op", fr.Of, fr.Emoji)
		}
	case OpEdit, OpDelete, OpReact:
		if !validID(fr.Of) || (fr.Emoji != "" && (fr.Op != OpReact || !IsReaction(fr.Emoji))) {
			t.Fatalf("accepted op %q of %q emoji %q", fr.Op, fr.Of, fr.Emoji)
		}
	default:
		t.Fatalf("accepted unknown op %q", fr.Op)
	}
}
