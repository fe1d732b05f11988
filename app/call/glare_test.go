package call

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/app/peer/peertest"
)

// TestScreenAndTileWhenBothCallAtOnce is parley-cli's screen-and-camera
// call (TestScreenShareBetweenTwoCLIs in app/e2e) at the call level: one
// side shares a screen with its camera as a tile, the other sends only
// its voice, and both press call at the same moment (the call glare of
// offerLocked), with the sharer impolite or polite. The viewer decodes
// the screen as its main video and the camera as the tile.
//
// Then the viewer's call ends first (parley-cli --duration ran out on its
// side) while the sharer, which has not yet heard of it, goes on sending:
// the camera frames still on the way are the ended call's tile, not its
// main video. They were counted as the main video once the call ended
// (endLocked forgot that the peer shared), so the viewer's last "main"
// frame was a 320x240 tile frame: TestScreenShareBetweenTwoCLIs failed
// once in CI with "call video: 320x240" instead of the screen's size. The
// test ends the viewer's call without telling the sharer, which holds
// that window open for as long as the test needs.
//
// A next call starts with no screen: the sharer's camera, alone, is the
// main video again.
func TestScreenAndTileWhenBothCallAtOnce(t *testing.T) {
	d := screenWithPattern(t, 1920, 1080)
	for _, sharerPolite := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharer polite %v", sharerPolite), func(t *testing.T) {
			p := peertest.New(t, peertest.Configure(func(side int, c *peer.Config) { c.Polite = (side == 0) == sharerPolite }))
			var log frameLog
			sharer := Sources{Video: SourceScreen, Display: d, Camera: SourceTestVideo, Audio: SourceTestAudio, Width: 640, Height: 480, FPS: 30}
			a, b := newSidesWith(t, p, sharer, Sources{Video: SourceNone, Audio: SourceTestAudio}, log.add)
			state := func() string {
				s, c, ss, cs, m := log.get()
				return fmt.Sprintf("%d screen frames (last %s, pattern %v), %d camera frames (last %s); viewer %+v, stats %+v; sharer %+v", s, ss, m, c, cs, b.m.View(), b.m.Stats(), a.m.View())
			}

			var wg sync.WaitGroup
			errs := make(chan error, 2)
			for _, s := range []struct {
				side  *side
				video bool
			}{{a, true}, {b, false}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := s.side.m.Start(s.video); err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			a.await(t, StateActive)
			b.await(t, StateActive)
			waitSaying(t, 20*time.Second, "screen and tile frames", func() bool {
				s, c, _, cs, _ := log.get()
				return s >= 3 && c >= 10 && cs == "320x240"
			}, state)
			_, _, screenSize, _, _ := log.get()
			main := func(st Stats) string { return fmt.Sprintf("%dx%d", st.Width, st.Height) }
			if got := main(b.m.Stats()); got != screenSize {
				t.Fatalf("viewer's main video %s, want the screen's %s: %s", got, screenSize, state())
			}

			// The viewer's call ends; the sharer does not know yet.
			b.m.mu.Lock()
			b.m.endLocked("")
			b.m.mu.Unlock()
			b.await(t, StateEnded)
			_, c0, _, _, _ := log.get()
			waitSaying(t, 10*time.Second, "camera frames after the viewer's call ended", func() bool {
				_, c, _, _, _ := log.get()
				return c >= c0+5
			}, state)
			if st := b.m.Stats(); main(st) != screenSize {
				t.Fatalf("after the call ended the viewer's main video is %s, want the screen's %s: the ended call's tile frames were taken for its main video (%s)", main(st), screenSize, state())
			}
			a.m.HangUp()
			a.await(t, StateEnded)

			// The next call: the camera alone is the main video.
			connect(t, a, b, false, false)
			if _, err := a.m.SetCamera(true); err != nil {
				t.Fatal(err)
			}
			st0 := b.m.Stats()
			waitSaying(t, 20*time.Second, "the camera as the main video", func() bool {
				st := b.m.Stats()
				return st.VideoFramesDecoded-st.TileFramesDecoded >= st0.VideoFramesDecoded-st0.TileFramesDecoded+10
			}, state)
			if st := b.m.Stats(); st.TileFramesDecoded > st0.TileFramesDecoded+5 {
				t.Fatalf("%d camera frames of a call without a screen counted as the tile", st.TileFramesDecoded-st0.TileFramesDecoded)
			}
			a.m.HangUp()
			a.await(t, StateEnded)
			b.await(t, StateEnded)
		})
	}
}
