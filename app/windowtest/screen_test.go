//go:build windowtest

package windowtest

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/xvfbtest"
)

// TestWindowScreenShare runs the real window under Xvfb in a voice call
// with a parley-cli that shares another Xvfb screen (1920x1080, eight
// large colour blocks): the peer's screen takes the window's main area
// (every block's colour shows, together over a large part of the window),
// and the CLI's camera (the test card, --camera testsrc) is a small tile in
// the top right corner of the stage. Then Ctrl+Shift+E, Enter in the window shares the window's own display, and
// the CLI's last decoded frame has that display's size (1280x800, or half of it
// when the screen's ladder had to halve the picture).
func TestWindowScreenShare(t *testing.T) {
	const cols, rows = 4, 2
	shared := xvfbtest.Start(t, 1920, 1080)
	xvfbtest.Paint(t, shared, xvfbtest.Blocks(1920, 1080, cols, rows))
	w := startCallWindow(t, "DISPLAY="+shared)
	display, xdotool, importBin, cli, cliEnv, link := w.display, w.xdotool, w.importBin, w.cli, w.cliEnv, w.link

	// The CLI hangs up a minute after the call is active: time for the
	// window to show its screen, then to share its own.
	caller := start(t, "parley-cli call", cliEnv, cli, "call", link, "--video", "screen", "--camera", "testsrc", "--audio", "sine", "--stats", "--duration", "60s", "--wait", "5m")
	caller.waitLine(true, `^call ringing$`)
	// Accept with sound only once the ring shows: the caller hears of the answer.
	pressUntil(t, caller, true, `^call (connecting|active)$`, display, xdotool, w.wid, []string{"key", "ctrl+shift+y"})
	caller.waitLine(true, `^call active$`)

	shot := filepath.Join(t.TempDir(), "screen.png")
	started := time.Now()
	for deadline := started.Add(step); ; time.Sleep(500 * time.Millisecond) {
		run(t, display, importBin, "-window", w.wid, shot)
		share, err := blocksShown(shot, cols*rows)
		var tile image.Rectangle
		if err == nil {
			tile, err = cameraTile(shot)
		}
		if err == nil {
			t.Logf("the peer's screen covers %.0f%% of the window, its camera's yellow bar shows at %v (%v after the call went active)", 100*share, tile, time.Since(started).Round(time.Second))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	if out := os.Getenv("PARLEY_SCREENSHOT_OUT"); out != "" {
		p := strings.TrimSuffix(out, filepath.Ext(out)) + "-screen.png"
		run(t, display, importBin, "-window", w.wid, p)
		t.Logf("screen sharing screenshot written to %s", p)
	}

	// Now the window shares its own display with the CLI: Ctrl+Shift+E
	// opens the picker with the entire screen focused, Enter shares it
	// (pressed again until frames arrive: an Enter before the picker is
	// up goes to the empty message box, which sends nothing).
	run(t, display, xdotool, "windowfocus", "--sync", w.wid)
	run(t, display, xdotool, "key", "ctrl+shift+e")
	pressUntil(t, caller, true, `^call receiving: [1-9][0-9]* video frames decoded`, display, xdotool, w.wid, []string{"key", "Return"})
	caller.waitLine(true, `^call ended$`)
	// The display's size, or half of it: on a starved machine the
	// screen's ladder halves the picture once 5 fps does not fit
	// (app/call/screen_adapt.go), and the line is the last frame's size.
	caller.waitLine(true, `^call video: (1280x800|640x400)$`)
}

// cameraTile finds the peer's camera (the test card's yellow bar) as a
// small tile in the top right of the window, or says where it is not.
func cameraTile(path string) (image.Rectangle, error) {
	bar, _, _ := findBars(path) // the largest yellow area; no preview here
	if bar.Empty() {
		return bar, fmt.Errorf("no camera tile (no colour bars) in %s", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return bar, err
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		return bar, err
	}
	if bar.Min.X < cfg.Width*3/4 || bar.Max.Y > cfg.Height/2 || bar.Dx() > cfg.Width/12 {
		return bar, fmt.Errorf("the camera's yellow bar is at %v in a %dx%d window: not a small tile in the top right", bar, cfg.Width, cfg.Height)
	}
	return bar, nil
}

// blocksShown reports how much of the screenshot shows the shared
// screen's blocks: each of the n block colours must cover at least 0.5%
// of it and all of them together a quarter (the main area, not a tile).
func blocksShown(path string, n int) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return 0, fmt.Errorf("decode %s: %w", path, err)
	}
	want := make([]color.RGBA, n)
	for i := range want {
		want[i] = xvfbtest.BlockColour(i, n)
	}
	count := make([]int, n)
	b := img.Bounds()
	near := func(a, b uint32) bool { return max(a, b)-min(a, b) <= 24 }
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			for i, c := range want {
				if near(r, uint32(c.R)) && near(g, uint32(c.G)) && near(bl, uint32(c.B)) {
					count[i]++
					break
				}
			}
		}
	}
	total := b.Dx() * b.Dy()
	sum := 0
	for i, c := range count {
		if c*200 < total {
			return 0, fmt.Errorf("block %d's colour %v covers %d of %d pixels (%s): the peer's screen is not showing large", i, want[i], c, total, path)
		}
		sum += c
	}
	if share := float64(sum) / float64(total); share >= 0.25 {
		return share, nil
	}
	return 0, fmt.Errorf("the blocks cover %d of %d pixels (%s): the peer's screen is not in the main area", sum, total, path)
}
