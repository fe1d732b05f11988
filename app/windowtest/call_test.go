//go:build windowtest

package windowtest

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestWindowVideoCall runs the real window under Xvfb with the synthetic
// camera and microphone (PARLEY_FAKE_MEDIA=1) and a parley-cli peer that
// calls it: the window rings, Ctrl+Shift+O answers with video, and the
// screenshot must show the peer's colour bars large and our own preview
// small beside them. Ctrl+Shift+H hangs up, and the CLI reports the frames
// it decoded from the window's camera.
func TestWindowVideoCall(t *testing.T) {
	w := startCallWindow(t)
	display, xdotool, importBin, cli, cliEnv, link := w.display, w.xdotool, w.importBin, w.cli, w.cliEnv, w.link
	caller := start(t, "parley-cli call", cliEnv, cli, "call", link, "--video", "testsrc", "--audio", "sine", "--stats", "--wait", "5m")
	caller.waitLine(true, `^call ringing$`)
	// Accept with video once the ring shows: the caller hears of the answer.
	pressUntil(t, caller, true, `^call (connecting|active)$`, display, xdotool, w.wid, []string{"key", "ctrl+shift+o"})
	caller.waitLine(true, `^call active$`)
	// Video flows both ways once the decoders settle. The first WebKit start
	// on a fresh machine compiles its GL shaders (no Mesa shader cache yet)
	// and paints the call seconds late, so look until it shows or step ends.
	var remote, preview image.Rectangle
	shot := filepath.Join(t.TempDir(), "call.png")
	started := time.Now()
	for deadline := started.Add(step); ; time.Sleep(500 * time.Millisecond) {
		run(t, display, importBin, "-window", w.wid, shot)
		var err error
		if remote, preview, err = findBars(shot); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	if out := os.Getenv("PARLEY_SCREENSHOT_OUT"); out != "" {
		call := strings.TrimSuffix(out, filepath.Ext(out)) + "-call.png"
		run(t, display, importBin, "-window", w.wid, call)
		t.Logf("call screenshot written to %s", call)
	}
	t.Logf("yellow bar of the remote video %v, of the local preview %v (on screen %v after the call went active)", remote, preview, time.Since(started).Round(time.Second))

	// The window hangs up once the CLI has decoded enough of its camera
	// and microphone (--stats prints the totals every second).
	caller.waitLine(true, `^call receiving: ([6-9][0-9]|[1-9][0-9]{2,}) video frames decoded, ([1-9][0-9]{2,}) audio packets$`)
	run(t, display, xdotool, "windowfocus", "--sync", w.wid)
	run(t, display, xdotool, "key", "ctrl+shift+h")
	caller.waitLine(true, `^call ended$`)
	line := caller.waitLine(false, `^\{.*\}$`)[0]
	var st struct {
		VideoFramesDecoded   int `json:"videoFramesDecoded"`
		AudioPacketsReceived int `json:"audioPacketsReceived"`
	}
	if err := json.Unmarshal([]byte(line), &st); err != nil || st.VideoFramesDecoded < 60 || st.AudioPacketsReceived < 100 {
		t.Fatalf("the CLI received too little of the window's camera and microphone: %s (%v)", line, err)
	}
	select {
	case <-caller.done:
		if code := caller.cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("parley-cli call exited %d", code)
		}
	case <-time.After(step):
		t.Fatal("parley-cli call did not exit after the window hung up")
	}
}

// callWindow is a real window under Xvfb, with synthetic camera and
// microphone, opened on a room a parley-cli profile created, ready for
// that CLI to call it.
type callWindow struct {
	window    *proc
	display   []string // DISPLAY and XAUTHORITY of the window's Xvfb
	wid       string
	xdotool   string
	importBin string
	cli       string
	cliEnv    []string
	link      string
}

