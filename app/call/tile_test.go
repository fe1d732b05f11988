package call

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/peer/peertest"
)

// TestManyCallsStayUnderTheMediaSectionCap runs many calls on one
// connection, each with the camera turned off and on and the screen
// shared and stopped on both sides: the media sections (m-lines) stay
// far under app/peer's cap of 16 through all of them, and a last call
// still carries video both ways. Before the senders were kept for the
// connection, every call and every camera turned back on added m-lines
// (18 by the second call), and the connection refused new tracks after
// 3-4 calls; growing by even one every second call would pass the bound
// here by the 12th.
//
// The count itself is not the same from run to run: each side's three
// senders get m-lines in the first call, and how many that takes depends
// on how the two sides' additions cross (a polite side's sender can ride
// on an m-line the other side offered for its own, and an offer request
// that arrives after its senders were placed adds a spare receive-only
// m-line: between 3 and about 9 in all). Requests are rate-limited, so
// a spare one can also appear a call or two later than the first (CI
// saw 5, 6, then 7 for the rest of the run).
func TestManyCallsStayUnderTheMediaSectionCap(t *testing.T) {
	const (
		calls               = 20
		maxSectionsForCalls = 10
	)
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
			if _, err := s.m.ShareScreen(d, ScreenTarget{}); err != nil {
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
		if n > maxSectionsForCalls {
			t.Fatalf("%d media sections after call %d (%v), want at most %d", n, i+1, after, maxSectionsForCalls)
		}
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

// frameLog records what a viewer decoded, screen and camera apart.
type frameLog struct {
	mu                     sync.Mutex
	screens, cameras       int
	screenSize, cameraSize string
	screenMatched          bool // a screen frame showed the block pattern
}

func (l *frameLog) add(f decodedFrame) {
	l.mu.Lock()
	defer l.mu.Unlock()
	size := fmt.Sprintf("%dx%d", f.width, f.height)
	if f.screen {
		l.screens++
		l.screenSize = size
		if blockLumaError(f.y, f.stride, f.width, f.height) <= 12 {
			l.screenMatched = true
		}
		return
	}
	l.cameras++
	l.cameraSize = size
}

func (l *frameLog) get() (screens, cameras int, screenSize, cameraSize string, matched bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.screens, l.cameras, l.screenSize, l.cameraSize, l.screenMatched
}

// TestScreenWithCameraTile shares a 1280x720 Xvfb screen with the camera
// (640x480 test card) on, between two real pion peers: the viewer decodes
// the screen at full size, showing the screen's pattern, and the camera
// as a 320x240 tile, each told apart by its track; the camera turned off
// mid-share ends the tile while the screen goes on; turned on again, the
// tile is back; stopping the share brings the camera back full size.
// With an older peer on either side (no Tile in its control messages, one
// video track named "video"), the screen replaces the camera while it is
// shared and the viewer still knows it is a screen.
func TestScreenWithCameraTile(t *testing.T) {
	d := screenWithPattern(t, 1280, 720)
	for _, tc := range []struct {
		name                     string
		olderSharer, olderViewer bool
	}{
		{name: "both tile"},
		{name: "older viewer", olderViewer: true},
		{name: "older sharer", olderSharer: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tile := !tc.olderSharer && !tc.olderViewer
			p := peertest.New(t)
			var log frameLog
			cam := Sources{Video: SourceTestVideo, Audio: SourceTestAudio, Width: 640, Height: 480, FPS: 30}
			a, b := newSidesConf(t, p, cam, Sources{Video: SourceNone, Audio: SourceTestAudio}, log.add, func(side int, c *Config) {
				c.olderPeerForTest = side == 0 && tc.olderSharer || side == 1 && tc.olderViewer
			})
			waitFor := func(what string, ok func() bool) {
				t.Helper()
				waitSaying(t, 30*time.Second, what, ok, func() string {
					s, c, ss, cs, m := log.get()
					return fmt.Sprintf("%d screen frames (last %s, pattern seen %v), %d camera frames (last %s), viewer %+v", s, ss, m, c, cs, b.m.View())
				})
			}
			connect(t, a, b, true, false)
			waitFor("the camera full size", func() bool {
				_, c, _, cs, _ := log.get()
				return c > 0 && cs == "640x480"
			})

			v, err := a.m.ShareScreen(d, ScreenTarget{})
			if err != nil || !v.Screen || v.LocalCamera != tile {
				t.Fatalf("ShareScreen: %+v, %v", v, err)
			}
			waitFor("the screen at full size", func() bool {
				_, _, ss, _, m := log.get()
				bv := b.m.View()
				return ss == "1280x720" && m && bv.RemoteScreen && bv.RemoteCamera == tile
			})
			if tile {
				_, c0, _, _, _ := log.get()
				waitFor("the camera as a 320x240 tile", func() bool {
					_, c, _, cs, _ := log.get()
					return c > c0+10 && cs == "320x240"
				})
				if st := b.m.Stats(); st.Width != 1280 || st.Height != 720 || st.TileWidth != 320 || st.TileHeight != 240 {
					t.Fatalf("viewer stats: main %dx%d, tile %dx%d", st.Width, st.Height, st.TileWidth, st.TileHeight)
				}
				if _, err := a.m.SetCamera(false); err != nil {
					t.Fatal(err)
				}
				waitFor("the tile to end", func() bool { bv := b.m.View(); return !bv.RemoteCamera && bv.RemoteScreen })
			}
			// No camera frames (beyond those already on the way) while the
			// screen goes on.
			s0, c0, _, _, _ := log.get()
			waitFor("two more screen frames", func() bool { s, _, _, _, _ := log.get(); return s >= s0+2 })
			if _, c, _, _, _ := log.get(); c > c0+5 {
				t.Fatalf("%d camera frames decoded after the camera left the stage", c-c0)
			}
			if tile {
				if _, err := a.m.SetCamera(true); err != nil {
					t.Fatal(err)
				}
				_, c1, _, _, _ := log.get()
				waitFor("the tile back", func() bool {
					_, c, _, cs, _ := log.get()
					return b.m.View().RemoteCamera && c > c1+10 && cs == "320x240"
				})
			}

			if v := a.m.StopScreenShare(); v.Screen || !v.LocalCamera {
				t.Fatalf("StopScreenShare: %+v", v)
			}
			_, c2, _, _, _ := log.get()
			waitFor("the camera back full size", func() bool {
				_, c, _, cs, _ := log.get()
				bv := b.m.View()
				return !bv.RemoteScreen && bv.RemoteCamera && c > c2+10 && cs == "640x480"
			})
			a.m.HangUp()
			b.await(t, StateEnded)
		})
	}
}
