package call

import (
	"testing"
	"time"

	"github.com/parley-chat/parley/app/peer/peertest"
)

// TestCallSurvivesFivePercentLoss runs a video call through a proxy that
// drops 5% of the packets both ways: NACK, keyframe requests and the
// congestion controller keep the picture going (no long freeze, most
// frames decode) instead of freezing for good.
func TestCallSurvivesFivePercentLoss(t *testing.T) {
	p := peertest.New(t, peertest.WithLoss(0.05))
	a, b := newSides(t, p, testSources(640, 480))
	connect(t, a, b, true, true)
	// Counts, not rates (a CI machine loaded by the race detector may
	// need longer): 200 decoded frames and 400 audio packets each way
	// (8 s of voice), with at least 100 packets dropped on the way.
	enough := func(st Stats) bool { return st.VideoFramesDecoded >= 200 && st.AudioPacketsReceived >= 400 }
	peertest.Eventually(t, 40*time.Second, "200 frames and 400 audio packets each way through 100 losses", func() bool {
		return enough(a.m.Stats()) && enough(b.m.Stats()) && p.Proxy.Dropped() >= 100
	})
	t.Logf("proxy: %d packets passed, %d dropped", p.Proxy.Passed(), p.Proxy.Dropped())
	for name, s := range map[string]*side{"a": a, "b": b} {
		st := s.m.Stats()
		t.Logf("%s: decoded %d/%d frames, %.1f fps, %d freezes (%.0f ms in all, longest %.0f ms), %d keyframe requests, %d stamped frames lost, latency p50 %.0f ms p95 %.0f ms",
			name, st.VideoFramesDecoded, st.VideoFramesReceived, st.AvgFps, st.Freezes, st.FreezeMs, st.MaxFreezeMs, st.KeyframeRequests, st.FramesLost, st.LatencyP50Ms, st.LatencyP95Ms)
		if st.VideoFramesDecoded < 200 {
			t.Errorf("%s decoded only %d frames", name, st.VideoFramesDecoded)
		}
		if st.MaxFreezeMs > 2000 {
			t.Errorf("%s froze for %.0f ms", name, st.MaxFreezeMs)
		}
		if st.AudioPacketsReceived < 400 {
			t.Errorf("%s received %d audio packets", name, st.AudioPacketsReceived)
		}
	}
	a.m.HangUp()
	b.await(t, StateEnded)
}
