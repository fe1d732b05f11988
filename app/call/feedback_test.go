package call

import (
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/peer/peertest"
)

// TestCongestionControllerKeepsGettingFeedback: during a call the
// send-side estimator keeps taking in transport-wide feedback, which is
// what lets the sender follow the link. pion passes RTCP to its
// interceptors only when someone reads the sender's RTCP, and the
// receiver addresses each feedback to the SSRC of the last packet it saw,
// often the audio's; the audio sender's RTCP was never read. On loopback
// the video's share of the feedback is enough for this test to pass even
// without the audio reader (it takes about three times longer), so it
// guards the wiring, not that finding; the bench's logs show the finding
// (notes/calls.md).
func TestCongestionControllerKeepsGettingFeedback(t *testing.T) {
	p := peertest.New(t)
	// The test card: few video packets, so most feedback names the audio.
	a, b := newSides(t, p, testSources(640, 480))
	connect(t, a, b, true, true)
	seen := map[string]bool{}
	// Sampled every 100 ms (a state between two samples is not seen).
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for len(seen) < 20 {
		st := p.A.BandwidthStats()
		seen[fmt.Sprint(st["delayMeasurement"], st["delayEstimate"], st["lossTargetBitrate"])] = true
		select {
		case <-deadline:
			t.Fatalf("the estimator's state changed %d times in 20 s of call; want 20 (stats now %v)", len(seen), p.A.BandwidthStats())
		case <-tick.C:
		}
	}
	a.m.HangUp()
	b.await(t, StateEnded)
}
