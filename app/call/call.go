package call

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/parley-chat/parley/app/mediahub"
	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/internal/randid"
)

// State is where a call stands (docs/app-api.md, "Calls").
type State string

// Call states.
const (
	StateIdle       State = "idle"
	StateOutgoing   State = "outgoing"
	StateIncoming   State = "incoming"
	StateConnecting State = "connecting"
	StateActive     State = "active"
	StateEnded      State = "ended"
)

// Reasons a call ended (View.Error on StateEnded) besides the capture
// errors; "" means someone hung up.
const (
	ReasonDeclined   = "DECLINED"
	ReasonNoAnswer   = "NO_ANSWER"
	ReasonPeerLeft   = "PEER_LEFT"
	ReasonCallFailed = "CALL_FAILED"
)

// ErrBusy is returned when a call is already under way; ErrNotRinging
// when answering while nothing rings.
var (
	ErrBusy       = errors.New("call: a call is already under way")
	ErrNotRinging = errors.New("call: no incoming call")
	ErrClosed     = errors.New("call: the peer connection is gone")
)

// View is a call as the UI sees it (CallView in docs/app-api.md).
type View struct {
	RoomID      string `json:"roomId"`
	State       State  `json:"state"`
	Video       bool   `json:"video"`
	LocalVideo  bool   `json:"localVideo"`
	RemoteVideo bool   `json:"remoteVideo"`
	MicMuted    bool   `json:"micMuted"`
	RemoteMuted bool   `json:"remoteMuted"`
	StartedAt   *int64 `json:"startedAt"`
	Error       string `json:"error"`

	// Screen: we share our screen (ShareScreen); RemoteScreen: the peer
	// shares theirs. Either takes the stage.
	Screen       bool `json:"screen"`
	RemoteScreen bool `json:"remoteScreen"`
	// LocalCamera: our camera sends (while sharing: a small tile beside
	// the screen); RemoteCamera: the peer's does. LocalVideo and
	// RemoteVideo are "any video" (camera or screen).
	LocalCamera  bool `json:"localCamera"`
	RemoteCamera bool `json:"remoteCamera"`
}

// Config configures the call side of one verified peer connection.
type Config struct {
	RoomID string
	Conn   *peer.Conn
	// Sources returns what to capture when a call starts or the camera
	// turns on (the user's device choice may change between calls).
	Sources func() Sources
	// Hub, when set, receives the peer's media and our preview for the UI.
	Hub *mediahub.Hub
	// Decode decodes received video in Go to count frames, freezes and
	// latency (CLI, tests); the app's webview decodes by itself.
	Decode bool
	// Play plays the peer's voice on the speaker (Sources().Speaker) from
	// Go; the UI then gets no audio frames. The app sets it (see player.go).
	Play bool
	// OnChange receives the view after every change, in order. It runs
	// with the manager's lock held and must not call the Manager.
	OnChange func(View)
	Logger   *slog.Logger
	// RingTimeout ends an unanswered call; 45 s when zero.
	RingTimeout time.Duration

	// decodedForTest, when Decode, sees every decoded picture (valid only
	// during the call): the tests compare what arrived with what was sent.
	decodedForTest func(decodedFrame)
	// olderPeerForTest makes the manager speak as a Parley from before
	// the camera tile: no Tile or Camera in its control messages, and
	// its one video track named "video" whatever it carries.
	olderPeerForTest bool
}

