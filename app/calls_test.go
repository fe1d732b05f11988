package app

import (
	"fmt"
	"image/color"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-chat/parley/app/call"
	"github.com/parley-chat/parley/app/mediahub"
	"github.com/parley-chat/parley/app/session"
	"github.com/parley-chat/parley/internal/xvfbtest"
)

func fakeMedia(c *Config) { c.FakeMedia = true }

// waitCall returns the first call event at or after *from that satisfies
// ok, and moves *from past it (a room has many calls over time).
func (w *fakeWindow) waitCall(t *testing.T, from *int, ok func(call.View) bool) call.View {
	t.Helper()
	deadline := time.After(step)
	for {
		w.mu.Lock()
		for i := *from; i < len(w.events); i++ {
			e := w.events[i]
			if v, isCall := e.payload.(call.View); e.name == EventCall && isCall && ok(v) {
				*from = i + 1
				w.mu.Unlock()
				return v
			}
		}
		ch := w.notify
		w.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			w.mu.Lock()
			defer w.mu.Unlock()
			var calls []call.View
			for _, e := range w.events {
				if v, isCall := e.payload.(call.View); isCall {
					calls = append(calls, v)
				}
			}
			t.Fatalf("no such call event within %v; call events: %+v", step, calls)
		}
	}
}

func callIs(st call.State) func(call.View) bool {
	return func(v call.View) bool { return v.State == st }
}

func endedWith(reason string) func(call.View) bool {
	return func(v call.View) bool { return v.State == call.StateEnded && v.Error == reason }
}

// dialMedia subscribes to roomID's media on u's hub, as the UI does.
func dialMedia(t *testing.T, u *testUser, roomID, token string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ep, err := u.MediaEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	if token == "" {
		token = ep.Token
	}
	return websocket.DefaultDialer.Dial(ep.URL+"?token="+url.QueryEscape(token)+"&room="+url.QueryEscape(roomID), nil)
}

// TestCallWithoutPeer: the facade's refusals while nobody is there to call.
func TestCallWithoutPeer(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	u := newUser(t, srv, fakeMedia)

	ep, err := u.MediaEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ep.URL, "ws://127.0.0.1:") || !strings.HasSuffix(ep.URL, "/media") || len(ep.Token) < 16 {
		t.Fatalf("media endpoint %+v", ep)
	}
	if again, _ := u.MediaEndpoint(); again != ep {
		t.Fatalf("a second hub: %+v then %+v", ep, again)
	}
	if _, resp, err := dialMedia(t, u, "room", "wrong-token"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dial with a wrong token: %v (%+v)", err, resp)
	}

	if _, err := u.StartCall("no-such-room", false); codeOf(err) != session.CodePeerOffline {
		t.Fatalf("StartCall(unknown room) = %v", err)
	}
	v, err := u.CreateRoom(0)
	if err != nil {
		t.Fatal(err)
	}
	u.win.wait(t, EventRoomStatus, statusIs("waiting"))
	if _, err := u.StartCall(v.ID, true); codeOf(err) != session.CodePeerOffline {
		t.Fatalf("StartCall(alone) = %v", err)
	}
	if _, err := u.AnswerCall(v.ID, true, false); codeOf(err) != CodeInternal {
		t.Fatalf("AnswerCall(nothing rings) = %v", err)
	}
	if _, err := u.SetCamera(v.ID, true); codeOf(err) != CodeInternal {
		t.Fatalf("SetCamera(no call) = %v", err)
	}
	if _, err := u.ShareScreen(v.ID, ""); codeOf(err) != CodeInternal {
		t.Fatalf("ShareScreen(no call) = %v", err)
	}
	if _, err := u.ScreenSources(v.ID); codeOf(err) != CodeInternal {
		t.Fatalf("ScreenSources(no call) = %v", err)
	}
	if cv, err := u.StopScreenShare(v.ID); err != nil || cv.State != call.StateIdle || cv.Screen {
		t.Fatalf("StopScreenShare(no call) = %+v, %v", cv, err)
	}
	if err := u.HangUp(v.ID); err != nil {
		t.Fatalf("HangUp(no call) = %v", err)
	}
	if cv, err := u.SetMicMuted(v.ID, true); err != nil || cv.State != call.StateIdle || cv.RoomID != v.ID {
		t.Fatalf("SetMicMuted(no call) = %+v, %v", cv, err)
	}
}

