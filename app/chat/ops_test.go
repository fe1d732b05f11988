package chat

import (
	"context"
	"encoding/json"
	"net"
	"testing"
)

// received returns the last message the side's recorder stored.
func (s side) last(t *testing.T) Message {
	t.Helper()
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	if len(s.rec.received) == 0 {
		t.Fatal("nothing received")
	}
	return s.rec.received[len(s.rec.received)-1]
}

func TestOpsRoundTrip(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	orig, err := a.conn.Send("original")
	if err != nil {
		t.Fatal(err)
	}
	b.rec.wait(t, "receive:"+orig.ID)

	tests := []struct {
		name string
		m    Message
	}{
		{"reply", Message{ID: "r1", Text: "an answer", ReplyTo: orig.ID}},
		{"edit", Message{ID: "e1", Text: "corrected", Op: OpEdit, Of: orig.ID}},
		{"react", Message{ID: "x1", Text: FallbackText(OpReact, "👍"), Op: OpReact, Of: orig.ID, Emoji: "👍"}},
		{"unreact", Message{ID: "x2", Text: FallbackText(OpReact, ""), Op: OpReact, Of: orig.ID}},
		{"delete", Message{ID: "d1", Text: FallbackText(OpDelete, ""), Op: OpDelete, Of: orig.ID}},
	}
	for _, tt := range tests {
		tt.m.SentAt = orig.SentAt
		if err := a.conn.SendWithID(tt.m); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		b.rec.wait(t, "receive:"+tt.m.ID)
		a.rec.wait(t, "delivered:"+tt.m.ID)
		if got := b.last(t); got.Text != tt.m.Text || got.ReplyTo != tt.m.ReplyTo || got.Op != tt.m.Op || got.Of != tt.m.Of || got.Emoji != tt.m.Emoji {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.m)
		}
	}
}

func TestSendWithIDRefusesBadOps(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	for _, m := range []Message{
		{ID: "a", Op: OpEdit},                                // no target
		{ID: "a", Op: OpReact, Of: "b", Emoji: "🤡"},          // not a reaction
		{ID: "a", Op: OpEdit, Of: "b", Emoji: "👍"},           // emoji on an edit
		{ID: "a", Op: "pin", Of: "b"},                        // unknown op
		{ID: "a", ReplyTo: "not an id!"},                     // bad reply id
		{ID: "a", Op: OpDelete, Of: "b", ReplyTo: "c"},       // an op is no reply
		{ID: "a", Op: OpDelete, Of: "b/../../etc/passwd"},    // bad target
		{ID: "a", Op: OpReact, Of: string(make([]byte, 65))}, // long target
	} {
		if err := a.conn.SendWithID(m); err == nil {
			t.Errorf("SendWithID(%+v) = nil", m)
		}
	}
}

// A hostile or newer peer's extensions that this side cannot apply leave
// an ordinary message with the frame's text, as an older peer would show
// it; the connection stays up and the frame is acked.
func TestHostileExtensionsDegradeToText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		frame string
		want  Message
	}{
		{"unknown op from a newer peer", `{"t":"msg","id":"m1","text":"(pinned a message)","op":"pin","of":"abc"}`, Message{ID: "m1", Text: "(pinned a message)"}},
		{"reaction outside the set", `{"t":"msg","id":"m2","text":"(reacted)","op":"react","of":"abc","emoji":"<img src=x>"}`, Message{ID: "m2", Text: "(reacted)"}},
		{"op without target", `{"t":"msg","id":"m3","text":"x","op":"delete"}`, Message{ID: "m3", Text: "x"}},
		{"malformed target", `{"t":"msg","id":"m4","text":"x","op":"edit","of":"../x"}`, Message{ID: "m4", Text: "x"}},
		{"emoji on an edit", `{"t":"msg","id":"m5","text":"x","op":"edit","of":"abc","emoji":"👍"}`, Message{ID: "m5", Text: "x"}},
		{"malformed reply id", `{"t":"msg","id":"m6","text":"x","re":"a b"}`, Message{ID: "m6", Text: "x"}},
		{"reply on an op is dropped", `{"t":"msg","id":"m7","text":"y","op":"edit","of":"abc","re":"def"}`, Message{ID: "m7", Text: "y", Op: OpEdit, Of: "abc"}},
		{"target that does not exist passes to the handler", `{"t":"msg","id":"m8","text":"","op":"delete","of":"nosuchid"}`, Message{ID: "m8", Op: OpDelete, Of: "nosuchid"}},
		{"wrong types", `{"t":"msg","id":"m9","text":"x","op":7}`, Message{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pa, pb := net.Pipe()
			rec := newRecorder()
			c := NewConn(pa, rec, nil)
			errc := make(chan error, 1)
			go func() { errc <- c.Run(context.Background()) }()
			t.Cleanup(func() { _ = c.Close(); <-errc; _ = pb.Close() })
			go func() { _, _ = pb.Write(rawFrame(tt.frame)) }()
			if tt.want.ID == "" { // a type error is a protocol error: the connection ends
				if err := <-errc; err == nil {
					t.Fatal("Run ended without error")
				}
				errc <- nil
				return
			}
			// Read the ack from the pipe (nobody else reads pb).
			body, err := readFrame(pb)
			if err != nil {
				t.Fatal(err)
			}
			if ack, _ := decodeFrame(body); ack.T != typeAck || ack.ID != tt.want.ID {
				t.Fatalf("got %s, want the ack of %s", body, tt.want.ID)
			}
			rec.mu.Lock()
			got := rec.received[0]
			rec.mu.Unlock()
			got.SentAt = tt.want.SentAt
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// oldFrame is the msg frame as a peer from before message operations
// decodes it (frame.go before them): it knows no re, op, of or emoji.
type oldFrame struct {
	T    string `json:"t"`
	ID   string `json:"id,omitempty"`
	TS   int64  `json:"ts,omitempty"`
	Text string `json:"text,omitempty"`
}

func TestOlderPeerReadsTheFallback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		m    Message
		want string
	}{
		{Message{ID: "a", Text: "an answer", ReplyTo: "b"}, "an answer"},
		{Message{ID: "a", Text: "the new text", Op: OpEdit, Of: "b"}, "the new text"},
		{Message{ID: "a", Text: FallbackText(OpDelete, ""), Op: OpDelete, Of: "b"}, "(deleted a message)"},
		{Message{ID: "a", Text: FallbackText(OpReact, "❤️"), Op: OpReact, Of: "b", Emoji: "❤️"}, "(reacted ❤️ to a message)"},
		{Message{ID: "a", Text: FallbackText(OpReact, ""), Op: OpReact, Of: "b"}, "(removed a reaction)"},
	}
	for _, tt := range tests {
		pa, pb := net.Pipe()
		c := NewConn(pa, newRecorder(), nil)
		go func() { _ = c.SendWithID(tt.m) }()
		body, err := readFrame(pb)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
		_ = pb.Close()
		var old oldFrame
		if err := json.Unmarshal(body, &old); err != nil || old.T != typeMsg || old.ID != tt.m.ID || old.Text != tt.want {
			t.Errorf("an older peer reads %+v (%v) from %s, want the text %q", old, err, body, tt.want)
		}
	}
}
