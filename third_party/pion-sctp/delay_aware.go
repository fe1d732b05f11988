// SPDX-FileCopyrightText: 2026 The Parley authors
// SPDX-License-Identifier: MIT

// Parley's patch to pion/sctp (see PATCH.md beside this file): a
// delay-aware loss response for paths with random loss.
//
// Reno halves its window at every loss. On a path that loses packets at
// random (Wi-Fi, a long lossy route) that caps one flow at the Mathis
// bound, about 0.5 MB/s at 0.5% loss and 40 ms, whatever the link's rate.
// A loss is a congestion signal only when the bottleneck queue is full,
// and a full queue shows as round trips well above the path's minimum.
// So the window is cut for a loss only when the recent round trips show a
// standing queue, or when losses come too thick to be random; a loss on
// an empty path is repaired without a cut. Slow start ends when the queue
// starts to grow (so it does not overshoot the link by megabytes), and
// losses of data sent before a retransmission timeout do not cut the
// window a second time.
//
// Against a loss-based flow such as TCP CUBIC on the same link the queue
// is rarely empty, so every loss counts and the association behaves as
// Reno did before the patch: it takes no more than its share.

package sctp

import "time"

const (
	// delayRecentSamples is how many of the newest round-trip samples must
	// all lie above the threshold before the path counts as queued (one
	// late acknowledgement on a busy host is not a queue).
	delayRecentSamples = 8
	// delayMinThreshold is the smallest queueing delay taken as a queue.
	delayMinThreshold = 4 * time.Millisecond
	// delayMinWindow is how long the path's minimum round trip is kept.
	delayMinWindow = 30 * time.Second
	// delayLossyDivisor: more than one loss per this many packets
	// acknowledged in a round (plus delayLossySlack) is congestion
	// whatever the delay says: a shallow queue that overflows without
	// ever showing delay is still a full queue.
	delayLossyDivisor = 50
	delayLossySlack   = 2
)

// delayState is the association's delay-aware congestion state. The
// association's lock guards it.
type delayState struct {
	base       *windowedMin
	lastRTT    *windowedMin // samples of about the last round trip
	recent     [delayRecentSamples]time.Duration
	nRecent    int
	next       int
	roundEnd   uint32
	roundAcked int
	roundLost  int
	rtoRecover uint32 // losses below this TSN follow a timeout: no second cut
	afterRTO   bool
}

// delaySample records the round trip of a newly acknowledged chunk sent
// once (Karn's rule: a retransmitted chunk's round trip is ambiguous).
func (a *Association) delaySample(c *chunkPayloadData, now time.Time) {
	d := &a.delay
	if d.base == nil {
		d.base = newWindowedMin(delayMinWindow)
		d.lastRTT = newWindowedMin(time.Second)
	}
	if sna32GTE(c.tsn, d.roundEnd) {
		d.roundEnd = a.myNextTSN
		d.roundAcked, d.roundLost = 0, 0
	}
	d.roundAcked++
	if c.nSent != 1 {
		return
	}
	rtt := now.Sub(c.since)
	if rtt <= 0 {
		return
	}
	d.base.Push(now, rtt)
	// The window of lastRTT follows the smoothed round trip.
	if srtt := time.Duration(a.SRTT() * float64(time.Millisecond)); srtt > 0 {
		d.lastRTT.rackMinRTTWnd = max(srtt, 10*time.Millisecond)
	}
	d.lastRTT.Push(now, rtt)
	d.recent[d.next] = rtt
	d.next = (d.next + 1) % delayRecentSamples
	if d.nRecent < delayRecentSamples {
		d.nRecent++
	}
	// Slow start ends once the queue grows: the window then exceeds the
	// path's bandwidth-delay product and doubling again would overflow it.
	if queued, known := a.delayQueued(now); known && queued && a.CWND() <= a.ssthresh && !a.inFastRecovery {
		a.ssthresh = a.CWND()
		a.log.Tracef("[%s] updated cwnd=%d ssthresh=%d (delay: slow start ends)", a.name, a.CWND(), a.ssthresh)
	}
}

// delayQueued reports whether the newest round trips all show a standing
// queue, and whether there were enough of them to tell.
func (a *Association) delayQueued(now time.Time) (queued, known bool) {
	d := &a.delay
	if d.base == nil || d.nRecent < delayRecentSamples {
		return false, false
	}
	base := d.base.Min(now)
	if base <= 0 {
		return false, false
	}
	return d.recentMin(now) > base+max(base/4, delayMinThreshold), true
}

// recentMin is the least round trip among the newest delayRecentSamples
// and those of about the last round trip: one slow acknowledgement, or a
// few in a row on a busy host, does not make a queue; a standing queue
// delays every packet of a round.
func (d *delayState) recentMin(now time.Time) time.Duration {
	m := d.recent[0]
	for _, r := range d.recent[1:] {
		m = min(m, r)
	}
	if d.lastRTT != nil && d.lastRTT.Len() > 0 {
		m = min(m, d.lastRTT.Min(now))
	}

	return m
}

// delayLoss counts a loss towards this round's loss rate.
func (a *Association) delayLoss() {
	a.delay.roundLost++
}

// delayLossIsCongestion decides whether the loss of tsn, which starts a
// fast recovery, cuts the window.
func (a *Association) delayLossIsCongestion(tsn uint32, now time.Time) bool {
	d := &a.delay
	if d.afterRTO && sna32LT(tsn, d.rtoRecover) {
		// Sent before the timeout, which already cut the window.
		return false
	}
	d.afterRTO = false
	if d.roundLost > d.roundAcked/delayLossyDivisor+delayLossySlack {
		a.log.Tracef("[%s] loss is congestion: %d lost of %d this round", a.name, d.roundLost, d.roundAcked)

		return true
	}
	// Without enough samples to tell, a loss counts (RFC behaviour).
	queued, known := a.delayQueued(now)
	if d.base != nil {
		a.log.Tracef("[%s] loss: queued=%v known=%v recent-min=%v base=%v", a.name, queued, known, d.recentMin(now), d.base.Min(now))
	}

	return queued || !known
}

// delayGrowth is the congestion-avoidance growth, in bytes, beyond
// Reno's for a SACK that acknowledged acked bytes: a quarter of them while
// the newest round trips show no queue at all (under half the threshold),
// none otherwise. This is HyStart++'s conservative slow start kept for as
// long as the path stays empty; a flow sharing the link keeps the queue
// up, and then the growth is Reno's.
func (a *Association) delayGrowth(acked int) uint32 {
	if a.inFastRecovery || acked <= 0 {
		return 0
	}
	d := &a.delay
	if d.base == nil || d.nRecent < delayRecentSamples {
		return 0
	}
	now := time.Now()
	base := d.base.Min(now)
	if base <= 0 || d.recentMin(now) > base+max(base/4, delayMinThreshold)/2 {
		return 0
	}

	return uint32(acked / 4) //nolint:gosec // acked is one SACK's bytes
}

// delayOnRTO remembers the timeout so that losses of the data in flight
// at that moment do not cut the window again.
func (a *Association) delayOnRTO() {
	a.delay.rtoRecover = a.myNextTSN
	a.delay.afterRTO = true
	// The round trips before a timeout say nothing about the path after it
	// (and stale ones would end the new slow start at one packet).
	a.delay.nRecent, a.delay.next = 0, 0
	if a.delay.lastRTT != nil {
		a.delay.lastRTT = newWindowedMin(a.delay.lastRTT.rackMinRTTWnd)
	}
}
