package call

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
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

	// Screen: our video is our shared screen (ShareScreen);
	// RemoteScreen: the peer's video is theirs.
	Screen       bool `json:"screen"`
	RemoteScreen bool `json:"remoteScreen"`
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
	mu        sync.Mutex
	view      View
	id        string // current call id, "" when idle
	outgoing  bool   // we offered the current call
	audio     *localAudio
	video     *localVideo
	senders   []*webrtc.RTPSender
	callStop  context.CancelFunc // stops the current call's goroutines
	ringTimer *time.Timer
	closed    bool
	// receivers are the peer's tracks' receivers, stopped on Close: pion
	// does not always end a reader of a track whose transceiver was reused
	// by a later call when the PeerConnection closes.
	receivers []*webrtc.RTPReceiver
	// speaker plays the current call's sound, when Config.Play.
	speaker *player
	// previewKey forces a keyframe of the local preview's encoder.
	previewKey codec.KeyFrameController
	// lastRTT is the last round-trip time measured (ms): Stats falls back
	// on it once the connection is gone, as when the peer hung up first.
	lastRTT float64
	// cameraBeforeScreen: the camera was on when sharing the screen
	// replaced it, so stopping turns it back on.
	cameraBeforeScreen bool
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
	m := &Manager{cfg: cfg, log: log, ctl: ctl, view: View{RoomID: cfg.RoomID, State: StateIdle}}
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
// that cannot start fails the call.
func (m *Manager) Start(video bool) (View, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return m.view, ErrClosed
	}
	if m.id != "" {
		return m.view, ErrBusy
	}
	notice, err := m.openLocked(video)
	if err != nil {
		return m.view, err
	}
	m.id, m.outgoing = newCallID(), true
	m.view = View{RoomID: m.cfg.RoomID, State: StateOutgoing, Video: m.video != nil, LocalVideo: m.video != nil, Error: notice}
	kind := KindAudio
	if m.video != nil {
		kind = KindVideo
	}
	if err := m.sendLocked(Control{Type: TypeOffer, CallID: m.id, Kind: kind}); err != nil {
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
	notice, err := m.openLocked(video)
	if err != nil {
		_ = m.sendLocked(Control{Type: TypeDecline, CallID: m.id})
		m.endLocked(Reason(err))
		return m.view, err
	}
	if err := m.sendLocked(Control{Type: TypeAccept, CallID: m.id}); err != nil {
		m.endLocked(ReasonCallFailed)
		return m.view, err
	}
	m.stopRingLocked()
	m.view.Error = notice
	m.view.LocalVideo = m.video != nil
	m.view.Video = m.view.Video || m.video != nil
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
// call to video by renegotiating the same PeerConnection.
func (m *Manager) SetCamera(on bool) (View, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.id == "" {
		return m.view, ErrNotRinging
	}
	if m.video != nil && m.video.screen {
		// The screen has the video; the camera comes back (or not) when
		// sharing stops.
		m.cameraBeforeScreen = on
		return m.view, nil
	}
	live := m.view.State == StateConnecting || m.view.State == StateActive
	switch {
	case on && m.video == nil:
		v, err := openVideo(m.cfg.Sources())
		if err == nil && v == nil {
			err = ErrNoCamera
		}
		if err != nil {
			m.view.Error = Reason(err)
			m.view.LocalVideo = false
			m.emitLocked()
			return m.view, nil
		}
		m.video = v
		if live {
			if err := m.addVideoLocked(); err != nil {
				m.log.Warn("call: add camera", "err", err)
			}
		}
	case !on && m.video != nil:
		m.removeVideoLocked()
	}
	m.view.LocalVideo = m.video != nil
	m.view.Video = m.view.Video || m.video != nil
	m.view.Error = ""
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
	if video {
		v, err := openVideo(src)
		switch {
		case err != nil:
			notice = Reason(err)
		case v == nil:
			notice = ""
		default:
			m.video = v
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
	m.callStop = cancel
	if m.audio != nil {
		if s, err := m.cfg.Conn.AddTrack(m.audio.local); err != nil {
			m.log.Warn("call: add microphone", "err", err)
		} else {
			m.senders = append(m.senders, s)
		}
	}
	if m.video != nil {
		if err := m.addVideoLocked(); err != nil {
			m.log.Warn("call: add camera", "err", err)
		}
	}
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

func (m *Manager) addVideoLocked() error {
	s, err := m.cfg.Conn.AddTrack(m.video.local)
	if err != nil {
		return err
	}
	m.senders = append(m.senders, s)
	if m.cfg.Hub != nil {
		m.startPreviewLocked(m.video)
	}
	m.watchScreenLocked(m.video)
	return nil
}

func (m *Manager) removeVideoLocked() {
	v := m.video
	m.video = nil
	m.previewKey = nil
	for i, s := range m.senders {
		if s.Track() == webrtc.TrackLocal(v.local) {
			if err := m.cfg.Conn.RemoveTrack(s); err != nil {
				m.log.Debug("call: remove camera", "err", err)
			}
			m.senders = append(m.senders[:i], m.senders[i+1:]...)
			break
		}
	}
	_ = v.track.Close()
}

// startPreviewLocked streams a small encoded copy of our camera to the UI.
func (m *Manager) startPreviewLocked(v *localVideo) {
	enc, w, h, err := v.preview()
	if err != nil {
		m.log.Warn("call: preview", "err", err)
		return
	}
	start := time.Now()
	if kc, ok := enc.Controller().(codec.KeyFrameController); ok {
		m.previewKey = kc
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer enc.Close()
		for {
			data, release, err := enc.Read()
			if err != nil {
				return
			}
			if len(data) > 0 {
				m.cfg.Hub.Publish(m.cfg.RoomID, mediahub.Frame{
					Kind: mediahub.LocalPreview, Keyframe: data[0]&1 == 0, Timestamp: time.Since(start),
					Width: uint16(w), Height: uint16(h), Data: append([]byte(nil), data...),
				})
			}
			release()
		}
	}()
}

// adapt follows the congestion controller's estimate with the video
// encoder's target bitrate, picture size and frame rate (adaptPolicy),
// leaving room for audio.
func (m *Manager) adapt(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	var (
		cur   *localVideo
		pol   *adaptPolicy
		guard queueGuard
		last  adaptDecision
		lastQ = -1
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
		v := m.video
		m.mu.Unlock()
		if v == nil {
			cur = nil
			continue
		}
		if v != cur {
			// A camera (re)started: a new encoder at its first level.
			cur, last, lastQ = v, adaptDecision{}, -1
			pol = v.newPolicy()
		}
		gcc := m.cfg.Conn.TargetBitrate()
		if gcc <= 0 {
			continue
		}
		sent := v.local.sent.take()
		now := time.Now()
		// The guard's RTT: the one the other side's feedback measured, fresh
		// every 100 ms, while it comes; else the connection's statistics.
		guardRTT := rtt
		if fbAt, fbRTT := m.cfg.Conn.LastFeedback(); !fbAt.IsZero() {
			if sent.packets > 0 {
				guard.starved(now, now.Sub(fbAt), int(sent.bytes*8*2)+audioReserve)
			}
			if fbRTT > 0 && now.Sub(fbAt) < feedbackTimeout {
				guardRTT = float64(fbRTT) / float64(time.Millisecond)
			}
		}
		est := guard.next(now, gcc, guardRTT, int(sent.bytes*8*2)+audioReserve)
		q := -1
		if qc, ok := v.local.controller().(interface{ takeQuantizer() (int, bool) }); ok {
			if mean, ok := qc.takeQuantizer(); ok {
				q = mean
			} else {
				q = lastQ
			}
		}
		lastQ = q
		d := pol.next(now, est, q)
		v.shaper.set(d.level)
		if ctrl, ok := v.local.controller().(codec.BitRateController); ok && (d.level != last.level || abs(d.bitrate-last.bitrate) > last.bitrate/10) {
			if err := ctrl.SetBitRate(d.bitrate); err == nil {
				last = d
				v.local.keys.setBitrate(d.bitrate)
			}
		}
		bs := m.cfg.Conn.BandwidthStats()
		m.log.Debug("call: video sender", "estimate", gcc, "rtt", rtt, "guard_rtt", guardRTT, "guard_cap", guard.cap, "quantizer", q, "loss_target", bs["lossTargetBitrate"], "delay_target", bs["delayTargetBitrate"],
			"avg_loss", bs["averageLoss"], "usage", bs["usage"], "state", bs["state"], "level", d.level, "target", last.bitrate,
			"sent_kbps", sent.bytes*8*2/1000, "packets", sent.packets, "frames", sent.frames, "keyframes", sent.keyframes,
			"key_bytes_max", sent.keyBytesMax, "key_requests", sent.keyRequests, "rtcp_errors", sent.rtcpErrors)
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

// endLocked tears the call down: tracks off the PeerConnection, capture
// stopped, goroutines of the call stopped; one ended view goes out.
func (m *Manager) endLocked(reason string) {
	m.stopRingLocked()
	if m.callStop != nil {
		m.callStop()
		m.callStop = nil
	}
	for _, s := range m.senders {
		if err := m.cfg.Conn.RemoveTrack(s); err != nil {
			m.log.Debug("call: remove track", "err", err)
		}
	}
	m.senders = nil
	var tracks []mediadevices.Track
	if m.audio != nil {
		tracks = append(tracks, m.audio.track)
	}
	if m.video != nil {
		tracks = append(tracks, m.video.track)
	}
	m.audio, m.video, m.previewKey = nil, nil, nil
	if m.speaker != nil {
		m.recv.setSpeaker(nil)
		m.speaker.close()
		m.speaker = nil
	}
	for _, t := range tracks {
		_ = t.Close()
	}
	m.id, m.outgoing, m.cameraBeforeScreen = "", false, false
	m.view.Screen = false
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
	kind := KindAudio
	if m.video != nil {
		kind = KindVideo
	}
	return m.sendLocked(Control{Type: TypeMedia, CallID: m.id, Kind: kind, Muted: m.view.MicMuted, CameraOff: m.video == nil, Screen: m.video != nil && m.video.screen})
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
	m.recv.requestKeyframe()
	m.mu.Lock()
	kc := m.previewKey
	m.mu.Unlock()
	if kc != nil {
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
		m.view.RemoteVideo = c.Kind == KindVideo && !c.CameraOff
		m.view.RemoteScreen = m.view.RemoteVideo && c.Screen
		m.view.Video = m.view.Video || m.view.RemoteVideo
		m.emitLocked()
	}
}

// offerLocked handles an incoming call. When both sides called at once,
// the call with the smaller id wins on both sides and is accepted: both
// people wanted to talk.
func (m *Manager) offerLocked(c Control) {
	switch {
	case m.id == "":
		m.id, m.outgoing = c.CallID, false
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
		m.id, m.outgoing = c.CallID, false
		m.view.Video = m.view.Video || c.Kind == KindVideo
		_ = m.sendLocked(Control{Type: TypeAccept, CallID: m.id})
		m.connectLocked()
	}
}