func TestFakeMediaFromEnv(t *testing.T) {
	t.Setenv("PARLEY_FAKE_MEDIA", "1")
	if !EnvDefaults(Config{}).FakeMedia {
		t.Fatal("PARLEY_FAKE_MEDIA=1 did not select synthetic media")
	}
	t.Setenv("PARLEY_FAKE_MEDIA", "0")
	if EnvDefaults(Config{}).FakeMedia {
		t.Fatal("PARLEY_FAKE_MEDIA=0 selected synthetic media")
	}
}

// TestCallSources: synthetic sources with fake media, else the devices
// chosen with SetCallDevices (remembered across runs).
func TestCallSources(t *testing.T) {
	t.Parallel()
	fake := newUser(t, "", fakeMedia)
	d, err := fake.CallDevices()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Cameras) == 0 || d.Cameras[0].ID != call.SourceTestVideo || len(d.Microphones) == 0 || d.Microphones[0].ID != call.SourceTestAudio || d.Speakers == nil || len(d.Speakers) != 0 {
		t.Fatalf("devices with fake media %+v", d)
	}
	want := call.Sources{Video: call.SourceTestVideo, Audio: call.SourceTestAudio, Width: 640, Height: 480, FPS: 30}
	if got := fake.callSources(); got != want {
		t.Fatalf("fake sources %+v, want %+v", got, want)
	}
	if err := fake.SetCallDevices(call.SourceTestAudio, call.SourceTestVideo, ""); err != nil {
		t.Fatal(err)
	}
	if d, _ := fake.CallDevices(); d.Chosen != (DeviceChoice{Mic: call.SourceTestAudio, Camera: call.SourceTestVideo}) {
		t.Fatalf("chosen after SetCallDevices %+v", d.Chosen)
	}
	if err := fake.SetCallDevices("", "", "some-speaker"); codeOf(err) != CodeInternal {
		t.Fatalf("SetCallDevices(unknown speaker) = %v", err)
	}

	dataDir := t.TempDir()
	opts := func(c *Config) { c.Profile.DataDir = dataDir }
	real := newUser(t, "", opts)
	d, err = real.CallDevices()
	if err != nil {
		t.Fatal(err)
	}
	if d.Microphones == nil || d.Cameras == nil || d.Speakers == nil {
		t.Fatalf("nil device lists %+v (the UI wants arrays)", d)
	}
	if got := real.callSources(); got != (call.Sources{}) {
		t.Fatalf("default sources %+v, want the system defaults", got)
	}
	if err := real.SetCallDevices("no-such-mic", "", ""); codeOf(err) != CodeInternal {
		t.Fatalf("SetCallDevices(unknown mic) = %v", err)
	}
	if err := real.SetCallDevices("", "", ""); err != nil {
		t.Fatal(err)
	}
	// A device that is present is remembered for the next run.
	mic, cam := "", ""
	if len(d.Microphones) > 0 {
		mic = d.Microphones[0].ID
	}
	if len(d.Cameras) > 0 {
		cam = d.Cameras[0].ID
	}
	if err := real.SetCallDevices(mic, cam, ""); err != nil {
		t.Fatal(err)
	}
	if err := real.close(); err != nil {
		t.Fatal(err)
	}
	again := newUser(t, "", opts)
	if _, err := again.GetSettings(); err != nil {
		t.Fatal(err)
	}
	if got := again.callSources(); got != (call.Sources{Video: cam, Audio: mic}) {
		t.Fatalf("reopened sources %+v, want camera %q mic %q", got, cam, mic)
	}
	if d, _ := again.CallDevices(); d.Chosen != (DeviceChoice{Mic: mic, Camera: cam}) {
		t.Fatalf("reopened choice %+v", d.Chosen)
	}
}

