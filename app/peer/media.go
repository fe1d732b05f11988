package peer

import (
	"fmt"
	"io"
	"strings"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Bounds of the send-side bandwidth estimate (bits per second) that calls
// adapt their encoders to. It starts high enough for 720p on a LAN and
// backs off on loss and delay.
const (
	bweInitial = 2_500_000
	bweMin     = 150_000
	bweMax     = 6_000_000
)

// NegotiateChannelID carries renegotiation requests from the polite side to
// the impolite side (see the package doc). It is pre-negotiated like the
// chat channel.
const (
	NegotiateChannelID    uint16 = 4
	NegotiateChannelLabel        = "parley-negotiate"
)

// renegotiateRequest starts the only message on the negotiate channel; it
// is followed by the kinds ("audio", "video") of the polite side's new
// transceivers, which need m-lines that only an offer can create.
const renegotiateRequest = "offer-please"

// newAPI builds the pion API of one PeerConnection generation: the default
// codecs (VP8, Opus, ...) and the default interceptors: NACK generator and
// responder (loss recovery), RTCP sender/receiver reports (RTT, loss) and
// transport-wide congestion control feedback, plus a send-side Google
// congestion control estimator fed by that feedback, so a sender's encoder
// can adapt to a lossy link instead of freezing. onBWE receives the
// estimator of the PeerConnection built with the API.
func newAPI(se webrtc.SettingEngine, onBWE func(cc.BandwidthEstimator)) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("peer: register codecs: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
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
	// would leave the other side's reader blocked for good.
	tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
	if err != nil {
		return nil, fmt.Errorf("peer: add track: %w", err)
	}
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
	return nil
}

// setupNegotiate wires the negotiate channel of generation gen: the
// impolite side turns each request into an offer of its own.
func (c *Conn) setupNegotiate(pc *webrtc.PeerConnection, gen uint64) (*webrtc.DataChannel, error) {
	negotiated, ordered := true, true
	id := NegotiateChannelID
	dc, err := pc.CreateDataChannel(NegotiateChannelLabel, &webrtc.DataChannelInit{
		Negotiated: &negotiated, ID: &id, Ordered: &ordered,
	})
	if err != nil {
		return nil, fmt.Errorf("peer: create channel %s: %w", NegotiateChannelLabel, err)
	}
	// Data channels are detached (see settingEngine): read the channel
	// ourselves once it opens.
	dc.OnOpen(func() {
		raw, err := dc.Detach()
		if err != nil {
			c.log.Warn("peer: detach negotiate channel", "err", err)
			return
		}
		c.mu.Lock()
		if c.closed || c.gen != gen {
			c.mu.Unlock()
			_ = raw.Close()
			return
		}
		c.negRaw = raw
		c.wg.Add(1)
		c.mu.Unlock()
		go func() {
			defer c.wg.Done()
			c.readNegotiate(pc, gen, raw)
		}()
	})
	return dc, nil
}

// readNegotiate runs until the channel closes (with its PeerConnection).
// On the impolite side each request becomes an offer; the polite side
// ignores what it reads (nothing should come).
func (c *Conn) readNegotiate(pc *webrtc.PeerConnection, gen uint64, raw io.Reader) {
	buf := make([]byte, 256)
	for {
		n, err := raw.Read(buf)
		if err != nil {
			return
		}
		f := strings.Fields(string(buf[:n]))
		if c.cfg.Polite || !c.isCurrent(gen) || len(f) == 0 || f[0] != renegotiateRequest || len(f) > 16 {
			continue
		}
		c.log.Debug("peer: offer requested")
		for _, k := range f[1:] {
			kind := webrtc.NewRTPCodecType(k)
			if kind == 0 {
				continue
			}
			// A receive-only transceiver gives the polite side's new
			// track an m-line to be matched to when the offer arrives.
			if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				c.log.Warn("peer: add transceiver for the other side", "err", err)
			}
		}
		select {
		case c.negNeeded <- gen:
		default:
		}
	}
}

// needsOffer decides for the polite side whether its tracks differ from
// what was negotiated: a track with no m-line yet, or one added or removed
// on an existing m-line. pion's own negotiation-needed check compares an
// answer's direction with the transceiver's without intersecting it with
// the offer (a sendrecv transceiver answered as sendonly counts as
// changed), which would ask for offers forever.
func needsOffer(pc *webrtc.PeerConnection) bool {
	local := pc.CurrentLocalDescription()
	if local == nil {
		return true
	}
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(local.SDP); err != nil {
		return true
	}
	sending := map[string]bool{}
	for _, m := range parsed.MediaDescriptions {
		mid, _ := m.Attribute(sdp.AttrKeyMID)
		_, sendrecv := m.Attribute("sendrecv")
		_, sendonly := m.Attribute("sendonly")
		sending[mid] = sendrecv || sendonly
	}
	for _, tr := range pc.GetTransceivers() {
		mid := tr.Mid()
		hasTrack := tr.Sender() != nil && tr.Sender().Track() != nil
		negotiated, known := sending[mid]
		if mid == "" || !known {
			if hasTrack {
				return true
			}
			continue
		}
		if hasTrack != negotiated {
			return true
		}
	}
	return false
}

// requestOffer asks the impolite side for an offer; the polite side never
// offers after the first exchange, so offers cannot collide.
func (c *Conn) requestOffer() {
	c.mu.Lock()
	raw, pc := c.negRaw, c.pc
	c.mu.Unlock()
	msg := renegotiateRequest
	for _, tr := range pc.GetTransceivers() {
		if tr.Mid() == "" && tr.Sender() != nil {
			msg += " " + tr.Kind().String()
		}
	}
	if raw == nil {
		c.log.Warn("peer: renegotiation needed but the negotiate channel is not open")
		return
	}
	c.log.Debug("peer: requesting an offer")
	if _, err := raw.Write([]byte(msg)); err != nil {
		c.log.Warn("peer: request offer", "err", err)
	}
}

// offerPending catches a track added while an exchange was in flight: pion
// may report negotiation as needed while the signaling state is not stable,
// and makeOffer drops such reports, so after each applied description the
// loop looks for transceivers that no exchange has covered yet.
func (c *Conn) offerPending() {
	c.mu.Lock()
	pc, gen := c.pc, c.gen
	c.mu.Unlock()
	if pc.SignalingState() != webrtc.SignalingStateStable || pc.CurrentRemoteDescription() == nil {
		return
	}
	for _, tr := range pc.GetTransceivers() {
		if tr.Mid() == "" {
			c.makeOffer(gen)
			return
		}
	}
}

// SetOnTrack replaces the receiver of remote tracks (Config.OnTrack), for
// a call started on a Conn someone else created. Tracks that arrived
// before are not replayed.
func (c *Conn) SetOnTrack(fn func(*webrtc.TrackRemote, *webrtc.RTPReceiver)) {
	c.mu.Lock()
	c.onTrack = fn
	c.mu.Unlock()
}
