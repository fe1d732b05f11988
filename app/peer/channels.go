package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/pion/webrtc/v4"
)

// ChannelID is the SCTP stream id of one of the pre-negotiated data
// channels. Both sides create every channel with the same id on each
// PeerConnection, so no in-band open handshake is needed and there is no
// open race: a message sent the moment the peer is verified finds the
// channel there on the other side.
type ChannelID uint16

// The pre-negotiated channels (see channels for their labels and limits).
// The numbers are on the wire: never renumber them.
const (
	// ChannelChat carries the verification tags, then the chat protocol.
	ChannelChat ChannelID = 0
	// ChannelFiles carries file transfers (app/transfer), with large
	// messages for throughput.
	ChannelFiles ChannelID = 2
	// ChannelNegotiate carries renegotiation requests from the polite side
	// to the impolite side (see the package doc). This package reads and
	// writes it itself; Stream does not hand it out.
	ChannelNegotiate ChannelID = 4
	// ChannelCall carries call control (app/call).
	ChannelCall ChannelID = 6
)

// channelSpec is what both sides agree on for one channel.
type channelSpec struct {
	label string
	// maxWrite is the largest SCTP message a Write sends; bigger writes
	// are split. It must not exceed maxReadMessage.
	maxWrite int
	// withVerification: the channel must open as part of verification (a
	// connection whose channel never opens fails verification), and its
	// stream is ready when the verdict is in.
	withVerification bool
	// drain: Close waits (up to closeDrainWait) until what was written
	// on it is acknowledged.
	drain bool
}

// channels is the table of pre-negotiated channels (read-only), created
// on every PeerConnection generation in channelOrder.
var channels = map[ChannelID]channelSpec{
	ChannelChat:      {label: "parley-chat", maxWrite: chatWriteMessage, withVerification: true, drain: true},
	ChannelFiles:     {label: "parley-files", maxWrite: filesWriteMessage, withVerification: true, drain: true},
	ChannelNegotiate: {label: "parley-negotiate", maxWrite: negotiateReadMax},
	ChannelCall:      {label: "parley-call", maxWrite: chatWriteMessage},
}

// channelOrder fixes the creation order (map iteration is random).
var channelOrder = []ChannelID{ChannelChat, ChannelFiles, ChannelCall, ChannelNegotiate}

// String is the channel's label.
func (id ChannelID) String() string {
	if s, ok := channels[id]; ok {
		return s.label
	}
	return fmt.Sprintf("channel-%d", uint16(id))
}

// channel is the state of one pre-negotiated channel across PeerConnection
// generations.
type channel struct {
	id   ChannelID
	spec channelSpec
	// opened receives the current generation's channel once it opens.
	opened chan *webrtc.DataChannel

	// attach serializes Stream calls that open the channel, so a second
	// caller waits for the first and gets the same stream.
	attach sync.Mutex

	// Guarded by Conn.mu.
	dc     *webrtc.DataChannel // of the current generation
	stream io.ReadWriteCloser  // once detached and handed out
}

func newChannels() map[ChannelID]*channel {
	m := make(map[ChannelID]*channel, len(channels))
	for id, spec := range channels {
		m[id] = &channel{id: id, spec: spec, opened: make(chan *webrtc.DataChannel, 1)}
	}
	return m
}

// createChannels creates the pre-negotiated channels on pc (generation
// gen) and records them as current.
func (c *Conn) createChannels(pc *webrtc.PeerConnection, gen uint64) error {
	for _, id := range channelOrder {
		ch := c.chans[id]
		negotiated, ordered := true, true
		sid := uint16(id)
		dc, err := pc.CreateDataChannel(ch.spec.label, &webrtc.DataChannelInit{
			Negotiated: &negotiated, ID: &sid, Ordered: &ordered,
		})
		if err != nil {
			return fmt.Errorf("peer: create channel %s: %w", ch.spec.label, err)
		}
		dc.OnOpen(func() {
			if !c.isCurrent(gen) {
				return
			}
			if id == ChannelNegotiate {
				c.startNegotiateReader(dc, gen)
				return
			}
			select {
			case ch.opened <- dc:
			default:
			}
		})
		c.mu.Lock()
		ch.dc = dc
		c.mu.Unlock()
	}
	return nil
}

// Stream returns the pre-negotiated channel id as a byte stream (Read
// serves one SCTP message in parts, Write splits into messages), once the
// peer is verified: nothing is ever read or written on a channel before
// both verification tags checked out. It waits for the verdict (ctx bounds
// the wait) and returns it: an error wrapping ErrVerifyFailed when the
// peer failed verification, ErrConnectionFailed, or ErrClosed; the
// verdict is kept after Close, so a caller that was cut short can still
// learn that someone was in the middle. After a successful verification,
// Stream returns ErrClosed once Close was called.
//
// Every call for the same id returns the same stream. ChannelChat and
// ChannelFiles are ready with the verdict; ChannelCall opens on first use
// (ctx bounds that wait too). ChannelNegotiate and unknown ids are
// refused.
func (c *Conn) Stream(ctx context.Context, id ChannelID) (io.ReadWriteCloser, error) {
	ch, ok := c.chans[id]
	if !ok || id == ChannelNegotiate {
		return nil, fmt.Errorf("peer: no stream for channel %d", uint16(id))
	}
	select {
	case <-c.vfy.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if c.vfy.err != nil {
		return nil, c.vfy.err
	}
	c.mu.Lock()
	closed, s := c.closed, ch.stream
	c.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case s != nil:
		return s, nil
	}
	st, err := c.attach(ctx, ch)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return st, nil
}

// attach waits (ctx and Close bound the wait) for ch to open on the
// current generation, detaches it and records its stream. Concurrent
// callers get the same stream.
func (c *Conn) attach(ctx context.Context, ch *channel) (*stream, error) {
	ch.attach.Lock()
	defer ch.attach.Unlock()
	c.mu.Lock()
	s := ch.stream
	c.mu.Unlock()
	if st, ok := s.(*stream); ok {
		return st, nil
	}
	var dc *webrtc.DataChannel
	select {
	case dc = <-ch.opened:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, ErrClosed
	}
	raw, err := dc.Detach()
	if err != nil {
		return nil, fmt.Errorf("peer: detach %s channel: %w", ch.spec.label, err)
	}
	st := newStream(dc, raw, ch.spec.maxWrite)
	c.mu.Lock()
	ch.stream = st
	c.mu.Unlock()
	return st, nil
}

// attachForVerification opens a withVerification channel other than chat
// during verification, bounded by VerifyTimeout.
func (c *Conn) attachForVerification(ch *channel) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.VerifyTimeout)
	defer cancel()
	_, err := c.attach(ctx, ch)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("peer: %s channel did not open within %s", ch.spec.label, c.cfg.VerifyTimeout)
	}
	return err
}

// drainChannels lists the current generation's channels Close drains.
// The caller holds c.mu.
func (c *Conn) drainChannelsLocked() []*webrtc.DataChannel {
	var dcs []*webrtc.DataChannel
	for _, id := range channelOrder {
		if ch := c.chans[id]; ch.spec.drain {
			dcs = append(dcs, ch.dc)
		}
	}
	return dcs
}
