package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/xvfbtest"
)

// Alice shares a 1920x1080 Xvfb screen (call --video screen) with Bob
// through a real parley-signal; Bob's parley-cli decodes the screen at its
// full size and says so (call video: 1920x1080), and the stats JSON line
// keeps its six keys. With --camera testsrc, Alice's camera comes beside
// the screen as a tile, and Bob decodes it at tile size (call tile:
// 320x240) while the main video stays the screen.
func TestScreenShareBetweenTwoCLIs(t *testing.T) {
	display := xvfbtest.Start(t, 1920, 1080)
	xvfbtest.Paint(t, display, xvfbtest.Blocks(1920, 1080, 8, 4))
	server := startSignal(t)
	for _, tc := range []struct {
		name  string
		extra []string
		tile  bool
	}{
		{name: "screen"},
		{name: "screen and camera tile", extra: []string{"--camera", "testsrc", "--size", "640x480"}, tile: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice, bob := newUser(t, "alice"), newUser(t, "bob")
			alice.extraEnv = []string{"DISPLAY=" + display}
			bob.extraEnv = []string{"DISPLAY="} // Bob shares nothing: no display needed
			link := strings.TrimSpace(alice.mustRun("create", "--server", server))
			a := alice.start(nil, append([]string{"call", link, "--video", "screen", "--audio", "sine", "--duration", "6s", "--stats"}, tc.extra...)...)
			b := bob.start(nil, "call", link, "--video", "none", "--audio", "sine", "--duration", "6s", "--stats")
			for name, p := range map[string]*proc{"alice": a, "bob": b} {
				if code := p.Wait(60 * time.Second); code != 0 {
					t.Fatalf("%s's call exited %d:\n%s", name, code, p.StderrText())
				}
			}
			st := parseCallStats(t, "bob", b.Line(time.Second))
			t.Logf("bob: %+v", st)
			if st.VideoFramesDecoded < 3 {
				t.Errorf("bob decoded %d frames of the screen", st.VideoFramesDecoded)
			}
			errs := b.StderrText() + "\n"
			if !strings.Contains(errs, "call video: 1920x1080\n") {
				t.Fatalf("bob's stderr lacks the screen's size:\n%s", errs)
			}
			// The main video's frame rate is the screen's (at most 15 fps), not
			// the tile's frames added to it.
			if st.AvgFps > 15.5 {
				t.Errorf("bob's main video at %.1f fps", st.AvgFps)
			}
			if got := strings.Contains(errs, "call tile: 320x240, "); got != tc.tile {
				t.Fatalf("bob's stderr has a 320x240 tile: %v, want %v:\n%s", got, tc.tile, errs)
			}
			if errs := a.StderrText() + "\n"; !strings.Contains(errs, "call video: 0x0\n") {
				t.Fatalf("alice received no video, yet her stderr says:\n%s", errs)
			}
		})
	}
}

// Without an X11 display, call --video screen exits at once with
// SCREEN_UNAVAILABLE (its own status, 27) and says why, before waiting for
// anyone: never a call with a black picture.
func TestScreenShareWithoutDisplaySaysSo(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	alice := newUser(t, "alice")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"wayland only", []string{"DISPLAY=", "WAYLAND_DISPLAY=wayland-0"}, "no X11 display; Wayland screen capture through the desktop portal is not supported yet"},
		{"no display", []string{"DISPLAY=", "WAYLAND_DISPLAY="}, "DISPLAY is not set"},
		{"unreachable display", []string{"DISPLAY=:187", "WAYLAND_DISPLAY="}, `cannot open the X11 display ":187"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice.extraEnv = tc.env
			start := time.Now()
			_, errs, code := alice.run("call", link, "--video", "screen", "--audio", "sine", "--wait", "30s")
			if code != 27 || !strings.Contains(errs, "SCREEN_UNAVAILABLE") || !strings.Contains(errs, tc.want) || !strings.Contains(errs, "--video testsrc") {
				t.Fatalf("exited %d:\n%s", code, errs)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Fatalf("took %v: it waited for the peer first", d)
			}
		})
	}
}
