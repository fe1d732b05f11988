package app

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/parley-chat/parley/app/call"
	"github.com/parley-chat/parley/app/mediahub"
	"github.com/parley-chat/parley/app/session"
)

// Calls in the facade: each open room's session runs the call manager of
// its verified connection (session.CallConfig); the facade gives it the
// chosen devices and the media hub for the webview, and turns its views
// into `call` events (see pump).

// callOpenWait is how long StartCall waits for a call control channel
// that is still opening (the peer was verified a moment ago).
const callOpenWait = 5 * time.Second

// Synthetic devices (PARLEY_FAKE_MEDIA=1): what CallDevices lists and
// what every call sends instead of a camera and a microphone.
var (
	fakeCamera     = call.Device{ID: call.SourceTestVideo, Label: "Test pattern (PARLEY_FAKE_MEDIA)"}
	fakeMicrophone = call.Device{ID: call.SourceTestAudio, Label: "Test tone (PARLEY_FAKE_MEDIA)"}
)

// CallDevices is what CallDevices returns.
type CallDevices struct {
	Microphones []call.Device `json:"microphones"`
	Cameras     []call.Device `json:"cameras"`
	// Speakers are the sound outputs: the peer's voice plays in Go
	// (app/call/player.go), so the choice is honoured.
	Speakers []call.Device `json:"speakers"`
	// Chosen is what SetCallDevices last stored ("" = system default),
	// so the UI's picker starts from the remembered choice.
	Chosen DeviceChoice `json:"chosen"`
}

// DeviceChoice is the user's microphone, camera and speaker, by id.
type DeviceChoice struct {
	Mic     string `json:"mic"`
	Camera  string `json:"camera"`
	Speaker string `json:"speaker"`
}

// callState is the media hub of the app's calls. It has its own lock:
// the hub's NeedKeyframe arrives on media goroutines, and nothing here
// may wait on App.mu.
type callState struct {
	mu     sync.Mutex
	hub    *mediahub.Hub
	closed bool
}

// mediaHub returns the media hub, starting it on first use; nil when it
// cannot start or the app is closing (calls then carry no media to the UI).
func (a *App) mediaHub() *mediahub.Hub {
	a.calls.mu.Lock()
	defer a.calls.mu.Unlock()
	if a.calls.hub != nil || a.calls.closed {
		return a.calls.hub
	}
	h, err := mediahub.Start(a.log)
	if err != nil {
		a.log.Warn("media server not started", "err", err)
		return nil
	}
	// Set before the hub is handed to anyone, so before frames flow.
	h.NeedKeyframe = a.needKeyframe
	a.calls.hub = h
	return h
}

// needKeyframe is the hub's NeedKeyframe: the UI's decoder of roomID
// joined or fell behind.
func (a *App) needKeyframe(roomID string) {
	if m := a.callManager(roomID, 0); m != nil {
		m.RequestKeyframe()
	}
}

// callConfig is what every room's session needs for calls.
func (a *App) callConfig() *session.CallConfig {
	return &session.CallConfig{
		Sources: a.callSources,
		Hub:     a.mediaHub,
		Play:    true, // the voice plays in Go: see app/call/player.go
	}
}

// callSources is what a call sends: the chosen devices, or the synthetic
// sources with PARLEY_FAKE_MEDIA=1.
func (a *App) callSources() call.Sources {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg.FakeMedia {
		return call.Sources{Video: call.SourceTestVideo, Audio: call.SourceTestAudio, Width: 640, Height: 480, FPS: 30, Speaker: a.settings.CallSpeaker}
	}
	return call.Sources{Video: a.settings.CallCamera, Audio: a.settings.CallMic, Speaker: a.settings.CallSpeaker}
}

// closeCalls closes the media hub (shutdown, after the rooms closed).
func (a *App) closeCalls() error {
	a.calls.mu.Lock()
	a.calls.closed = true
	hub := a.calls.hub
	a.calls.hub = nil
	a.calls.mu.Unlock()
	if hub != nil {
		return hub.Close()
	}
	return nil
}

