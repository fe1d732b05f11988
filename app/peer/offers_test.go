package peer_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/app/peer/peertest"
	"github.com/parley-chat/parley/signaling/protocol"
)

// flood is the biggest offer request a peer may send: 8 kinds.
const flood = "offer-please audio video audio video audio video audio video"

// TestOfferRequestsBeforeVerificationAreIgnored floods the negotiate channel
// of an impolite Conn from a peer that opened SCTP but never sent its tag:
// nothing it asks for may create a transceiver or an offer (it made 3,000
// transceivers with 200 requests before).
func TestOfferRequestsBeforeVerificationAreIgnored(t *testing.T) {
	t.Parallel()
	sa, _ := keyedSide(t) // sa is the impolite side, which serves requests
	c, raw := connectRaw(t, sa, 30*time.Second)
	raw.waitOpen(t) // SCTP is up; the tag never comes
	neg := raw.openChannel(t, peer.ChannelNegotiate)
	const n = 200
	for range n {
		if _, err := neg.Write([]byte(flood)); err != nil {
			t.Fatal(err)
		}
	}
	peertest.Eventually(t, 15*time.Second, "the Conn to read the whole flood", func() bool { return c.RequestsRead() == n })
	if got := transceivers(c); got != 0 {
		t.Fatalf("an unverified peer made %d transceivers", got)
	}
	if got := c.ServedRequests(); got != 0 {
		t.Fatalf("%d requests of an unverified peer were served", got)
	}
	if st := c.PC().SignalingState(); st != webrtc.SignalingStateStable {
		t.Fatalf("signaling state %s: an unverified peer's request started an offer", st)
	}
	pending, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Stream(pending, peer.ChannelChat); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream = %v: a verdict without a tag", err)
	}
}

// TestOfferRequestFloodAfterVerification floods the negotiate channel from a
// verified (but hostile) polite side for a second: the offers it gets are
// rate-limited, and the transceivers stay within peer.MaxMediaSections on both
// ends.
func TestOfferRequestFloodAfterVerification(t *testing.T) {
	t.Parallel()
	p, _, _ := verifiedPair(t)
	a, b := p.A, p.B
	var neg interface{ Write([]byte) (int, error) }
	peertest.Eventually(t, 10*time.Second, "the negotiate channel", func() bool {
		neg = b.NegotiateChannel()
		return neg != nil
	})

	start := time.Now()
	sent := 0
	for time.Since(start) < time.Second {
		if _, err := neg.Write([]byte(flood)); err != nil {
			t.Fatal(err)
		}
		sent++
		time.Sleep(2 * time.Millisecond)
	}
	peertest.Eventually(t, 15*time.Second, "a to read the whole flood", func() bool { return a.RequestsRead() == sent })
	// Every request is merged into the pending one until the limiter lets
	// it through: wait until the last one was served and negotiated.
	peertest.Eventually(t, 20*time.Second, "the requests to settle", func() bool {
		return !a.RequestPending() && a.ServedRequests() > 0 && settled(a, b)
	})
	elapsed := time.Since(start)
	served := a.ServedRequests()
	if limit := int64(peer.OfferRequestBurst) + int64(elapsed/peer.OfferRequestEvery) + 1; served > limit {
		t.Fatalf("%d of %d requests served in %s, rate limit allows %d", served, sent, elapsed, limit)
	}
	na, nb := transceivers(a), transceivers(b)
	if na > peer.MaxMediaSections || nb > peer.MaxMediaSections {
		t.Fatalf("transceivers a=%d b=%d, cap %d", na, nb, peer.MaxMediaSections)
	}
	t.Logf("%d requests in %s: %d served, %d transceivers", sent, elapsed, served, na)
}