// Manager runs the calls of one peer connection, one at a time.
type Manager struct {
	cfg  Config
	log  *slog.Logger
	ctl  io.ReadWriteCloser
	recv *receiver

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// mu guards the fields below and serialises control writes and
	// view changes, so OnChange sees changes in order.
	mu       sync.Mutex
	view     View
	id       string // current call id, "" when idle
	outgoing bool   // we offered the current call
	audio    *localAudio
	video    *localVideo // our camera
	screen   *localVideo // our shared screen
	// opening: the call whose ShareScreen is opening a screen without
	// the lock (the desktop portal's picker can take minutes); a later
	// call may share meanwhile.
	opening string
	// slots are our senders, kept for the connection (see slot).
	slots     map[string]*slot
	callCtx   context.Context    // the current call's, done when it ends
	callStop  context.CancelFunc // stops the current call's goroutines
	ringTimer *time.Timer
	closed    bool
	// receivers are the peer's tracks' receivers, stopped on Close: pion
	// does not always end a reader of a track whose transceiver was reused
	// by a later call when the PeerConnection closes.
	receivers []*webrtc.RTPReceiver
	// speaker plays the current call's sound, when Config.Play.
	speaker *player
	// lastRTT is the last round-trip time measured (ms): Stats falls back
	// on it once the connection is gone, as when the peer hung up first.
	lastRTT float64
	// wantCamera is the user's camera choice in this call: while we
	// share to a peer that shows no tile (peerTile false) the camera is
	// off and comes back when sharing stops.
	wantCamera bool
	// sharing mirrors screen != nil for the preview goroutines.
	sharing atomic.Bool
	// peerTile: the peer's control messages say it shows our camera as a
	// tile beside our screen (Control.Tile), so both are sent.
	peerTile bool
}

// New opens the call control channel on a verified conn (the other side
// must do the same) and starts listening for calls.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Conn == nil {
		return nil, ErrClosed
	}
	if cfg.Sources == nil {
		cfg.Sources = func() Sources { return Sources{} }
	}
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = 45 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctl, err := cfg.Conn.Stream(ctx, peer.ChannelCall)
	if err != nil {
		return nil, fmt.Errorf("call: open control channel: %w", err)
	}
	m := &Manager{cfg: cfg, log: log, ctl: ctl, view: View{RoomID: cfg.RoomID, State: StateIdle}, slots: map[string]*slot{}}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.recv = newReceiver(log, cfg.Hub, cfg.RoomID, cfg.Decode, cfg.Play, m.sendPLI, m.mediaArrived)
	m.recv.onDecoded = cfg.decodedForTest
	cfg.Conn.SetOnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		m.log.Debug("call: remote track", "kind", t.Kind().String())
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return
		}
		m.receivers = append(m.receivers, r)
		m.mu.Unlock()
		m.recv.handle(t)
	})
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.readLoop()
	}()
	return m, nil
}

// View returns the current call.
func (m *Manager) View() View {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.view
}

// Stats returns what was received so far, with the current RTT (or the
// last one measured, when the connection has closed).
func (m *Manager) Stats() Stats {
	st := m.recv.stats()
	st.RttMs = m.sampleRTT()
	return st
}

// sampleRTT reads the RTT now and remembers it; 0 from a closed connection
// gives the last value measured.
func (m *Manager) sampleRTT() float64 {
	rtt := rttMs(m.cfg.Conn.Stats())
	m.mu.Lock()
	defer m.mu.Unlock()
	if rtt > 0 {
		m.lastRTT = rtt
	}
	return m.lastRTT
}

func newCallID() string { return randid.Hex(12) }

// Start calls the peer; video turns our camera on. A camera that cannot
// start leaves a voice call with the reason as a notice; a microphone
// that cannot start fails the call. While the peer's call rings here,
// Start answers it.
func (m *Manager) Start(video bool) (View, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return m.view, ErrClosed
	}
	if m.id != "" && m.view.State == StateIncoming {
		// The peer's call got here first while we pressed call: both
		// want to talk, so this answers it (calling back would be
		// refused as busy on both sides).
		return m.acceptLocked(video)
	}
	if m.id != "" {
		return m.view, ErrBusy
	}
	notice, err := m.openLocked(video)
	if err != nil {
		return m.view, err
	}
	m.id, m.outgoing = newCallID(), true
	m.view = View{RoomID: m.cfg.RoomID, State: StateOutgoing, Error: notice, MicMuted: m.view.MicMuted}
	m.syncViewLocked()
	kind := KindAudio
	if m.view.LocalVideo {
		kind = KindVideo
	}
	if err := m.sendLocked(Control{Type: TypeOffer, CallID: m.id, Kind: kind, Tile: true}); err != nil {
		m.endLocked(ReasonCallFailed)
		return m.view, err
	}
	id := m.id
	m.ringTimer = time.AfterFunc(m.cfg.RingTimeout, func() { m.ringExpired(id) })
	m.emitLocked()
	return m.view, nil
}

