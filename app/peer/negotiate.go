package peer

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/parley-chat/parley/signaling/protocol"
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
	// transceiver) of a PeerConnection. AddTrack never reuses an m-line,
	// so app/call adds each of its senders (audio, camera, screen) once
	// per connection and keeps it for every later call: a connection
	// needs at most 6 plus the receive-only ones added for the polite
	// side's first requests. (Parley before that added m-lines for every
	// call and every camera turned back on, and an older peer still does
	// on its side.) 16 leaves margin; it also keeps every offer and
	// answer (about 2.7 KiB of SDP per m-line with pion's default codecs)
	// under the signaling server's 64 KiB message limit, past which
	// renegotiation would fail anyway.
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

// negotiation is the state of perfect negotiation and of the polite
// side's offer requests.
type negotiation struct {
	// Guarded by Conn.mu.
	inQ            []protocol.Signal // signals from the other side, not yet applied
	outQ           []protocol.Signal // our signals, not yet handed to SendSignal
	pendingRequest *offerRequest     // impolite side: merged requests not yet served
	offerRequests  int               // well-formed requests read (tests)
	negRaw         io.ReadWriter     // the detached negotiate channel, once open

	inNotify      chan struct{}
	outNotify     chan struct{}
	negNeeded     chan uint64 // generation that needs an offer (or a request)
	requestNotify chan struct{}

	servedRequests atomic.Int64 // requests turned into offers (tests)
	refusedOffers  atomic.Int64 // remote offers over maxMediaSections (tests)

	// Owned by the negotiation loop goroutine.
	remoteSession string
	ignoreOffer   bool
	pendingCands  []protocol.Signal
}

func (n *negotiation) init() {
	n.inNotify = make(chan struct{}, 1)
	n.outNotify = make(chan struct{}, 1)
	n.negNeeded = make(chan uint64, 1)
	n.requestNotify = make(chan struct{}, 1)
}

// HandleSignal queues a description or candidate from the other side. It
// does not block on pion; problems with the signal's content are logged.
func (c *Conn) HandleSignal(s protocol.Signal) error {
	if (s.Description == nil) == (s.Candidate == nil) {
		if s.App != nil {
			return nil // application signals are not ours
		}
		return errors.New("peer: signal must carry exactly one of description or candidate")
	}
	if s.Description != nil && s.Description.Type != "offer" && s.Description.Type != "answer" {
		return fmt.Errorf("peer: unexpected description type %q", s.Description.Type)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if len(c.neg.inQ) >= maxQueuedSignals {
		return errors.New("peer: too many queued signals")
	}
	c.neg.inQ = append(c.neg.inQ, s)
	select {
	case c.neg.inNotify <- struct{}{}:
	default:
	}
	return nil
}

func (c *Conn) enqueueOut(s protocol.Signal) {
	c.mu.Lock()
	c.neg.outQ = append(c.neg.outQ, s)
	c.mu.Unlock()
	select {
	case c.neg.outNotify <- struct{}{}:
	default:
	}
}

// sendLoop hands outgoing signals to cfg.SendSignal in order.
func (c *Conn) sendLoop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.neg.outNotify:
		}
		c.mu.Lock()
		q := c.neg.outQ
		c.neg.outQ = nil
		c.mu.Unlock()
		for _, s := range q {
			if c.ctx.Err() != nil {
				return
			}
			if err := c.cfg.SendSignal(s); err != nil {
				// Usually the session is ending (signaling closed first);
				// a real failure shows up as a connection that never comes.
				c.log.Debug("peer: send signal", "err", err)
			}
		}
	}
}

// negotiationLoop owns the signaling state: it makes offers when pion asks
// for negotiation and applies the other side's signals, one at a time, so
// the W3C "makingOffer" flag reduces to "signaling state is not stable".
func (c *Conn) negotiationLoop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case gen := <-c.neg.negNeeded:
			c.makeOffer(gen)
		case <-c.neg.inNotify:
			c.mu.Lock()
			q := c.neg.inQ
			c.neg.inQ = nil
			c.mu.Unlock()
			for _, s := range q {
				if c.ctx.Err() != nil {
					return
				}
				if s.Description != nil {
					c.handleDescription(s.Session, *s.Description)
					c.offerPending()
				} else {
					c.handleCandidate(s)
				}
			}
		}
	}
}

