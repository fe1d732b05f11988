package peer

import (
	"errors"
	"fmt"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Bounds of the send-side bandwidth estimate (bits per second) that calls
// adapt their encoders to. It starts low, as browsers do: an estimate
// above the link fills its queue with seconds of video before the first
// feedback can say so (2.5 Mbit/s over a 300 kbit/s link did; on a
// jammed link the feedback itself comes seconds late). From 450 kbit/s
// it reaches 1.2 Mbit/s in about 13 s on a link that has it; the picture
// starts at 640x480 when the source compresses well, at 320x240 for a
// busy camera (app/call's ladder).
const (
	bweInitial = 450_000
	bweMin     = 150_000
	bweMax     = 6_000_000
)

// nackMaxPerPacket bounds how often a missing packet is asked for again
// (every 100 ms by default). Unbounded, a receiver behind a full queue
// asked for every missing packet ten times a second until the
// retransmissions themselves filled the link: thousands of packets a
// second dropped at the queue of a 300 kbit/s link. The receiver waits
// 150 ms for a frame's packets (app/call), so later requests are useless.
const nackMaxPerPacket = 2

// ErrTooManyTracks is returned by AddTrack when the PeerConnection already
// has maxMediaSections media sections (m-lines are never reused; a new
// connection starts from none).
var ErrTooManyTracks = errors.New("peer: too many media tracks on this connection")

// newAPI builds the pion API of one PeerConnection generation: the default
// codecs (VP8, Opus, ...) and the default interceptors: NACK generator and
// responder (loss recovery), RTCP sender/receiver reports (RTT, loss) and
// transport-wide congestion control feedback, plus a send-side Google
// congestion control estimator fed by that feedback, so a sender's encoder
// can adapt to a lossy link instead of freezing. onBWE receives the
// estimator of the PeerConnection built with the API.
//
// feedback, when not nil, is where the other side's transport-wide
// feedback is noted: see Conn.LastFeedback.
func newAPI(se webrtc.SettingEngine, onBWE func(cc.BandwidthEstimator), feedback *feedbackState) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("peer: register codecs: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptorsWithOptions(m, ir,
		webrtc.WithNackGeneratorOptions(nack.GeneratorMaxNacksPerPacket(nackMaxPerPacket))); err != nil {
		return nil, fmt.Errorf("peer: register interceptors: %w", err)
	}
	ccf, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		// No pacer: frames go out as they are encoded (latency first);
		// the encoder's bitrate is what adapts.
		return gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(bweInitial),
			gcc.SendSideBWEMinBitrate(bweMin), gcc.SendSideBWEMaxBitrate(bweMax),
			gcc.SendSideBWEPacer(gcc.NewNoOpPacer()))
	})
	if err != nil {
		return nil, fmt.Errorf("peer: congestion control: %w", err)
	}
	ccf.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) {
		if onBWE != nil {
			onBWE(e)
		}
	})
	ir.Add(ccf)
	if feedback != nil {
		// Before the transport-wide sequence numbers' interceptor: outgoing
		// packets reach this one's writer after that one numbered them.
		ir.Add(feedbackClockFactory{fb: feedback})
	}
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, ir); err != nil {
		return nil, fmt.Errorf("peer: transport-wide sequence numbers: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir)), nil
}

// TargetBitrate is the congestion controller's current estimate of what
// the path carries, in bits per second, for all media we send; 0 before
// the PeerConnection exists. Encoders should aim below it.
func (c *Conn) TargetBitrate() int {
	c.mu.Lock()
	e := c.bwe
	c.mu.Unlock()
	if e == nil {
		return 0
	}
	return e.GetTargetBitrate()
}

// BandwidthStats is the congestion controller's view behind
// TargetBitrate (loss and delay targets, average loss, overuse state), for
// logs; nil before the PeerConnection exists.
func (c *Conn) BandwidthStats() map[string]any {
	c.mu.Lock()
	e := c.bwe
	c.mu.Unlock()
	if e == nil {
		return nil
	}
	return e.GetStats()
}

// WriteRTCP sends RTCP on the current PeerConnection (a receiver's picture
// loss indication asks the sender for a keyframe).
func (c *Conn) WriteRTCP(pkts []rtcp.Packet) error {
	pc := c.current()
	if pc == nil {
		return ErrClosed
	}
	return pc.WriteRTCP(pkts)
}

// Stats returns the current PeerConnection's statistics (RTT of the
// selected candidate pair, RTP stream counters).
func (c *Conn) Stats() webrtc.StatsReport {
	pc := c.current()
	if pc == nil {
		return nil
	}
	return pc.GetStats()
}

// AddTrack sends a local track to the other side. The renegotiation it
// needs runs on its own (see the package doc); the data channels are not
// affected. The caller owns the RTCP read loop of the returned sender
// (mediadevices tracks read it themselves to turn PLI into keyframes).
func (c *Conn) AddTrack(t webrtc.TrackLocal) (*webrtc.RTPSender, error) {
	pc := c.current()
	if pc == nil {
		return nil, ErrClosed
	}
	// A new transceiver (m-line) for every track, never a reused one:
	// pion gives a reused receiver a new remote track without ending the
	// reads of the old one, so each call after the first on a connection
	// would leave the other side's reader blocked for good. Callers keep
	// their tracks for the connection instead (app/call's slots change
	// what a track sends), so m-lines do not pile up call after call.
	if len(pc.GetTransceivers()) >= maxMediaSections {
		return nil, ErrTooManyTracks
	}
	tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
	if err != nil {
		return nil, fmt.Errorf("peer: add track: %w", err)
	}
	c.kickNegotiation()
	return tr.Sender(), nil
}

// RemoveTrack stops sending the track of s and renegotiates.
func (c *Conn) RemoveTrack(s *webrtc.RTPSender) error {
	pc := c.current()
	if pc == nil {
		return ErrClosed
	}
	if err := pc.RemoveTrack(s); err != nil {
		return fmt.Errorf("peer: remove track: %w", err)
	}
	c.kickNegotiation()
	return nil
}

// SetOnTrack replaces the receiver of remote tracks (Config.OnTrack), for
// a call started on a Conn someone else created. Tracks that arrived
// before are not replayed.
func (c *Conn) SetOnTrack(fn func(*webrtc.TrackRemote, *webrtc.RTPReceiver)) {
	c.mu.Lock()
	c.onTrack = fn
	c.mu.Unlock()
}

// MediaSections is the number of media sections (transceivers) of the
// current PeerConnection, which AddTrack caps at maxMediaSections (for
// logs and tests).
func (c *Conn) MediaSections() int {
	pc := c.current()
	if pc == nil {
		return 0
	}
	return len(pc.GetTransceivers())
}