// callManager returns the call manager of roomID's verified connection,
// or nil. A control channel still opening is waited for up to wait.
func (a *App) callManager(roomID string, wait time.Duration) *call.Manager {
	r, ok := a.openSession(roomID)
	if !ok {
		return nil
	}
	if wait <= 0 {
		return r.sess.Call()
	}
	ctx, cancel := context.WithTimeout(a.context(), wait)
	defer cancel()
	m, _ := r.sess.WaitCall(ctx)
	return m
}

// idleCall is the view of a room without a call.
func idleCall(roomID string) call.View {
	return call.View{RoomID: roomID, State: call.StateIdle}
}

// StartCall calls the peer of the room; video turns our camera on. It
// fails with PEER_OFFLINE when the peer is not connected, CALL_FAILED
// when a call is already under way, and a capture code (NO_MICROPHONE,
// DEVICE_BUSY, PERMISSION_DENIED) when the microphone cannot start.
func (a *App) StartCall(roomID string, video bool) (call.View, error) {
	if _, err := a.ready(); err != nil {
		return call.View{}, err
	}
	m := a.callManager(roomID, callOpenWait)
	if m == nil {
		return call.View{}, apiErrorf(session.CodePeerOffline, "the other person is not connected")
	}
	v, err := m.Start(video)
	if err != nil {
		// Anything without a code of its own (the offer could not be
		// sent: the connection died under us) is a failed call.
		var ae *Error
		if errors.As(toAPI(err), &ae) && ae.Code == CodeInternal {
			return call.View{}, apiErrorf(CodeCallFailed, "%v", err)
		}
		return call.View{}, toAPI(err)
	}
	return v, nil
}

// AnswerCall accepts (video: with our camera on) or declines the call
// ringing in the room; INTERNAL when nothing rings there.
func (a *App) AnswerCall(roomID string, accept, video bool) (call.View, error) {
	if _, err := a.ready(); err != nil {
		return call.View{}, err
	}
	m := a.callManager(roomID, 0)
	if m == nil {
		return call.View{}, toAPI(call.ErrNotRinging)
	}
	v, err := m.Answer(accept, video)
	if err != nil {
		return call.View{}, toAPI(err)
	}
	return v, nil
}

// HangUp ends, cancels or declines the room's call; no-op without one.
func (a *App) HangUp(roomID string) error {
	if _, err := a.ready(); err != nil {
		return err
	}
	if m := a.callManager(roomID, 0); m != nil {
		m.HangUp()
	}
	return nil
}

// SetMicMuted mutes or unmutes our microphone in the room's call.
func (a *App) SetMicMuted(roomID string, muted bool) (call.View, error) {
	if _, err := a.ready(); err != nil {
		return call.View{}, err
	}
	m := a.callManager(roomID, 0)
	if m == nil {
		return idleCall(roomID), nil
	}
	return m.SetMuted(muted), nil
}

// SetCamera turns our camera on or off in the room's call; on during a
// voice call makes it a video call. No camera is not an error: the view
// says localVideo false, error NO_CAMERA.
func (a *App) SetCamera(roomID string, on bool) (call.View, error) {
	if _, err := a.ready(); err != nil {
		return call.View{}, err
	}
	m := a.callManager(roomID, 0)
	if m == nil {
		return call.View{}, apiErrorf(CodeInternal, "there is no call in this room")
	}
	v, err := m.SetCamera(on)
	if err != nil {
		return call.View{}, toAPI(err)
	}
	return v, nil
}

// ScreenSources lists what ShareScreen can share in the room's call: the
// screens of this session's X11 display ($DISPLAY), then its shown
// windows with a title, topmost first (call.ListScreenSources). Rejects
// with SCREEN_UNAVAILABLE (and why) where there is no X11 display to
// capture, and with INTERNAL when the room has no call.
func (a *App) ScreenSources(roomID string) ([]call.ScreenSource, error) {
	if _, err := a.ready(); err != nil {
		return nil, err
	}
	if a.callManager(roomID, 0) == nil {
		return nil, apiErrorf(CodeInternal, "there is no call in this room")
	}
	list, err := call.ListScreenSources("")
	if err != nil {
		return nil, toAPI(err)
	}
	return list, nil
}