func (c *Conn) makeOffer(gen uint64) {
	c.mu.Lock()
	pc, session, stale := c.pc, c.session, c.gen != gen
	c.mu.Unlock()
	if stale || pc.SignalingState() != webrtc.SignalingStateStable {
		return
	}
	// Our data channels are negotiated, so once the first exchange is done
	// there is nothing to renegotiate until media arrives (a late event
	// from before the exchange would only cause a redundant round).
	if pc.CurrentLocalDescription() != nil && len(pc.GetTransceivers()) == 0 {
		return
	}
	// After the first exchange only the impolite side offers; the polite
	// side asks it to (pion cannot roll back, so a collision would cost
	// the PeerConnection and the call with it).
	if c.cfg.Polite && pc.CurrentRemoteDescription() != nil {
		if needsOffer(pc) {
			c.requestOffer()
		}
		return
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		c.log.Warn("peer: create offer", "err", err)
		return
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		c.log.Warn("peer: set local offer", "err", err)
		return
	}
	c.log.Debug("peer: sending offer")
	c.enqueueOut(protocol.Signal{Session: session, Description: &protocol.SessionDescription{Type: "offer", SDP: offer.SDP}})
}

func (c *Conn) handleDescription(session string, d protocol.SessionDescription) {
	if c.neg.remoteSession != "" && session != c.neg.remoteSession {
		c.log.Warn("peer: dropping description of another remote session")
		return
	}
	pc := c.current()
	switch d.Type {
	case "offer":
		// Every m-line becomes a transceiver: refuse an offer with more
		// than a call could ever need (a verified peer may still be hostile).
		if n := mediaSections(d.SDP); n > maxMediaSections {
			c.log.Warn("peer: refusing an offer with too many media sections", "count", n, "max", maxMediaSections)
			c.neg.refusedOffers.Add(1)
			return
		}
		collision := pc.SignalingState() != webrtc.SignalingStateStable
		c.neg.ignoreOffer = !c.cfg.Polite && collision
		if c.neg.ignoreOffer {
			c.log.Debug("peer: offer collision, impolite side ignores the remote offer")
			return
		}
		if collision {
			// pion v4.2.26 cannot roll back a local offer (SetLocalDescription
			// rollback is rejected from have-local-offer). Before the first
			// exchange a rollback would return us to a fresh PeerConnection,
			// so build exactly that: a new generation with the same
			// certificate and a new session id, so the other side drops the
			// candidates of the abandoned offer.
			if pc.CurrentRemoteDescription() != nil {
				c.log.Error("peer: renegotiation offer collision cannot be resolved without rollback; dropping remote offer")
				return
			}
			c.log.Debug("peer: offer collision, polite side restarts its PeerConnection")
			old := pc
			c.mu.Lock()
			oldMux := c.mux
			c.mu.Unlock()
			if err := c.buildPC(); err != nil {
				c.log.Error("peer: rebuild PeerConnection", "err", err)
				c.finish(err)
				return
			}
			_ = old.Close()
			closeMux(oldMux)
			pc = c.current()
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: d.SDP}); err != nil {
			c.log.Warn("peer: set remote offer", "err", err)
			return
		}
		c.acceptRemoteSession(session, pc)
		answer, err := pc.CreateAnswer(nil)
		if err != nil {
			c.log.Warn("peer: create answer", "err", err)
			return
		}
		if err := pc.SetLocalDescription(answer); err != nil {
			c.log.Warn("peer: set local answer", "err", err)
			return
		}
		c.mu.Lock()
		local := c.session
		c.mu.Unlock()
		c.log.Debug("peer: sending answer")
		c.enqueueOut(protocol.Signal{Session: local, Description: &protocol.SessionDescription{Type: "answer", SDP: answer.SDP}})
	case "answer":
		if pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
			c.log.Debug("peer: dropping answer in state", "state", pc.SignalingState().String())
			return
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: d.SDP}); err != nil {
			c.log.Warn("peer: set remote answer", "err", err)
			return
		}
		c.acceptRemoteSession(session, pc)
	}
}