// startCallWindow starts parley-signal, creates a room with parley-cli
// (cliEnv extra: its environment beyond the profile) and opens the window
// on its link, link confirmed.
func startCallWindow(t *testing.T, extraCLIEnv ...string) callWindow {
	t.Helper()
	root := repoRoot(t)
	appBin := appBinary(t, root)
	xvfbRun := need(t, "xvfb-run")
	w := callWindow{xdotool: need(t, "xdotool"), importBin: need(t, "import")}
	bins := buildBins(t, root)

	signal := start(t, "parley-signal", nil, filepath.Join(bins, "parley-signal"), "--addr", "127.0.0.1:0", "--metrics-addr", "off")
	server := "http://" + signal.waitLine(true, `(127\.0\.0\.1:[1-9][0-9]*)`)[1]
	w.cliEnv = append([]string{"PARLEY_PROFILE=cli", "PARLEY_DATA_DIR=" + t.TempDir(), "PARLEY_SECRET_STORE=file", "PARLEY_ICE_LOOPBACK=1"}, extraCLIEnv...)
	w.cli = filepath.Join(bins, "parley-cli")
	w.link = run(t, w.cliEnv, w.cli, "create", "--server", server)

	w.window = start(t, "parley (window)", []string{"PARLEY_ICE_LOOPBACK=1", "PARLEY_SERVER=" + server, "PARLEY_LOG_LEVEL=info", "PARLEY_FAKE_MEDIA=1"},
		xvfbRun, "-a", "-s", "-screen 0 1280x800x24",
		"sh", "-c", `echo "display=$DISPLAY xauth=$XAUTHORITY pid=$$" >&2; exec "$0" "$@"`,
		appBin, "--data-dir", t.TempDir(), "--profile", "window", "--secret-store", "file", w.link)
	m := w.window.waitLine(true, `^display=(:[0-9]+) xauth=(\S*) pid=([0-9]+)$`)
	w.display = []string{"DISPLAY=" + m[1], "XAUTHORITY=" + m[2]}
	w.wid = findWindow(t, w.display, w.xdotool, "^Parley$")
	run(t, w.display, w.xdotool, "windowmove", w.wid, "0", "0")
	confirmLink(t, w.window, w.display, w.xdotool, w.wid)
	return w
}

// findBars finds the test card's yellow bar in a screenshot twice: large
// in the remote video and small in the local preview (side by side or
// overlaid, but not in the same columns), or says what it saw instead.
func findBars(path string) (remote, preview image.Rectangle, err error) {
	f, err := os.Open(path)
	if err != nil {
		return remote, preview, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return remote, preview, fmt.Errorf("decode %s: %w", path, err)
	}
	b := img.Bounds()
	yellow := func(x, y int) bool {
		r, g, bl, _ := img.At(x, y).RGBA()
		r, g, bl = r>>8, g>>8, bl>>8
		return r > 140 && g > 140 && bl < 90 && max(r, g)-min(r, g) < 45
	}
	seen := make([]bool, b.Dx()*b.Dy())
	type blob struct {
		area int
		box  image.Rectangle
	}
	var blobs []blob
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			i := (y-b.Min.Y)*b.Dx() + (x - b.Min.X)
			if seen[i] || !yellow(x, y) {
				continue
			}
			bl := blob{box: image.Rect(x, y, x+1, y+1)}
			stack := []image.Point{{x, y}}
			seen[i] = true
			for len(stack) > 0 {
				p := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				bl.area++
				bl.box = bl.box.Union(image.Rect(p.X, p.Y, p.X+1, p.Y+1))
				for _, d := range []image.Point{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
					q := p.Add(d)
					if !q.In(b) {
						continue
					}
					j := (q.Y-b.Min.Y)*b.Dx() + (q.X - b.Min.X)
					if !seen[j] && yellow(q.X, q.Y) {
						seen[j] = true
						stack = append(stack, q)
					}
				}
			}
			if bl.area >= 400 {
				blobs = append(blobs, bl)
			}
		}
	}
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].area > blobs[j].area })
	if len(blobs) == 0 {
		return remote, preview, fmt.Errorf("no colour bars on screen (%s): the remote video is not showing", path)
	}
	remote = blobs[0].box
	for _, bl := range blobs[1:] {
		// A blob in other columns and clearly narrower: the preview.
		if (bl.box.Max.X <= remote.Min.X || bl.box.Min.X >= remote.Max.X) && bl.box.Dx()*3/2 < remote.Dx() {
			return remote, bl.box, nil
		}
	}
	return remote, preview, fmt.Errorf("the remote video's colour bars show (%v) but no smaller local preview beside them; yellow areas: %v", remote, blobs)
}