// Answer accepts or declines the ringing call.
func (m *Manager) Answer(accept, video bool) (View, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.id == "" || m.view.State != StateIncoming {
		return m.view, ErrNotRinging
	}
	if !accept {
		_ = m.sendLocked(Control{Type: TypeDecline, CallID: m.id})
		m.endLocked(ReasonDeclined)
		return m.view, nil
	}
	return m.acceptLocked(video)
}

// acceptLocked answers the ringing call.
func (m *Manager) acceptLocked(video bool) (View, error) {
	notice, err := m.openLocked(video)
	if err != nil {
		_ = m.sendLocked(Control{Type: TypeDecline, CallID: m.id})
		m.endLocked(Reason(err))
		return m.view, err
	}
	if err := m.sendLocked(Control{Type: TypeAccept, CallID: m.id, Tile: true}); err != nil {
		m.endLocked(ReasonCallFailed)
		return m.view, err
	}
	m.stopRingLocked()
	m.view.Error = notice
	m.syncViewLocked()
	m.connectLocked()
	return m.view, nil
}

// HangUp ends the call in any state; no-op without one.
func (m *Manager) HangUp() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.id == "" {
		return
	}
	if m.view.State == StateIncoming {
		_ = m.sendLocked(Control{Type: TypeDecline, CallID: m.id})
		m.endLocked(ReasonDeclined)
		return
	}
	_ = m.sendLocked(Control{Type: TypeHangup, CallID: m.id})
	m.endLocked("")
}

// SetMuted mutes or unmutes our microphone (silence keeps flowing).
func (m *Manager) SetMuted(muted bool) View {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.view.MicMuted = muted
	if m.audio != nil {
		m.audio.muted.Store(muted)
	}
	if m.id != "" {
		_ = m.sendMediaLocked()
		m.emitLocked()
	}
	return m.view
}

// SetCamera turns our camera on or off during a call; on switches a voice
// call to video. While we share our screen the camera is a small tile
// beside it (or, to a peer that shows no tile, waits for the end of the
// share).
func (m *Manager) SetCamera(on bool) (View, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.id == "" {
		return m.view, ErrNotRinging
	}
	m.view.Error = ""
	m.wantCamera = on
	m.applyVideoLocked()
	_ = m.sendMediaLocked()
	m.emitLocked()
	return m.view, nil
}

// Close ends any call (the peer is gone) and stops the manager.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	if m.id != "" {
		m.endLocked(ReasonPeerLeft)
	}
	receivers := m.receivers
	m.receivers = nil
	for _, sl := range m.slots {
		sl.setSource(nil)
	}
	m.mu.Unlock()
	m.cfg.Conn.SetOnTrack(nil)
	m.recv.closed.Store(true)
	m.cancel()
	_ = m.ctl.Close()
	for _, r := range receivers {
		_ = r.Stop()
	}
	m.wg.Wait()
}

// openLocked starts the microphone and, if asked, the camera.
func (m *Manager) openLocked(video bool) (notice string, err error) {
	src := m.cfg.Sources()
	a, err := openAudio(src)
	if err != nil {
		return "", err
	}
	m.audio = a
	if a != nil {
		a.muted.Store(m.view.MicMuted)
	}
	if video && m.video == nil && m.screen == nil {
		v, err := openVideo(src)
		switch {
		case err != nil:
			notice = Reason(err)
		case v == nil:
			notice = ""
		case v.screen:
			// --video screen: the screen is the call's video, with the
			// camera beside it when Sources.Camera names one.
			m.screen = v
			m.watchScreenLocked(v)
			if c, err := openVideo(src.camera()); err == nil && c != nil {
				m.video, m.wantCamera = c, true
			} else if err != nil {
				notice = Reason(err)
			}
		default:
			m.video, m.wantCamera = v, true
		}
	}
	return notice, nil
}

