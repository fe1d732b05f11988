package e2e

import (
	"fmt"
	"image/color"
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

// Without an X11 display (and not in a Wayland session: those rows are
// TestWaylandScreenShareWithoutPortalSaysSo), call --video screen exits at once with
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
		{"no display", []string{"DISPLAY=", "WAYLAND_DISPLAY="}, "DISPLAY is not set"},
		{"unreachable display", []string{"DISPLAY=:187", "WAYLAND_DISPLAY="}, `cannot open the X11 display ":187"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice.extraEnv = tc.env
			screenUnavailable(t, alice, link, tc.want)
		})
	}
}

// parley-cli screens lists the screen and the windows of $DISPLAY, and
// call --video window:0xID shares one of them at its size; when the
// window closes, the sharer says WINDOW_CLOSED and the call goes on. A window id
// that is malformed is a usage error (2); one that names no window is
// SCREEN_UNAVAILABLE (27) with the reason, before waiting for the peer.
func TestWindowShareBetweenTwoCLIs(t *testing.T) {
	display := xvfbtest.Start(t, 800, 600)
	win := xvfbtest.Window(t, display, "parley e2e window", 30, 40, 400, 300, color.RGBA{200, 40, 40, 255})
	server := startSignal(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	alice.extraEnv = []string{"DISPLAY=" + display}
	bob.extraEnv = []string{"DISPLAY="}
	out := alice.mustRun("screens")
	id := fmt.Sprintf("window:0x%x", win.ID)
	for _, want := range []string{"screen:0 800x600 Entire screen\n", id + " 400x300 parley e2e window\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("parley-cli screens lacks %q:\n%s", want, out)
		}
	}
	if _, errs, code := bob.run("screens"); code != 27 || !strings.Contains(errs, "DISPLAY is not set") {
		t.Fatalf("screens without a display exited %d:\n%s", code, errs)
	}
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	for _, tc := range []struct {
		video string
		code  int
		want  string
	}{
		{"window:0xzz", 2, "want window:0xID"},
		{"window:123", 2, "want window:0xID"},
		{"window:0x1ffff00", 27, "there is no window window:0x1ffff00"},
	} {
		if _, errs, code := alice.run("call", link, "--video", tc.video, "--audio", "sine", "--wait", "30s"); code != tc.code || !strings.Contains(errs, tc.want) {
			t.Fatalf("call --video %s exited %d, want %d saying %q:\n%s", tc.video, code, tc.code, tc.want, errs)
		}
	}
	a := alice.start(nil, "call", link, "--video", id, "--audio", "sine", "--duration", "20s", "--stats")
	b := bob.start(nil, "call", link, "--video", "none", "--audio", "sine", "--duration", "20s", "--stats")
	// Once Bob sees the window, it closes: Alice's share ends, she says
	// so, the call goes on until its end.
	b.WaitStderr(`^call receiving: [1-9][0-9]* video frames decoded`, 1, 60*time.Second)
	win.Close()
	a.WaitStderr(`^call notice: WINDOW_CLOSED$`, 1, 20*time.Second)
	for name, p := range map[string]*proc{"alice": a, "bob": b} {
		if code := p.Wait(60 * time.Second); code != 0 {
			t.Fatalf("%s's call exited %d:\n%s", name, code, p.StderrText())
		}
	}
	if errs := b.StderrText() + "\n"; !strings.Contains(errs, "call video: 400x300\n") {
		t.Fatalf("bob's stderr lacks the window's size:\n%s", errs)
	}
}

// screenUnavailable runs u's call with --video screen and expects exit
// status 27 (SCREEN_UNAVAILABLE) saying want and the way out, before
// waiting for the peer.
func screenUnavailable(t *testing.T, u *user, link, want string) {
	t.Helper()
	start := time.Now()
	_, errs, code := u.run("call", link, "--video", "screen", "--audio", "sine", "--wait", "30s")
	if code != 27 || !strings.Contains(errs, "SCREEN_UNAVAILABLE") || !strings.Contains(errs, want) || !strings.Contains(errs, "--video testsrc") {
		t.Fatalf("exited %d:\n%s", code, errs)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("took %v: it waited for the peer first", d)
	}
}