// ShareScreen shares source, an id from ScreenSources ("screen:0",
// "window:0x1a00007"; "" is screen 0), of this session's X11 display in
// the room's call, beside the camera (the peer shows our camera as a
// small tile while the screen takes the stage); in a Wayland session the desktop portal's dialog asks the user
// what to share. Rejects with BAD_REQUEST for a malformed source, with
// SCREEN_UNAVAILABLE (and why) where it cannot be captured (no portal in a
// Wayland session, the user cancelled its dialog, a window that closed
// in the meantime), and with INTERNAL when no call is connecting or
// active. A shared window that closes ends the share with the call's
// error WINDOW_CLOSED.
func (a *App) ShareScreen(roomID, source string) (call.View, error) {
	if _, err := a.ready(); err != nil {
		return call.View{}, err
	}
	var target call.ScreenTarget
	if source != "" {
		t, ok, err := call.ParseScreenSource(source)
		if err != nil || !ok {
			return call.View{}, apiErrorf(CodeBadRequest, "not a screen or window to share")
		}
		target = t
	}
	m := a.callManager(roomID, 0)
	if m == nil {
		return call.View{}, apiErrorf(CodeInternal, "there is no call in this room")
	}
	v, err := m.ShareScreen("", target)
	if err != nil {
		return call.View{}, toAPI(err)
	}
	return v, nil
}

// StopScreenShare stops sharing the screen in the room's call; a no-op
// when not sharing.
func (a *App) StopScreenShare(roomID string) (call.View, error) {
	if _, err := a.ready(); err != nil {
		return call.View{}, err
	}
	m := a.callManager(roomID, 0)
	if m == nil {
		return idleCall(roomID), nil
	}
	return m.StopScreenShare(), nil
}

// CallDevices lists the microphones, cameras and speakers calls can use
// (with PARLEY_FAKE_MEDIA=1 the synthetic ones first).
func (a *App) CallDevices() (CallDevices, error) {
	if _, err := a.ready(); err != nil {
		return CallDevices{}, err
	}
	return a.callDevices(), nil
}

func (a *App) callDevices() CallDevices {
	cams, mics := call.Devices()
	d := CallDevices{Microphones: []call.Device{}, Cameras: []call.Device{}, Speakers: []call.Device{}}
	if a.cfg.FakeMedia {
		d.Microphones = append(d.Microphones, fakeMicrophone)
		d.Cameras = append(d.Cameras, fakeCamera)
	}
	d.Microphones = append(d.Microphones, mics...)
	d.Cameras = append(d.Cameras, cams...)
	d.Speakers = append(d.Speakers, call.Speakers()...)
	a.mu.Lock()
	d.Chosen = DeviceChoice{Mic: a.settings.CallMic, Camera: a.settings.CallCamera, Speaker: a.settings.CallSpeaker}
	a.mu.Unlock()
	return d
}

// SetCallDevices chooses the microphone, camera and speaker of calls by
// id ("" = the system default) and remembers them. They apply when
// capture starts: the next call, or the camera turned on.
func (a *App) SetCallDevices(mic, camera, speaker string) error {
	if _, err := a.ready(); err != nil {
		return err
	}
	d := a.callDevices()
	known := func(id string, list []call.Device) bool {
		return id == "" || slices.ContainsFunc(list, func(x call.Device) bool { return x.ID == id })
	}
	if !known(mic, d.Microphones) || !known(camera, d.Cameras) || !known(speaker, d.Speakers) {
		return apiErrorf(CodeInternal, "unknown device")
	}
	_, err := a.updateSettings(func(s *storedSettings) {
		s.CallMic, s.CallCamera, s.CallSpeaker = mic, camera, speaker
	})
	return err
}

// MediaEndpoint returns where the UI receives call media (the loopback
// WebSocket of app/mediahub); url "" when there is none.
func (a *App) MediaEndpoint() (mediahub.Endpoint, error) {
	if _, err := a.ready(); err != nil {
		return mediahub.Endpoint{}, err
	}
	h := a.mediaHub()
	if h == nil {
		return mediahub.Endpoint{}, nil
	}
	return h.Endpoint(), nil
}