// ReasonScreenUnavailable is the code of ErrScreenUnavailable.
const ReasonScreenUnavailable = "SCREEN_UNAVAILABLE"

// Reason is the stable code (View.Error, parley-cli's exit codes) of a
// capture or call error: NO_CAMERA, NO_MICROPHONE, DEVICE_BUSY,
// PERMISSION_DENIED, SCREEN_UNAVAILABLE, else CALL_FAILED.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrNoCamera):
		return "NO_CAMERA"
	case errors.Is(err, ErrNoMicrophone):
		return "NO_MICROPHONE"
	case errors.Is(err, ErrDeviceBusy):
		return "DEVICE_BUSY"
	case errors.Is(err, ErrPermissionDenied):
		return "PERMISSION_DENIED"
	case errors.Is(err, ErrScreenUnavailable):
		return ReasonScreenUnavailable
	default:
		return ReasonCallFailed
	}
}

// connectLocked puts our tracks on the PeerConnection: both sides do it
// once the call is accepted, and app/peer renegotiates.
func (m *Manager) connectLocked() {
	m.view.State = StateConnecting
	// Nothing shared by the peer in this call until its media message
	// says so: that message comes after this (the peer sends it once it
	// sent or got the accept), and before its media.
	m.recv.legacyScreen.Store(false)
	m.recv.peerSharing.Store(false)
	m.recv.arm()
	if m.cfg.Play && m.speaker == nil {
		sp, err := newPlayer(m.cfg.Sources().Speaker)
		if err != nil {
			m.log.Warn("call: no sound output; the call goes on without it", "err", err)
		} else {
			m.speaker = sp
			m.recv.setSpeaker(sp)
		}
	}
	ctx, cancel := context.WithCancel(m.ctx)
	m.callCtx, m.callStop = ctx, cancel
	if m.audio != nil {
		m.feedLocked(slotAudio, webrtc.RTPCodecTypeAudio, m.audio.local)
	}
	m.applyVideoLocked()
	_ = m.sendMediaLocked()
	id := m.id
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.adapt(ctx)
	}()
	// A peer that sends nothing (no camera, no microphone) still makes
	// the call active once the exchange had time to settle.
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
			m.activate(id)
		}
	}()
	m.emitLocked()
}

// live reports whether the call's media flows (or is being set up).
func (m *Manager) liveLocked() bool {
	return m.view.State == StateConnecting || m.view.State == StateActive
}

// feedLocked makes src what slot id sends, adding the slot to the
// PeerConnection the first time (its one m-line for the connection).
func (m *Manager) feedLocked(id string, kind webrtc.RTPCodecType, src *sendTrack) {
	sl := m.slots[id]
	if sl == nil {
		if src == nil {
			return
		}
		name := id
		if m.cfg.olderPeerForTest && id != slotAudio {
			name = "video"
		}
		sl = newSlot(name, kind)
		if _, err := m.cfg.Conn.AddTrack(sl); err != nil {
			m.log.Warn("call: add track", "track", id, "err", err)
			return
		}
		m.slots[id] = sl
	}
	sl.setSource(src)
}

