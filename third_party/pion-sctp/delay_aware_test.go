// SPDX-FileCopyrightText: 2026 The Parley authors
// SPDX-License-Identifier: MIT

package sctp

import (
	"testing"
	"time"

	"github.com/pion/logging"
)

func delayAssoc() *Association {
	a := &Association{log: logging.NewDefaultLoggerFactory().NewLogger("sctp")}
	a.setCWND(100 * 1200)
	a.ssthresh = 1 << 30
	a.myNextTSN = 1000
	a.srtt.Store(float64(40)) // ms

	return a
}

// ack feeds n chunks, sent once, acknowledged 10 ms apart with round trip
// rtt.
func ack(a *Association, tsn *uint32, n int, now *time.Time, rtt time.Duration) {
	for range n {
		*now = now.Add(10 * time.Millisecond)
		a.delaySample(&chunkPayloadData{tsn: *tsn, nSent: 1, since: now.Add(-rtt)}, *now)
		*tsn++
		a.myNextTSN = *tsn + 100
	}
}

func TestDelayAwareLossResponse(t *testing.T) {
	now := time.Unix(1000, 0)
	tsn := uint32(1)

	// No samples yet: every loss is congestion (RFC behaviour).
	a := delayAssoc()
	if !a.delayLossIsCongestion(tsn, now) {
		t.Fatal("a loss before any round trip was measured did not count")
	}

	// An empty path (round trips at the minimum): a random loss is repaired
	// without a cut, and slow start goes on.
	ack(a, &tsn, 50, &now, 40*time.Millisecond)
	if a.delayLossIsCongestion(tsn, now) {
		t.Fatal("a loss on an empty path counted as congestion")
	}
	if a.ssthresh != 1<<30 {
		t.Fatalf("slow start ended without a queue: ssthresh %d", a.ssthresh)
	}

	// One late acknowledgement is jitter, not a queue.
	ack(a, &tsn, 1, &now, 200*time.Millisecond)
	if a.delayLossIsCongestion(tsn, now) {
		t.Fatal("one late acknowledgement counted as a queue")
	}

	// A standing queue (every recent round trip 20 ms above the minimum):
	// slow start ends at the current window and a loss cuts it.
	ack(a, &tsn, delayRecentSamples, &now, 60*time.Millisecond)
	if a.ssthresh != a.CWND() {
		t.Fatalf("slow start did not end on a queue: cwnd %d ssthresh %d", a.CWND(), a.ssthresh)
	}
	if !a.delayLossIsCongestion(tsn, now) {
		t.Fatal("a loss on a queued path did not count")
	}

	// Losses too thick to be random count whatever the delay says.
	ack(a, &tsn, delayRecentSamples, &now, 40*time.Millisecond)
	a.delay.roundAcked, a.delay.roundLost = 100, 0
	for range 100/delayLossyDivisor + delayLossySlack + 1 {
		a.delayLoss()
	}
	if !a.delayLossIsCongestion(tsn, now) {
		t.Fatal("a burst of losses on an empty path did not count")
	}

	// After a timeout, losses of data sent before it do not cut again.
	b := delayAssoc()
	tsn = 1
	ack(b, &tsn, 50, &now, 40*time.Millisecond)
	ack(b, &tsn, delayRecentSamples, &now, 60*time.Millisecond)
	b.myNextTSN = 500
	b.delayOnRTO()
	if b.delayLossIsCongestion(400, now) {
		t.Fatal("a loss of data sent before the timeout cut the window again")
	}
	if !b.delayLossIsCongestion(600, now) {
		t.Fatal("a loss after the timeout on a queued path did not count")
	}
}