// TestOfferWithTooManyMediaSectionsIsRefused has the impolite side offer
// more m-lines than allowed: the polite side refuses the offer and makes
// no transceiver for it.
func TestOfferWithTooManyMediaSectionsIsRefused(t *testing.T) {
	t.Parallel()
	p, _, _ := verifiedPair(t)
	a, b := p.A, p.B
	pc := a.PC() // past AddTrack's own cap, as a hostile peer would
	for range peer.MaxMediaSections + 1 {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	// a may offer a few of them before the rest are added (b accepts
	// that); the offer with all of them must be refused.
	peertest.Eventually(t, 10*time.Second, "b to refuse the offer", func() bool { return b.RefusedOffers() > 0 })
	if n := transceivers(b); n > peer.MaxMediaSections {
		t.Fatalf("b has %d transceivers, cap %d", n, peer.MaxMediaSections)
	}
}

// TestAddTrackCap: our own tracks stop at peer.MaxMediaSections with a clear
// error, so we never make an offer the peer must refuse.
func TestAddTrackCap(t *testing.T) {
	t.Parallel()
	sa, _ := keyedSide(t)
	c, err := peer.New(peer.Config{RoomID: peertest.Room, Secret: sa.secret, LocalKey: sa.key, PeerKey: sa.peerKey,
		SendSignal: func(protocol.Signal) error { return nil }, Logger: testLogger(), LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	for i := range peer.MaxMediaSections + 1 {
		tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "parley")
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.AddTrack(tr)
		switch {
		case i < peer.MaxMediaSections && err != nil:
			t.Fatalf("track %d: %v", i, err)
		case i == peer.MaxMediaSections && !errors.Is(err, peer.ErrTooManyTracks):
			t.Fatalf("track %d: %v, want ErrTooManyTracks", i, err)
		}
	}
}

// TestCallSequenceStaysUnderCap renegotiates what app/call does on one
// connection (a voice call, video on both sides, the polite side's camera
// off and on again, hang-up, then a second video call) and checks it
// settles with both sides agreeing, within peer.MaxMediaSections, and with an
// SDP that fits a signaling message.
func TestCallSequenceStaysUnderCap(t *testing.T) {
	t.Parallel()
	p, _, _ := verifiedPair(t)
	a, b := p.A, p.B
	senders := map[*peer.Conn][]*webrtc.RTPSender{}
	add := func(c *peer.Conn, kind string) {
		t.Helper()
		mime := webrtc.MimeTypeOpus
		if kind == "video" {
			mime = webrtc.MimeTypeVP8
		}
		tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: mime}, kind, "parley")
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.AddTrack(tr)
		if err != nil {
			t.Fatal(err)
		}
		senders[c] = append(senders[c], s)
	}
	remove := func(c *peer.Conn, kind string) {
		t.Helper()
		for i, s := range senders[c] {
			if s.Track() != nil && s.Track().Kind().String() == kind {
				if err := c.RemoveTrack(s); err != nil {
					t.Fatal(err)
				}
				senders[c] = append(senders[c][:i], senders[c][i+1:]...)
				return
			}
		}
		t.Fatalf("no %s track to remove", kind)
	}
	steps := []struct {
		name string
		do   func()
	}{
		{"voice call", func() { add(a, "audio"); add(b, "audio") }},
		{"video", func() { add(a, "video"); add(b, "video") }},
		{"camera off", func() { remove(b, "video") }},
		{"camera on", func() { add(b, "video") }},
		{"hang up", func() { remove(a, "audio"); remove(a, "video"); remove(b, "audio"); remove(b, "video") }},
		{"second video call", func() { add(b, "audio"); add(b, "video"); add(a, "audio"); add(a, "video") }},
	}
	for _, st := range steps {
		st.do()
		peertest.Eventually(t, 20*time.Second, "renegotiation after "+st.name, func() bool { return settled(a, b) })
		t.Logf("after %s: %d transceivers", st.name, transceivers(a))
	}
	if n := transceivers(a); n > peer.MaxMediaSections {
		t.Fatalf("%d transceivers, cap %d", n, peer.MaxMediaSections)
	}
	sdp, err := json.Marshal(protocol.Signal{Session: "x", Description: &protocol.SessionDescription{Type: "offer", SDP: a.PC().CurrentLocalDescription().SDP}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sdp) > protocol.DefaultMaxMessageBytes/2 {
		t.Fatalf("the offer is %d bytes: little margin under the %d-byte signaling limit", len(sdp), protocol.DefaultMaxMessageBytes)
	}
}

// settled reports that a and b finished renegotiating: both stable, every
// transceiver negotiated, the same count on both sides, and no track of
// either side waiting for an exchange.
func settled(a, b *peer.Conn) bool {
	for _, c := range []*peer.Conn{a, b} {
		pc := c.PC()
		if pc.SignalingState() != webrtc.SignalingStateStable || peer.NeedsOffer(pc) {
			return false
		}
		for _, tr := range pc.GetTransceivers() {
			if tr.Mid() == "" {
				return false
			}
		}
	}
	return transceivers(a) == transceivers(b)
}