// applyVideoLocked brings the camera and the screen in line with what the
// user asked for: the camera sends when it is wanted, unless we share our
// screen with a peer that shows no tile (an older Parley shows one video:
// the screen); beside a screen the camera is a small tile (tileMaxWidth,
// tileFPS). Once the call is live both go to their slots.
func (m *Manager) applyVideoLocked() {
	cameraOn := m.wantCamera && (m.screen == nil || m.peerTile && !m.cfg.olderPeerForTest)
	if cameraOn && m.video == nil {
		v, err := openVideo(m.cfg.Sources().camera())
		if err == nil && (v == nil || v.screen) {
			if v != nil {
				_ = v.track.Close()
			}
			err = ErrNoCamera
		}
		if err != nil {
			m.view.Error = Reason(err)
			m.wantCamera = false
		} else {
			m.video = v
		}
	}
	if !cameraOn && m.video != nil {
		v := m.video
		m.video = nil
		m.feedLocked(slotCamera, webrtc.RTPCodecTypeVideo, nil)
		_ = v.track.Close()
	}
	if m.video != nil {
		m.video.setTile(m.screen != nil)
	}
	if m.liveLocked() {
		for _, x := range []struct {
			id string
			v  *localVideo
		}{{slotCamera, m.video}, {slotScreen, m.screen}} {
			var src *sendTrack
			if x.v != nil {
				src = x.v.local
				if m.cfg.Hub != nil && !x.v.previewing {
					m.startPreviewLocked(x.v)
				}
			}
			m.feedLocked(x.id, webrtc.RTPCodecTypeVideo, src)
		}
	}
	m.syncViewLocked()
}

// syncViewLocked sets the view's own media fields from what sends.
func (m *Manager) syncViewLocked() {
	m.view.LocalCamera = m.video != nil
	m.view.Screen = m.screen != nil
	m.view.LocalVideo = m.view.LocalCamera || m.view.Screen
	m.view.Video = m.view.Video || m.view.LocalVideo
	m.sharing.Store(m.screen != nil)
}

// startPreviewLocked streams a small encoded copy of our camera or screen
// to the UI: the screen, or the camera when we do not share, as the local
// preview; the camera beside a shared screen as the local camera tile. A
// stream that moves to the other kind starts again at a keyframe.
func (m *Manager) startPreviewLocked(v *localVideo) {
	enc, w, h, err := v.preview()
	if err != nil {
		m.log.Warn("call: preview", "err", err)
		return
	}
	v.previewing = true
	start := time.Now()
	kc, _ := enc.Controller().(codec.KeyFrameController)
	v.previewKey = kc
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer enc.Close()
		var kind mediahub.Kind
		for {
			data, release, err := enc.Read()
			if err != nil {
				return
			}
			k := mediahub.LocalPreview
			if !v.screen && m.sharing.Load() {
				k = mediahub.LocalCamera
			}
			key := len(data) > 0 && data[0]&1 == 0
			if k != kind && !key {
				if kc != nil {
					_ = kc.ForceKeyFrame()
				}
				release()
				continue
			}
			kind = k
			if len(data) > 0 {
				m.cfg.Hub.Publish(m.cfg.RoomID, mediahub.Frame{
					Kind: kind, Keyframe: key, Timestamp: time.Since(start),
					Width: uint16(w), Height: uint16(h), Data: append([]byte(nil), data...),
				})
			}
			release()
		}
	}()
}

// Bandwidth of a camera tile beside a shared screen: a fifth of the video
// budget, between minVideoBitrate and tileMaxBitrate; the screen has the
// rest, on its own ladder (a 320x240 tile at 15 fps looks fine at 150
// kbit/s, and the screen is what the peer reads).
const tileMaxBitrate = 200_000

// splitEstimate shares the estimate (audio included) between the screen
// and the camera tile: each gets an estimate of its own, audio reserve
// included, as the policies expect.
func splitEstimate(est int) (screen, tile int) {
	budget := max(est-audioReserve, 0)
	t := min(max(budget/5, minVideoBitrate), tileMaxBitrate)
	return max(est-t, audioReserve+minVideoBitrate), t + audioReserve
}

// videoAdapt is the adaptation state of one video that sends.
type videoAdapt struct {
	name  string
	v     *localVideo
	pol   *adaptPolicy
	last  adaptDecision
	lastQ int
	sent  sendSample
}