// callPair opens a room between two facades with synthetic media, on a
// real signaling server and real pion peers on loopback, and waits until
// both are verified.
func callPair(t *testing.T) (alice, bob *testUser, roomID string) {
	t.Helper()
	srv := startServer(t)
	alice, bob = newUser(t, srv, fakeMedia), newUser(t, srv, fakeMedia)
	room, err := alice.CreateRoom(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.OpenRoom(room.Link); err != nil {
		t.Fatal(err)
	}
	alice.win.wait(t, EventRoomStatus, statusIs("verified"))
	bob.win.wait(t, EventRoomStatus, statusIs("verified"))
	return alice, bob, room.ID
}

// TestTwoWindowsCall: Alice calls with video, Bob's UI rings, he answers
// with sound only, both go active and Bob's media WebSocket carries
// Alice's video; a hang-up ends it on both sides.
func TestTwoWindowsCall(t *testing.T) {
	t.Parallel()
	alice, bob, roomID := callPair(t)

	// Bob's UI watches the room's media before anything rings.
	ws, _, err := dialMedia(t, bob, roomID, "")
	if err != nil {
		t.Fatal(err)
	}
	var remoteVideo, keyframes atomic.Int64
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			f, err := mediahub.Decode(b)
			if err != nil || f.Kind != mediahub.RemoteVideo {
				continue
			}
			if remoteVideo.Add(1) == 1 && f.Keyframe && f.Width == 640 && f.Height == 480 {
				keyframes.Add(1)
			}
		}
	}()
	t.Cleanup(func() {
		ws.Close()
		<-readDone
	})

	var aFrom, bFrom int
	v, err := alice.StartCall(roomID, true)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != call.StateOutgoing || !v.LocalVideo || v.RoomID != roomID {
		t.Fatalf("StartCall view %+v", v)
	}
	in := bob.win.waitCall(t, &bFrom, callIs(call.StateIncoming))
	if !in.Video || in.RoomID != roomID {
		t.Fatalf("bob's incoming call %+v", in)
	}
	if _, err := alice.StartCall(roomID, false); codeOf(err) != CodeCallFailed {
		t.Fatalf("StartCall during a call = %v", err)
	}
	if _, err := alice.AnswerCall(roomID, true, false); codeOf(err) != CodeInternal {
		t.Fatalf("AnswerCall by the caller = %v", err)
	}
	if v, err := bob.AnswerCall(roomID, true, false); err != nil || v.State != call.StateConnecting {
		t.Fatalf("AnswerCall = %+v, %v", v, err)
	}
	a := alice.win.waitCall(t, &aFrom, callIs(call.StateActive))
	b := bob.win.waitCall(t, &bFrom, callIs(call.StateActive))
	if a.StartedAt == nil || b.StartedAt == nil || !a.LocalVideo || !b.RemoteVideo || b.LocalVideo {
		t.Fatalf("active: alice %+v bob %+v", a, b)
	}

	deadline := time.Now().Add(step)
	for remoteVideo.Load() < 15 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := remoteVideo.Load(); n < 15 || keyframes.Load() != 1 {
		t.Fatalf("bob's media socket got %d remote video frames (first a 640x480 keyframe: %v)", n, keyframes.Load() == 1)
	}

	if err := alice.HangUp(roomID); err != nil {
		t.Fatal(err)
	}
	alice.win.waitCall(t, &aFrom, endedWith(""))
	bob.win.waitCall(t, &bFrom, endedWith(""))
}

// TestCallEndsWhenPeerLeaves: a voice call ends with PEER_LEFT on both
// sides when one side leaves the room, and there is nobody to call after.
func TestCallEndsWhenPeerLeaves(t *testing.T) {
	t.Parallel()
	alice, bob, roomID := callPair(t)
	var aFrom, bFrom int
	if _, err := bob.StartCall(roomID, false); err != nil {
		t.Fatal(err)
	}
	alice.win.waitCall(t, &aFrom, callIs(call.StateIncoming))
	if _, err := alice.AnswerCall(roomID, true, false); err != nil {
		t.Fatal(err)
	}
	alice.win.waitCall(t, &aFrom, callIs(call.StateActive))
	bob.win.waitCall(t, &bFrom, callIs(call.StateActive))
	if err := bob.LeaveRoom(roomID); err != nil {
		t.Fatal(err)
	}
	alice.win.waitCall(t, &aFrom, endedWith(call.ReasonPeerLeft))
	bob.win.waitCall(t, &bFrom, endedWith(call.ReasonPeerLeft))
	alice.win.wait(t, EventRoomStatus, statusIs("peer-left"))
	if _, err := alice.StartCall(roomID, false); codeOf(err) != session.CodePeerOffline {
		t.Fatalf("StartCall after the peer left = %v", err)
	}
}

