package peer

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"
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

// Bounds on what the other side can make us do through renegotiation. The
// peer is hostile until verified and may be hostile after: requests on the
// negotiate channel and the m-lines of its offers are all bounded.
const (
	// maxMediaSections bounds the media sections (m-lines, one per
	// transceiver) of a PeerConnection. A call uses 4 (audio and video
	// each way), but m-lines are never reused (see AddTrack): each call on
	// the same connection and each camera turned back on adds new ones.
	// 16 covers voice, then video, camera off and on, and a second video
	// call (9), with margin; it also keeps every offer and answer (about
	// 2.7 KiB of SDP per m-line with pion's default codecs) under the
	// signaling server's 64 KiB message limit, past which renegotiation
	// would fail anyway.
	maxMediaSections = 16
	// maxRequestKinds bounds the kinds one offer request may list: the
	// polite side's transceivers not yet negotiated (2 when a video call
	// starts). A longer request is ignored.
	maxRequestKinds = 8
	// negotiateReadMax is the largest message read on the negotiate
	// channel; a legitimate request is under 80 bytes.
	negotiateReadMax = 256
	// offerRequestEvery and offerRequestBurst rate-limit the offers the
	// impolite side makes on request. Requests that arrive faster are
	// merged into the one pending, so none is lost and a flood costs at
	// most one offer per offerRequestEvery.
	offerRequestEvery = 250 * time.Millisecond
	offerRequestBurst = 4
)

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
	// would leave the other side's reader blocked for good.
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
			c.readNegotiate(gen, raw)
		}()
	})
	return dc, nil
}

// readNegotiate runs until the channel closes (with its PeerConnection).
// The polite side ignores what it reads (nothing should come). On the
// impolite side each well-formed request is queued for serveOfferRequests,
// which acts on it only once the peer is verified.
func (c *Conn) readNegotiate(gen uint64, raw io.ReadCloser) {
	buf := make([]byte, negotiateReadMax)
	for {
		n, err := raw.Read(buf)
		if err != nil {
			if errors.Is(err, io.ErrShortBuffer) {
				// pion keeps an oversized message at the head of the
				// stream: nothing after it could be read. No request is
				// that big, so the peer broke the protocol.
				c.log.Warn("peer: oversized message on the negotiate channel; closing it")
				_ = raw.Close()
			}
			return
		}
		if c.cfg.Polite || !c.isCurrent(gen) {
			continue
		}
		kinds, ok := parseOfferRequest(buf[:n])
		if !ok {
			continue
		}
		c.queueOfferRequest(gen, kinds)
	}
}

// parseOfferRequest parses "offer-please [kind...]" into a count per
// media kind.
func parseOfferRequest(msg []byte) (map[webrtc.RTPCodecType]int, bool) {
	f := strings.Fields(string(msg))
	if len(f) == 0 || f[0] != renegotiateRequest || len(f)-1 > maxRequestKinds {
		return nil, false
	}
	kinds := map[webrtc.RTPCodecType]int{}
	for _, k := range f[1:] {
		if kind := webrtc.NewRTPCodecType(k); kind != 0 {
			kinds[kind]++
		}
	}
	return kinds, true
}

// offerRequest is the pending request of the polite side: the most of each
// kind any request since the last offer asked for (a repeated request lists
// the same transceivers again, it does not add to them).
type offerRequest struct {
	gen   uint64
	kinds map[webrtc.RTPCodecType]int
}

// queueOfferRequest merges a request into the pending one.
func (c *Conn) queueOfferRequest(gen uint64, kinds map[webrtc.RTPCodecType]int) {
	c.mu.Lock()
	c.offerRequests++
	if c.pendingRequest == nil || c.pendingRequest.gen != gen {
		c.pendingRequest = &offerRequest{gen: gen, kinds: map[webrtc.RTPCodecType]int{}}
	}
	for k, n := range kinds {
		c.pendingRequest.kinds[k] = max(c.pendingRequest.kinds[k], n)
	}
	c.mu.Unlock()
	select {
	case c.requestNotify <- struct{}{}:
	default:
	}
}