// follow starts over when the video (re)started: a new encoder at its
// first level.
func (a *videoAdapt) follow(v *localVideo) {
	if v != a.v {
		a.v, a.last, a.lastQ, a.pol = v, adaptDecision{}, -1, nil
		if v != nil {
			a.pol = v.newPolicy()
		}
	}
	if v != nil {
		a.sent = v.local.sent.take()
	} else {
		a.sent = sendSample{}
	}
}

// step applies the policy's decision for est at now.
func (a *videoAdapt) step(now time.Time, est int) adaptDecision {
	v := a.v
	q := -1
	if qc, ok := v.local.controller().(interface{ takeQuantizer() (int, bool) }); ok {
		if mean, ok := qc.takeQuantizer(); ok {
			q = mean
		} else {
			q = a.lastQ
		}
	}
	a.lastQ = q
	d := a.pol.next(now, est, q)
	v.shaper.set(d.level)
	if ctrl, ok := v.local.controller().(codec.BitRateController); ok && (d.level != a.last.level || abs(d.bitrate-a.last.bitrate) > a.last.bitrate/10) {
		if err := ctrl.SetBitRate(d.bitrate); err == nil {
			a.last = d
			v.local.keys.setBitrate(d.bitrate)
		}
	}
	return d
}

// adapt follows the congestion controller's estimate with the video
// encoders' target bitrates, picture sizes and frame rates (adaptPolicy),
// leaving room for audio. With a screen and a camera tile, the tile takes
// a small fixed share (splitEstimate) and the screen the rest.
func (m *Manager) adapt(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	var (
		guard queueGuard
		cam   = videoAdapt{name: slotCamera}
		scr   = videoAdapt{name: slotScreen}
	)
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		rtt := m.sampleRTT()
		m.mu.Lock()
		cv, sv := m.video, m.screen
		m.mu.Unlock()
		cam.follow(cv)
		scr.follow(sv)
		if cv == nil && sv == nil {
			continue
		}
		gcc := m.cfg.Conn.TargetBitrate()
		if gcc <= 0 {
			continue
		}
		sentBits := int((cam.sent.bytes+scr.sent.bytes)*8*2) + audioReserve
		packets := cam.sent.packets + scr.sent.packets
		now := time.Now()
		// The guard's RTT: the one the other side's feedback measured, fresh
		// every 100 ms, while it comes; else the connection's statistics.
		guardRTT := rtt
		if fbAt, fbRTT := m.cfg.Conn.LastFeedback(); !fbAt.IsZero() {
			if packets > 0 {
				guard.starved(now, now.Sub(fbAt), sentBits)
			}
			if fbRTT > 0 && now.Sub(fbAt) < feedbackTimeout {
				guardRTT = float64(fbRTT) / float64(time.Millisecond)
			}
		}
		est := guard.next(now, gcc, guardRTT, sentBits)
		camEst, scrEst := est, est
		if cv != nil && sv != nil {
			scrEst, camEst = splitEstimate(est)
		}
		bs := m.cfg.Conn.BandwidthStats()
		for _, x := range []struct {
			a   *videoAdapt
			est int
		}{{&cam, camEst}, {&scr, scrEst}} {
			if x.a.v == nil {
				continue
			}
			d := x.a.step(now, x.est)
			sent := x.a.sent
			m.log.Debug("call: video sender", "video", x.a.name, "estimate", gcc, "share", x.est, "rtt", rtt, "guard_rtt", guardRTT, "guard_cap", guard.cap, "quantizer", x.a.lastQ, "loss_target", bs["lossTargetBitrate"], "delay_target", bs["delayTargetBitrate"],
				"avg_loss", bs["averageLoss"], "usage", bs["usage"], "state", bs["state"], "level", d.level, "target", x.a.last.bitrate,
				"sent_kbps", sent.bytes*8*2/1000, "packets", sent.packets, "frames", sent.frames, "keyframes", sent.keyframes,
				"key_bytes_max", sent.keyBytesMax, "key_requests", sent.keyRequests, "rtcp_errors", sent.rtcpErrors)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// mediaArrived makes a connecting call active on its first remote media.
func (m *Manager) mediaArrived() {
	m.mu.Lock()
	id := m.id
	m.mu.Unlock()
	m.activate(id)
}

func (m *Manager) activate(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id == "" || m.id != id || m.view.State != StateConnecting {
		return
	}
	m.view.State = StateActive
	now := time.Now().UnixMilli()
	m.view.StartedAt = &now
	m.emitLocked()
}

func (m *Manager) ringExpired(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.id != id || m.view.State != StateOutgoing {
		return
	}
	_ = m.sendLocked(Control{Type: TypeHangup, CallID: m.id})
	m.endLocked(ReasonNoAnswer)
}

func (m *Manager) stopRingLocked() {
	if m.ringTimer != nil {
		m.ringTimer.Stop()
		m.ringTimer = nil
	}
}

// endLocked tears the call down: our slots fall silent (they stay on the
// PeerConnection for the next call), capture stopped, goroutines of the
// call stopped; one ended view goes out.
func (m *Manager) endLocked(reason string) {
	m.stopRingLocked()
	if m.callStop != nil {
		m.callStop()
		m.callStop = nil
	}
	for _, sl := range m.slots {
		sl.setSource(nil)
	}
	var tracks []mediadevices.Track
	if m.audio != nil {
		tracks = append(tracks, m.audio.track)
	}
	for _, v := range []*localVideo{m.video, m.screen} {
		if v != nil {
			tracks = append(tracks, v.track)
		}
	}
	m.audio, m.video, m.screen = nil, nil, nil
	if m.speaker != nil {
		m.recv.setSpeaker(nil)
		m.speaker.close()
		m.speaker = nil
	}
	for _, t := range tracks {
		_ = t.Close()
	}
	m.id, m.outgoing, m.wantCamera, m.peerTile = "", false, false, false
	// The receiver's idea of what the peer shares stays until the next
	// call connects (connectLocked): the peer's frames still on the way
	// (it has not heard that we hung up) belong to this call, and its
	// camera's are the tile's, not the main video's.
	m.sharing.Store(false)
	m.view.Screen, m.view.LocalCamera = false, false
	m.view.State = StateEnded
	m.view.Error = reason
	m.view.LocalVideo = false
	m.emitLocked()
	m.view = View{RoomID: m.cfg.RoomID, State: StateIdle, MicMuted: m.view.MicMuted}
}

func (m *Manager) emitLocked() {
	if m.cfg.OnChange != nil {
		m.cfg.OnChange(m.view)
	}
}

func (m *Manager) sendLocked(c Control) error {
	if m.cfg.olderPeerForTest {
		c.Tile = false
	}
	b, err := EncodeControl(c)
	if err != nil {
		return err
	}
	if _, err := m.ctl.Write(b); err != nil {
		return fmt.Errorf("call: send %s: %w", c.Type, err)
	}
	return nil
}

func (m *Manager) sendMediaLocked() error {
	if m.id == "" || m.view.State == StateIncoming || m.view.State == StateOutgoing {
		return nil
	}
	video := m.video != nil || m.screen != nil
	kind := KindAudio
	if video {
		kind = KindVideo
	}
	c := Control{Type: TypeMedia, CallID: m.id, Kind: kind, Muted: m.view.MicMuted, CameraOff: !video,
		Screen: m.screen != nil, Camera: m.video != nil, Tile: true}
	if m.cfg.olderPeerForTest {
		c.Camera, c.Tile = false, false
	}
	return m.sendLocked(c)
}

func (m *Manager) sendPLI(ssrc uint32) {
	if err := m.cfg.Conn.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
		m.log.Debug("call: picture loss indication", "err", err)
	}
}

// RequestKeyframe asks the peer for a keyframe of its video and our
// preview encoder for one of ours (the UI's decoder joined or fell
// behind: mediahub.Hub.NeedKeyframe).
func (m *Manager) RequestKeyframe() {
	m.recv.requestKeyframes()
	m.mu.Lock()
	var kcs []codec.KeyFrameController
	for _, v := range []*localVideo{m.video, m.screen} {
		if v != nil && v.previewKey != nil {
			kcs = append(kcs, v.previewKey)
		}
	}
	m.mu.Unlock()
	for _, kc := range kcs {
		_ = kc.ForceKeyFrame()
	}
}

// readLoop handles the peer's control messages until the channel closes.
func (m *Manager) readLoop() {
	buf := make([]byte, 4*maxControlBytes)
	for {
		n, err := m.ctl.Read(buf)
		if err != nil {
			m.mu.Lock()
			if m.id != "" && !m.closed {
				m.endLocked(ReasonPeerLeft)
			}
			m.mu.Unlock()
			return
		}
		c, err := DecodeControl(buf[:n])
		if err != nil {
			m.log.Warn("call: ignoring a bad control message from the peer", "err", err)
			continue
		}
		m.handle(c)
	}
}

func (m *Manager) handle(c Control) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	if c.Type == TypeOffer {
		m.offerLocked(c)
		return
	}
	if c.CallID != m.id || m.id == "" {
		return // about a call that is over
	}
	switch c.Type {
	case TypeRinging:
	case TypeAccept:
		if m.view.State == StateOutgoing && m.outgoing {
			m.peerTile = c.Tile
			m.stopRingLocked()
			m.connectLocked()
		}
	case TypeDecline:
		m.endLocked(ReasonDeclined)
	case TypeHangup:
		if m.view.State == StateIncoming {
			m.endLocked(ReasonNoAnswer) // a missed call
		} else {
			m.endLocked("")
		}
	case TypeMedia:
		m.view.RemoteMuted = c.Muted
		video := c.Kind == KindVideo && !c.CameraOff
		m.view.RemoteVideo = video
		m.view.RemoteScreen = video && c.Screen
		if c.Tile {
			m.view.RemoteCamera = video && c.Camera
		} else {
			// An older Parley sends one video: its screen or its camera.
			m.view.RemoteCamera = video && !c.Screen
		}
		m.recv.legacyScreen.Store(!c.Tile && m.view.RemoteScreen)
		m.recv.peerSharing.Store(m.view.RemoteScreen)
		m.view.Video = m.view.Video || m.view.RemoteVideo
		if c.Tile && !m.peerTile {
			// Once per call at most: a peer that flips the flag cannot
			// make us open and close the camera over and over.
			m.peerTile = true
			m.applyVideoLocked()
			if m.view.State != StateEnded {
				_ = m.sendMediaLocked()
			}
		}
		m.emitLocked()
	}
}

// offerLocked handles an incoming call. When both sides called at once,
// the call with the smaller id wins on both sides and is accepted: both
// people wanted to talk.
func (m *Manager) offerLocked(c Control) {
	switch {
	case m.id == "":
		m.id, m.outgoing, m.peerTile = c.CallID, false, c.Tile
		m.view = View{RoomID: m.cfg.RoomID, State: StateIncoming, Video: c.Kind == KindVideo, RemoteVideo: c.Kind == KindVideo, MicMuted: m.view.MicMuted}
		_ = m.sendLocked(Control{Type: TypeRinging, CallID: m.id})
		id := m.id
		m.ringTimer = time.AfterFunc(m.cfg.RingTimeout+5*time.Second, func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.id == id && m.view.State == StateIncoming {
				m.endLocked(ReasonNoAnswer)
			}
		})
		m.emitLocked()
	case m.view.State == StateOutgoing && c.CallID < m.id:
		m.stopRingLocked()
		m.id, m.outgoing, m.peerTile = c.CallID, false, c.Tile
		m.view.Video = m.view.Video || c.Kind == KindVideo
		_ = m.sendLocked(Control{Type: TypeAccept, CallID: m.id, Tile: true})
		m.connectLocked()
	}
}