// TestShareScreenInCall: in a voice call, Alice shares her X11 screen (a
// private Xvfb as $DISPLAY): her view says screen, Bob's says the peer's
// video is a screen; stopping returns both to a voice call. She lists
// the screen and a window and shares the window; closing it ends the
// share with WINDOW_CLOSED. A malformed source is BAD_REQUEST, a window
// that is not there SCREEN_UNAVAILABLE. Without an X11 display,
// ShareScreen rejects with SCREEN_UNAVAILABLE and the call goes on.
func TestShareScreenInCall(t *testing.T) {
	display := xvfbtest.Start(t, 640, 480)
	t.Setenv("DISPLAY", display)
	t.Setenv("WAYLAND_DISPLAY", "")
	alice, bob, roomID := callPair(t)
	var aFrom, bFrom int
	if _, err := alice.StartCall(roomID, false); err != nil {
		t.Fatal(err)
	}
	bob.win.waitCall(t, &bFrom, callIs(call.StateIncoming))
	if _, err := bob.AnswerCall(roomID, true, false); err != nil {
		t.Fatal(err)
	}
	alice.win.waitCall(t, &aFrom, callIs(call.StateActive))
	bob.win.waitCall(t, &bFrom, callIs(call.StateActive))

	v, err := alice.ShareScreen(roomID, "")
	if err != nil || !v.Screen || !v.LocalVideo || !v.Video {
		t.Fatalf("ShareScreen = %+v, %v", v, err)
	}
	bob.win.waitCall(t, &bFrom, func(v call.View) bool { return v.RemoteScreen && v.RemoteVideo })
	if v, err := alice.StopScreenShare(roomID); err != nil || v.Screen || v.LocalVideo {
		t.Fatalf("StopScreenShare = %+v, %v", v, err)
	}
	bob.win.waitCall(t, &bFrom, func(v call.View) bool { return !v.RemoteScreen && !v.RemoteVideo })

	win := xvfbtest.Window(t, display, "parley app window", 10, 10, 200, 120, color.RGBA{0, 128, 0, 255})
	list, err := alice.ScreenSources(roomID)
	want := []call.ScreenSource{
		{ID: "screen:0", Title: "Entire screen", Width: 640, Height: 480},
		{ID: fmt.Sprintf("window:0x%x", win.ID), Title: "parley app window", Width: 200, Height: 120},
	}
	if err != nil || !slices.Equal(list, want) {
		t.Fatalf("ScreenSources = %+v, %v; want %+v", list, err, want)
	}
	for _, bad := range []string{"window:42", "window:0x", "/dev/video0", "testsrc", "screen:x"} {
		if _, err := alice.ShareScreen(roomID, bad); codeOf(err) != CodeBadRequest {
			t.Fatalf("ShareScreen(%q) = %v, want BAD_REQUEST", bad, err)
		}
	}
	if _, err := alice.ShareScreen(roomID, "window:0x1ffff00"); codeOf(err) != CodeScreenUnavailable || !strings.Contains(err.Error(), "there is no window") {
		t.Fatalf("ShareScreen(no such window) = %v", err)
	}
	if v, err := alice.ShareScreen(roomID, want[1].ID); err != nil || !v.Screen {
		t.Fatalf("ShareScreen(window) = %+v, %v", v, err)
	}
	bob.win.waitCall(t, &bFrom, func(v call.View) bool { return v.RemoteScreen && v.RemoteVideo })
	win.Close()
	alice.win.waitCall(t, &aFrom, func(v call.View) bool { return !v.Screen && v.Error == call.ReasonWindowClosed })
	bob.win.waitCall(t, &bFrom, func(v call.View) bool { return !v.RemoteScreen && !v.RemoteVideo })

	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "wayland-0")
	if _, err := alice.ShareScreen(roomID, ""); codeOf(err) != CodeScreenUnavailable || !strings.Contains(err.Error(), "Wayland") {
		t.Fatalf("ShareScreen without X11 = %v", err)
	}
	if v, err := alice.SetMicMuted(roomID, false); err != nil || v.Screen || v.State != call.StateActive {
		t.Fatalf("after a failed share: %+v, %v", v, err)
	}
	if err := alice.HangUp(roomID); err != nil {
		t.Fatal(err)
	}
	alice.win.waitCall(t, &aFrom, endedWith(""))
	bob.win.waitCall(t, &bFrom, endedWith(""))
}