// serveOfferRequests turns the polite side's requests into offers (the
// impolite side only). Nothing happens before the peer is verified: an
// unverified end cannot make us add a single transceiver. After that,
// offers on request are rate-limited and the transceivers they add are
// capped at maxMediaSections.
func (c *Conn) serveOfferRequests() {
	if c.cfg.Polite {
		return // the polite side never offers on request
	}
	select {
	case <-c.done:
	case <-c.ctx.Done():
		return
	}
	if c.doneErr != nil {
		return
	}
	limit := rate.NewLimiter(rate.Every(offerRequestEvery), offerRequestBurst)
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.requestNotify:
		}
		if err := limit.Wait(c.ctx); err != nil {
			return
		}
		c.mu.Lock()
		req, pc := c.pendingRequest, c.pc
		c.pendingRequest = nil
		c.mu.Unlock()
		if req == nil || !c.isCurrent(req.gen) {
			continue
		}
		c.servedRequests.Add(1)
		c.log.Debug("peer: offer requested")
		c.addReceivers(pc, req.kinds)
		select {
		case c.negNeeded <- req.gen:
		default:
		}
	}
}

// addReceivers gives each track the polite side asked for a receive-only
// transceiver, an m-line to be matched to when our offer arrives, unless
// one added for an earlier request is still waiting for that exchange to
// complete (a repeated request lists the same tracks), and never past
// maxMediaSections.
func (c *Conn) addReceivers(pc *webrtc.PeerConnection, kinds map[webrtc.RTPCodecType]int) {
	trs := pc.GetTransceivers()
	done := map[string]bool{} // mids of completed exchanges
	if d := pc.CurrentLocalDescription(); d != nil {
		var parsed sdp.SessionDescription
		if err := parsed.UnmarshalString(d.SDP); err == nil {
			for _, m := range parsed.MediaDescriptions {
				mid, _ := m.Attribute(sdp.AttrKeyMID)
				done[mid] = true
			}
		}
	}
	waiting := map[webrtc.RTPCodecType]int{}
	for _, tr := range trs {
		if tr.Direction() == webrtc.RTPTransceiverDirectionRecvonly && (tr.Mid() == "" || !done[tr.Mid()]) {
			waiting[tr.Kind()]++
		}
	}
	count := len(trs)
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		for range kinds[kind] - waiting[kind] {
			if count >= maxMediaSections {
				c.log.Warn("peer: the other side asked for more media sections than allowed; ignoring the rest", "max", maxMediaSections)
				return
			}
			if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				c.log.Warn("peer: add transceiver for the other side", "err", err)
				return
			}
			count++
		}
	}
}

// mediaSections counts the media sections (m-lines other than the data
// channels' application one) of an SDP.
func mediaSections(sdp string) int {
	n := 0
	for line := range strings.Lines(sdp) {
		if strings.HasPrefix(line, "m=") && !strings.HasPrefix(line, "m=application") {
			n++
		}
	}
	return n
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
			// When both sides add a track at once (every call), our track
			// takes the m-line the other side offered for its own, and
			// the one it added for our request gets a transceiver pion
			// made: sendonly, with no track, answered as sending. Nothing
			// of ours changed there; asking again would get the same
			// offer and answer, round after round, for the whole call.
			if !hasTrack && (tr.Direction() == webrtc.RTPTransceiverDirectionSendonly || tr.Direction() == webrtc.RTPTransceiverDirectionSendrecv) {
				continue
			}
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

// offerPending catches a track added or removed while an exchange was in
// flight: pion may report negotiation as needed while the signaling state
// is not stable, and makeOffer drops such reports, so after each applied
// description the loop looks for transceivers that no exchange has covered
// yet, and the polite side for any track change (needsOffer).
func (c *Conn) offerPending() {
	c.mu.Lock()
	pc, gen := c.pc, c.gen
	c.mu.Unlock()
	if pc.SignalingState() != webrtc.SignalingStateStable || pc.CurrentRemoteDescription() == nil {
		return
	}
	if c.cfg.Polite && needsOffer(pc) {
		c.makeOffer(gen)
		return
	}
	for _, tr := range pc.GetTransceivers() {
		if tr.Mid() == "" {
			c.makeOffer(gen)
			return
		}
	}
}

// kickNegotiation makes the negotiation loop look at the tracks again
// after AddTrack or RemoveTrack. pion's own negotiationneeded event is not
// enough: pion fires it only when its flag goes from clear to set, and
// the flag can stay set from an earlier check that found nothing for us
// to do (see needsOffer), after which a camera turned off would never be
// renegotiated.
func (c *Conn) kickNegotiation() {
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	select {
	case c.negNeeded <- gen:
	default:
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
