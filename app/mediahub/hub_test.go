package mediahub

import (
	"bytes"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFrameRoundTrip(t *testing.T) {
	f := Frame{Kind: LocalPreview, Keyframe: true, Timestamp: 1234567 * time.Microsecond, Width: 640, Height: 480, Data: []byte{1, 2, 3}}
	got, err := Decode(f.Encode())
	if err != nil || got.Kind != f.Kind || !got.Keyframe || got.Timestamp != f.Timestamp || got.Width != 640 || got.Height != 480 || !bytes.Equal(got.Data, f.Data) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, k := range []Kind{RemoteScreen, LocalCamera} {
		if got, err := Decode(Frame{Kind: k, Data: []byte{1}}.Encode()); err != nil || got.Kind != k {
			t.Errorf("kind %d: %+v, %v", k, got, err)
		}
	}
	for _, bad := range [][]byte{nil, make([]byte, HeaderSize-1), append([]byte{9}, make([]byte, HeaderSize)...), append([]byte{6}, make([]byte, HeaderSize)...)} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%x) accepted", bad)
		}
	}
}

func dial(t *testing.T, h *Hub, token, room string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(h.Endpoint().URL+"?token="+token+"&room="+room, nil)
	if err == nil {
		t.Cleanup(func() { ws.Close() })
	}
	return ws, resp, err
}

func readFrame(t *testing.T, ws *websocket.Conn) Frame {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, b, err := ws.ReadMessage()
	if err != nil || typ != websocket.BinaryMessage {
		t.Fatalf("read: %v (type %d)", err, typ)
	}
	f, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func waitSubs(t *testing.T, h *Hub, room string, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if h.Subscribers(room) == n {
			return
		}
	}
	t.Fatalf("subscribers of %s: %d, want %d", room, h.Subscribers(room), n)
}

func TestHubDeliversFromKeyframeAndRefusesStrangers(t *testing.T) {
	h, err := Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var asked atomic.Int32
	h.NeedKeyframe = func(room string) {
		if room == "r1" {
			asked.Add(1)
		}
	}
	if _, resp, err := dial(t, h, "wrong", "r1"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong token: %v %v", resp, err)
	}
	ws, _, err := dial(t, h, h.Endpoint().Token, "r1")
	if err != nil {
		t.Fatal(err)
	}
	waitSubs(t, h, "r1", 1)
	// The hub asks right after it counts the subscriber, so wait for it.
	for deadline := time.Now().Add(5 * time.Second); asked.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a new subscriber did not ask for a keyframe")
		}
	}
	h.Publish("r1", Frame{Kind: RemoteVideo, Data: []byte("delta")})             // no reference yet: skipped
	h.Publish("r2", Frame{Kind: RemoteVideo, Keyframe: true, Data: []byte("x")}) // another room
	h.Publish("r1", Frame{Kind: RemoteAudio, Data: []byte("opus")})
	h.Publish("r1", Frame{Kind: RemoteVideo, Keyframe: true, Width: 640, Height: 480, Data: []byte("key")})
	h.Publish("r1", Frame{Kind: RemoteVideo, Data: []byte("delta2")})
	// The screen and our camera tile are streams of their own: each
	// starts at its own keyframe.
	h.Publish("r1", Frame{Kind: RemoteScreen, Data: []byte("screen delta")})
	h.Publish("r1", Frame{Kind: LocalCamera, Data: []byte("tile delta")})
	h.Publish("r1", Frame{Kind: RemoteScreen, Keyframe: true, Data: []byte("screen key")})
	h.Publish("r1", Frame{Kind: LocalCamera, Keyframe: true, Data: []byte("tile key")})
	h.Publish("r1", Frame{Kind: RemoteVideo, Data: []byte("delta3")})
	for _, want := range []string{"opus", "key", "delta2", "screen key", "tile key", "delta3"} {
		if f := readFrame(t, ws); string(f.Data) != want {
			t.Fatalf("got %q, want %q", f.Data, want)
		}
	}
}

// A subscriber that stops reading never blocks Publish; once it reads
// again its video resumes at a keyframe.
func TestSlowSubscriberLosesFramesNotTime(t *testing.T) {
	h, err := Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ws, _, err := dial(t, h, h.Endpoint().Token, "r")
	if err != nil {
		t.Fatal(err)
	}
	waitSubs(t, h, "r", 1)
	big := bytes.Repeat([]byte{7}, 256<<10) // fills socket buffers quickly
	start := time.Now()
	h.Publish("r", Frame{Kind: RemoteVideo, Keyframe: true, Data: big})
	for range 2000 {
		h.Publish("r", Frame{Kind: RemoteVideo, Data: big})
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Publish blocked: %v", d)
	}
	// The queue overflowed, so the next delta has no reference: skipped.
	h.Publish("r", Frame{Kind: RemoteVideo, Data: []byte("stale delta")})
	got := make(chan string, 1)
	go func() {
		for {
			_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, b, err := ws.ReadMessage()
			if err != nil {
				got <- "read error: " + err.Error()
				return
			}
			if f, _ := Decode(b); string(f.Data) == "stale delta" || string(f.Data) == "fresh key" {
				got <- string(f.Data)
				return
			}
		}
	}()
	// The producer answers NeedKeyframe with keyframes until one fits.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case g := <-got:
			if g != "fresh key" {
				t.Fatalf("first frame after the overflow: %s", g)
			}
			return
		case <-tick.C:
			h.Publish("r", Frame{Kind: RemoteVideo, Keyframe: true, Data: []byte("fresh key")})
		}
	}
}

func TestCloseDisconnects(t *testing.T) {
	h, err := Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := dial(t, h, h.Endpoint().Token, "r")
	if err != nil {
		t.Fatal(err)
	}
	waitSubs(t, h, "r", 1)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("still open after Close")
	}
	h.Publish("r", Frame{Kind: RemoteAudio}) // harmless after Close
}
