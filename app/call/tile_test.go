package call

import (
	"testing"
	"time"

	"github.com/parley-chat/parley/app/peer/peertest"
)

// TestManyCallsStayUnderTheMediaSectionCap runs many calls on one
// connection, each with the camera turned off and on and the screen
// shared and stopped on both sides: the media sections (m-lines) stop
// growing after the first call, stay far under app/peer's cap of 16,
// and a last call still carries video both ways. Before the senders were
// kept for the connection, every call and every camera turned back on
// added m-lines, and the connection refused new tracks after 3-4 calls.
func TestManyCallsStayUnderTheMediaSectionCap(t *testing.T) {
	const calls = 20
	d := screenWithPattern(t, 640, 360)
	p := peertest.New(t)
	a, b := newSides(t, p, testSources(320, 240))
	sections := func() int { return max(p.A.MediaSections(), p.B.MediaSections()) }
	var after []int
	for i := range calls {
		caller, callee := a, b
		if i%2 == 1 {
			caller, callee = b, a
		}
		connect(t, caller, callee, true, true)
		for _, s := range []*side{caller, callee} {
			if _, err := s.m.SetCamera(false); err != nil {
				t.Fatal(err)
			}
			if _, err := s.m.SetCamera(true); err != nil {
				t.Fatal(err)
			}
			if _, err := s.m.ShareScreen(d, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := s.m.SetCamera(false); err != nil {
				t.Fatal(err)
			}
			if _, err := s.m.SetCamera(true); err != nil {
				t.Fatal(err)
			}
			s.m.StopScreenShare()
		}
		caller.m.HangUp()
		caller.await(t, StateEnded)
		callee.await(t, StateEnded)
		after = append(after, sections())
	}
	t.Logf("media sections after each call: %v", after)
	for i, n := range after {
		if n > 10 {
			t.Fatalf("%d media sections after call %d (%v)", n, i+1, after)
		}
	}
	if after[len(after)-1] > after[1] {
		t.Fatalf("media sections still grow after the second call: %v", after)
	}
	// The last call carries video both ways.
	ba, bb := a.m.Stats().VideoFramesDecoded, b.m.Stats().VideoFramesDecoded
	connect(t, a, b, true, true)
	peertest.Eventually(t, 20*time.Second, "30 new frames decoded both ways", func() bool {
		return a.m.Stats().VideoFramesDecoded >= ba+30 && b.m.Stats().VideoFramesDecoded >= bb+30
	})
	a.m.HangUp()
	a.await(t, StateEnded)
	b.await(t, StateEnded)
}
