package peer

import (
	"io"
	"time"

	"github.com/pion/webrtc/v4"
)

// Test-only access for the external tests (package peer_test), which use
// the peertest kit: see the peertest package doc for why they are
// external. Nothing here is compiled into the package itself.

var (
	ComputeTag     = computeTag
	TagFrame       = tagFrame
	NewCertificate = newCertificate
	NeedsOffer     = needsOffer
)

const (
	CloseDrainWait    = closeDrainWait
	MaxMediaSections  = maxMediaSections
	OfferRequestBurst = offerRequestBurst
	OfferRequestEvery = offerRequestEvery
)

// WithVerifyAfterConnect sets the test-only bound on verification after
// the connection came up.
func WithVerifyAfterConnect(cfg Config, d time.Duration) Config {
	cfg.verifyAfterConnect = d
	return cfg
}

// Generation is the number of PeerConnections built so far (a rebuild
// after an offer collision makes it 2).
func (c *Conn) Generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// PC is the current PeerConnection.
func (c *Conn) PC() *webrtc.PeerConnection { return c.current() }

// RequestsRead is how many well-formed offer requests c has read.
func (c *Conn) RequestsRead() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.neg.offerRequests
}

// ServedRequests is how many offer requests c turned into offers.
func (c *Conn) ServedRequests() int64 { return c.neg.servedRequests.Load() }

// RefusedOffers is how many remote offers c refused for too many m-lines.
func (c *Conn) RefusedOffers() int64 { return c.neg.refusedOffers.Load() }

// RequestPending reports a merged offer request not yet served.
func (c *Conn) RequestPending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.neg.pendingRequest != nil
}

// NegotiateChannel is the detached negotiate channel, nil until it opened.
func (c *Conn) NegotiateChannel() io.Writer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.neg.negRaw == nil {
		return nil
	}
	return c.neg.negRaw
}
