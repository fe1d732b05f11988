package chat

import (
	"context"
	"net"
	"testing"
	"time"
)

// controlRecorder is a recorder that also takes the room control frames.
type controlRecorder struct{ *recorder }

func (r controlRecorder) PeerDestroyed() { r.events <- "destroyed" }
func (r controlRecorder) SelfDestructAt(t time.Time) {
	r.events <- "expires:" + t.UTC().Format(time.RFC3339Nano)
}

// TestRoomControlFrames: destroy and the self-destruct time reach a
// handler that takes them, in order with everything else; a bye after a
// destroy is confirmed only once the destroy was handled.
func TestRoomControlFrames(t *testing.T) {
	t.Parallel()
	pc, pd := net.Pipe()
	rec := controlRecorder{newRecorder()}
	c := NewConn(pc, rec, nil)
	d := NewConn(pd, newRecorder(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 2)
	go func() { errc <- c.Run(ctx) }()
	go func() { errc <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-errc; <-errc })

	at := time.Date(2030, 5, 1, 10, 0, 0, 123e6, time.UTC)
	if err := d.SendSelfDestructAt(at); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "expires:"+at.Format(time.RFC3339Nano))
	if err := d.SendDestroy(); err != nil {
		t.Fatal(err)
	}
	gctx, gcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer gcancel()
	if err := d.Goodbye(gctx); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-rec.events:
		if ev != "destroyed" {
			t.Fatalf("first event after the bye = %q, want destroyed", ev)
		}
	default:
		t.Fatal("bye confirmed before the destroy was handled")
	}
	if err := d.SendSelfDestructAt(time.UnixMilli(0)); err == nil {
		t.Fatal("SendSelfDestructAt(epoch) accepted")
	}
}

// TestControlFramesIgnored: a peer from before control frames (a Handler
// without RoomControl) and a frame of an unknown version are ignored
// without ending the connection.
func TestControlFramesIgnored(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		control bool
		frames  []string
	}{
		{"old handler", false, []string{`{"t":"destroy","v":1}`, `{"t":"expires","v":1,"ts":1900000000000}`}},
		{"unknown version", true, []string{`{"t":"destroy","v":2}`, `{"t":"destroy"}`, `{"t":"expires","v":7}`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pa, pb := net.Pipe()
			rec := newRecorder()
			var h Handler = rec
			if tt.control {
				h = controlRecorder{rec}
			}
			c := NewConn(pa, h, nil)
			errc := make(chan error, 1)
			go func() { errc <- c.Run(context.Background()) }()
			t.Cleanup(func() { _ = c.Close(); <-errc; _ = pb.Close() })
			for _, f := range append(tt.frames, `{"t":"typing"}`) {
				if _, err := pb.Write(rawFrame(f)); err != nil {
					t.Fatal(err)
				}
			}
			// Typing comes after the control frames: once it is seen, they
			// were handled, and must have produced nothing.
			select {
			case ev := <-rec.events:
				if ev != "typing" {
					t.Fatalf("event %q, want only typing", ev)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("connection stopped reading after a control frame")
			}
		})
	}
}