// acceptRemoteSession pins the remote session on the first applied
// description and applies the candidates buffered until then.
func (c *Conn) acceptRemoteSession(session string, pc *webrtc.PeerConnection) {
	if c.neg.remoteSession != "" {
		return
	}
	c.neg.remoteSession = session
	pending := c.neg.pendingCands
	c.neg.pendingCands = nil
	dropped := 0
	for _, s := range pending {
		if s.Session != session {
			dropped++
			continue
		}
		c.addCandidate(pc, s.Candidate)
	}
	if dropped > 0 {
		c.log.Debug("peer: dropped candidates of an abandoned remote session", "count", dropped)
	}
}

func (c *Conn) handleCandidate(s protocol.Signal) {
	if c.neg.remoteSession == "" {
		if len(c.neg.pendingCands) >= maxPendingCandidates {
			c.log.Warn("peer: too many early candidates, dropping one")
			return
		}
		c.neg.pendingCands = append(c.neg.pendingCands, s)
		return
	}
	if s.Session != c.neg.remoteSession {
		return
	}
	c.addCandidate(c.current(), s.Candidate)
}

func (c *Conn) addCandidate(pc *webrtc.PeerConnection, cand *protocol.ICECandidate) {
	err := pc.AddICECandidate(webrtc.ICECandidateInit{
		Candidate:        cand.Candidate,
		SDPMid:           cand.SDPMid,
		SDPMLineIndex:    cand.SDPMLineIndex,
		UsernameFragment: cand.UsernameFragment,
	})
	if err != nil && !c.neg.ignoreOffer {
		c.log.Debug("peer: add remote candidate", "err", err)
	}
}

// startNegotiateReader detaches the negotiate channel of generation gen
// once it opened (data channels are detached, see settingEngine) and
// reads it: the impolite side turns each request into an offer of its own.
func (c *Conn) startNegotiateReader(dc *webrtc.DataChannel, gen uint64) {
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
	c.neg.negRaw = raw
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		c.readNegotiate(gen, raw)
	}()
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
	c.neg.offerRequests++
	if c.neg.pendingRequest == nil || c.neg.pendingRequest.gen != gen {
		c.neg.pendingRequest = &offerRequest{gen: gen, kinds: map[webrtc.RTPCodecType]int{}}
	}
	for k, n := range kinds {
		c.neg.pendingRequest.kinds[k] = max(c.neg.pendingRequest.kinds[k], n)
	}
	c.mu.Unlock()
	select {
	case c.neg.requestNotify <- struct{}{}:
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
	case <-c.vfy.done:
	case <-c.ctx.Done():
		return
	}
	if c.vfy.err != nil {
		return
	}
	limit := rate.NewLimiter(rate.Every(offerRequestEvery), offerRequestBurst)
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.neg.requestNotify:
		}
		if err := limit.Wait(c.ctx); err != nil {
			return
		}
		c.mu.Lock()
		req, pc := c.neg.pendingRequest, c.pc
		c.neg.pendingRequest = nil
		c.mu.Unlock()
		if req == nil || !c.isCurrent(req.gen) {
			continue
		}
		c.neg.servedRequests.Add(1)
		c.log.Debug("peer: offer requested")
		c.addReceivers(pc, req.kinds)
		select {
		case c.neg.negNeeded <- req.gen:
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
		// One read: RemoveTrack clears the sender concurrently (pion's
		// setSendingTrack), and a second read could see nil.
		sender := tr.Sender()
		hasTrack := sender != nil && sender.Track() != nil
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
	raw, pc := c.neg.negRaw, c.pc
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
	case c.neg.negNeeded <- gen:
	default:
	}
}
