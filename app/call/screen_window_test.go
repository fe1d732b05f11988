package call

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/peer/peertest"
	"github.com/parley-chat/parley/internal/xvfbtest"
)

var (
	red  = color.RGBA{255, 0, 0, 255}
	blue = color.RGBA{0, 0, 255, 255}
)

// yuv is a colour's BT.601 studio-swing Y, Cb, Cr (as the capture
// converts).
func yuv(c color.RGBA) [3]int {
	r, g, b := int(c.R), int(c.G), int(c.B)
	return [3]int{
		(66*r+129*g+25*b+128)>>8 + 16,
		(-38*r-74*g+112*b+128)>>8 + 128,
		(112*r-94*g-18*b+128)>>8 + 128,
	}
}

// regionColour is the largest distance (any of Y, Cb, Cr) of the
// picture's pixels in rect from colour c.
func regionColour(img *image.YCbCr, rect image.Rectangle, c color.RGBA) int {
	want, worst := yuv(c), 0
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			yi, ci := img.YOffset(x, y), img.COffset(x, y)
			worst = max(worst, abs(int(img.Y[yi])-want[0]), abs(int(img.Cb[ci])-want[1]), abs(int(img.Cr[ci])-want[2]))
		}
	}
	return worst
}

// grabUntil grabs from c until ok accepts the picture (a window redraws
// after it is redirected or resized), for up to 20 s.
func grabUntil(t *testing.T, c screenCapturer, what string, ok func(*image.YCbCr) bool) *image.YCbCr {
	t.Helper()
	var last *image.YCbCr
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		w, h := c.size()
		img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		if _, err := c.grab(img, true); err != nil {
			if errors.Is(err, errCaptureResized) {
				continue
			}
			t.Fatalf("%s: grab: %v", what, err)
		}
		if ok(img) {
			return img
		}
		last = img
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: no picture as expected within 20 s (last %v)", what, last.Rect)
	return nil
}

// Two overlapping windows: sharing the lower one sends only its own
// picture, never the upper window where it covers it (the privacy
// property of window sharing: Composite's off-screen copy, not the
// screen's region). The same region captured from the screen shows the
// upper window: that is what a capture of the root region would leak.
func TestWindowCaptureSkipsWhatOverlaps(t *testing.T) {
	t.Parallel()
	d := xvfbtest.Start(t, 640, 480)
	lower := xvfbtest.Window(t, d, "parley lower", 20, 20, 300, 200, red)
	xvfbtest.Window(t, d, "parley upper", 120, 80, 300, 200, blue)
	// The overlap, in the lower window's coordinates, with a margin.
	overlap := image.Rect(100+4, 60+4, 300-4, 200-4)

	c, err := openScreenCapture(t.Context(), d, ScreenTarget{Window: lower.ID})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if w, h := c.size(); w != 300 || h != 200 {
		t.Fatalf("window capture size %dx%d, want 300x200", w, h)
	}
	grabUntil(t, c, "lower window", func(img *image.YCbCr) bool {
		return regionColour(img, img.Rect.Inset(4), red) <= 4
	})

	// The control: the screen itself shows the upper window there.
	s, err := openScreenCapture(t.Context(), d, ScreenTarget{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	grabUntil(t, s, "screen", func(img *image.YCbCr) bool {
		return regionColour(img, overlap.Add(image.Pt(20, 20)), blue) <= 4
	})
}

// A shared window that changes size gives pictures of its new size; one
// that is unmapped or closed ends the capture with ErrWindowClosed.
func TestWindowCaptureFollowsTheWindow(t *testing.T) {
	t.Parallel()
	d := xvfbtest.Start(t, 640, 480)
	for _, end := range []string{"unmapped", "closed"} {
		t.Run(end, func(t *testing.T) {
			win := xvfbtest.Window(t, d, "parley "+end, 10, 10, 320, 240, red)
			c, err := openScreenCapture(t.Context(), d, ScreenTarget{Window: win.ID})
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			if w, h := c.size(); w != 320 || h != 240 {
				t.Fatalf("size %dx%d, want 320x240", w, h)
			}
			if err := win.Do("windowsize", "201", "150"); err != nil {
				t.Fatal(err)
			}
			// An odd width is rounded down to even (I420).
			img := grabUntil(t, c, "resized", func(img *image.YCbCr) bool {
				return img.Rect.Dx() == 200 && img.Rect.Dy() == 150 && regionColour(img, image.Rect(0, 0, 100, 100), red) <= 4
			})
			// A picture of the old size is refused, not overrun.
			old := image.NewYCbCr(image.Rect(0, 0, 320, 240), image.YCbCrSubsampleRatio420)
			if _, err := c.grab(old, true); !errors.Is(err, errCaptureResized) {
				t.Fatalf("grab into the old size: %v, want errCaptureResized", err)
			}
			if end == "unmapped" {
				err = win.Do("windowunmap")
			} else {
				win.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				_, err := c.grab(img, true)
				if errors.Is(err, ErrWindowClosed) {
					break
				}
				if err != nil && !errors.Is(err, errCaptureResized) || time.Now().After(deadline) {
					t.Fatalf("grab of a window %s: %v, want ErrWindowClosed", end, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// Window ids come from the UI and the command line: one that is not a
// window that can be shared is a clear SCREEN_UNAVAILABLE, never an X
// error that ends the process. Without Composite on the display, no
// window can be shared (and none is listed) but the screen still can.
func TestWindowShareRefusesWhatItCannot(t *testing.T) {
	t.Parallel()
	d := xvfbtest.Start(t, 640, 480)
	hidden := xvfbtest.Window(t, d, "parley hidden", 10, 10, 100, 100, red)
	if err := hidden.Do("windowunmap"); err != nil {
		t.Fatal(err)
	}
	sliver := xvfbtest.Window(t, d, "parley sliver", 200, 10, 1, 40, red)
	tiny := xvfbtest.Window(t, d, "parley tiny", 300, 10, 10, 10, red)
	noComposite := xvfbtest.Start(t, 640, 480, "-extension", "Composite")
	other := xvfbtest.Window(t, noComposite, "parley plain", 10, 10, 100, 100, red)
	for _, tc := range []struct {
		name    string
		display string
		target  ScreenTarget
		want    string
	}{
		{"no such window", d, ScreenTarget{Window: 0x1ffff00}, "there is no window window:0x1ffff00"},
		{"largest id", d, ScreenTarget{Window: maxWindowID}, "there is no window"},
		{"unmapped", d, ScreenTarget{Window: hidden.ID}, "is not shown"},
		// Not a 0x0 picture (the capture would index an empty image).
		{"one pixel wide", d, ScreenTarget{Window: sliver.ID}, "too small to share"},
		{"tiny", d, ScreenTarget{Window: tiny.ID}, "too small to share"},
		{"no composite", noComposite, ScreenTarget{Window: other.ID}, "no Composite extension"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := openScreenCapture(t.Context(), tc.display, tc.target)
			if c != nil || !errors.Is(err, ErrScreenUnavailable) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("openScreenCapture: %v, %v; want SCREEN_UNAVAILABLE saying %q", c, err, tc.want)
			}
			err = CheckSources(Sources{Video: tc.target.String(), Display: tc.display, Audio: SourceNone})
			if Reason(err) != ReasonScreenUnavailable {
				t.Fatalf("CheckSources: %v", err)
			}
		})
	}
	// Without Composite the screen is still shared, and listed alone.
	c, err := openScreenCapture(t.Context(), noComposite, ScreenTarget{})
	if err != nil {
		t.Fatal(err)
	}
	c.close()
	list, err := ListScreenSources(noComposite)
	if err != nil || len(list) != 1 || list[0].ID != "screen:0" {
		t.Fatalf("ListScreenSources without Composite: %+v, %v", list, err)
	}
}

// ListScreenSources lists the screen, then the shown top-level windows
// with a title, topmost first, with the size sharing them sends; not
// the unmapped helper windows nor the small children.
func TestListScreenSources(t *testing.T) {
	t.Parallel()
	d := xvfbtest.Start(t, 640, 480)
	lower := xvfbtest.Window(t, d, "parley lower", 20, 20, 300, 200, red)
	upper := xvfbtest.Window(t, d, "parley upper", 120, 80, 250, 150, blue)
	hidden := xvfbtest.Window(t, d, "parley hidden", 10, 10, 100, 100, red)
	if err := hidden.Do("windowunmap"); err != nil {
		t.Fatal(err)
	}
	xvfbtest.Window(t, d, "parley tiny", 10, 10, 20, 100, red)
	list, err := ListScreenSources(d)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range list {
		got = append(got, fmt.Sprintf("%s %dx%d %s", s.ID, s.Width, s.Height, s.Title))
	}
	want := []string{
		"screen:0 640x480 Entire screen",
		fmt.Sprintf("window:0x%x 250x150 parley upper", upper.ID),
		fmt.Sprintf("window:0x%x 300x200 parley lower", lower.ID),
	}
	if len(got) < 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || len(got) != 3 {
		t.Fatalf("ListScreenSources:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := ListScreenSources(":187"); !errors.Is(err, ErrScreenUnavailable) {
		t.Fatalf("ListScreenSources of an unreachable display: %v", err)
	}
}

// Mid-call, sharing one window sends its picture at its size; the size
// follows the window; closing the window ends the share with
// WINDOW_CLOSED; the camera, a tile beside the window meanwhile, goes on.
func TestShareWindowMidCall(t *testing.T) {
	d := xvfbtest.Start(t, 640, 480)
	win := xvfbtest.Window(t, d, "parley shared", 20, 20, 320, 240, red)
	xvfbtest.Window(t, d, "parley cover", 100, 100, 300, 200, blue)
	p := peertest.New(t)
	var (
		mu        sync.Mutex
		sizes     []string // of the screen track: what the window share sent
		camera    string   // the last size of the camera track
		camFrames int
		red       bool // a frame of the window, red where the cover overlaps
	)
	onFrame := func(f decodedFrame) {
		mu.Lock()
		defer mu.Unlock()
		s := fmt.Sprintf("%dx%d", f.width, f.height)
		if !f.screen {
			camera = s
			camFrames++
			return
		}
		if len(sizes) == 0 || sizes[len(sizes)-1] != s {
			sizes = append(sizes, s)
		}
		if f.width == 320 && f.height == 240 {
			// Luma in the overlap (window 80..320 x 80..240).
			sum, n := 0, 0
			for y := 100; y < 220; y += 4 {
				for x := 100; x < 300; x += 4 {
					sum += int(f.y[y*f.stride+x])
					n++
				}
			}
			red = red || abs(sum/n-yuv(color.RGBA{255, 0, 0, 255})[0]) <= 12
		}
	}
	state := func() (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(sizes) == 0 {
			return "", red
		}
		return sizes[len(sizes)-1], red
	}
	cameraState := func() (string, int) {
		mu.Lock()
		defer mu.Unlock()
		return camera, camFrames
	}
	cam := Sources{Video: SourceTestVideo, Audio: SourceTestAudio, Width: 160, Height: 120, FPS: 30}
	a, b := newSidesWith(t, p, cam, Sources{Video: SourceNone, Audio: SourceTestAudio}, onFrame)
	connect(t, a, b, true, false)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		waitSaying(t, 20*time.Second, what, ok, func() string {
			mu.Lock()
			defer mu.Unlock()
			return fmt.Sprintf("screen sizes decoded %v, camera %s (%d frames), viewer %+v, sharer %+v", sizes, camera, camFrames, b.m.View(), a.m.View())
		})
	}
	waitFor("camera", func() bool { s, _ := cameraState(); return s == "160x120" })
	v, err := a.m.ShareScreen(d, ScreenTarget{Window: win.ID})
	if err != nil || !v.Screen {
		t.Fatalf("ShareScreen(window): %+v, %v", v, err)
	}
	waitFor("window", func() bool { s, r := state(); return s == "320x240" && r && b.m.View().RemoteScreen })
	if err := win.Do("windowsize", "240", "180"); err != nil {
		t.Fatal(err)
	}
	waitFor("resized window", func() bool { s, _ := state(); return s == "240x180" })
	win.Close()
	waitFor("share ended", func() bool {
		v := a.m.View()
		return !v.Screen && v.Error == ReasonWindowClosed && v.LocalVideo
	})
	_, n := cameraState()
	waitFor("camera again", func() bool {
		s, frames := cameraState()
		return s == "160x120" && frames > n+5 && !b.m.View().RemoteScreen && b.m.View().RemoteVideo
	})
	a.m.HangUp()
	b.await(t, StateEnded)
}

// countColour counts the picture's pixels within tol (any of Y, Cb, Cr)
// of colour c.
func countColour(img *image.YCbCr, c color.RGBA, tol int) int {
	want, n := yuv(c), 0
	for y := 0; y < img.Rect.Dy(); y++ {
		for x := 0; x < img.Rect.Dx(); x++ {
			yi, ci := img.YOffset(x, y), img.COffset(x, y)
			if abs(int(img.Y[yi])-want[0]) <= tol && abs(int(img.Cb[ci])-want[1]) <= tol && abs(int(img.Cr[ci])-want[2]) <= tol {
				n++
			}
		}
	}
	return n
}

// Under a window manager (openbox: frames, WM_STATE, _NET_CLIENT_LIST),
// the list names the clients (the ids xdotool and the user know) with
// their frames' sizes, topmost first; sharing a client captures its frame
// (decorations and all) from Composite's copy: the whole red client is in
// the picture although the upper window covers part of it on the screen,
// where a capture of the screen's region sees only part of it.
func TestWindowShareUnderAWindowManager(t *testing.T) {
	t.Parallel()
	d := xvfbtest.Start(t, 800, 600)
	xvfbtest.WindowManager(t, d)
	lower := xvfbtest.Window(t, d, "parley wm lower", 20, 20, 300, 200, red)
	upper := xvfbtest.Window(t, d, "parley wm upper", 120, 80, 300, 200, blue)
	if err := upper.Do("windowactivate"); err != nil {
		t.Fatal(err)
	}
	var list []ScreenSource
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		if list, err = ListScreenSources(d); err != nil {
			t.Fatal(err)
		}
		if len(list) == 3 && list[1].ID == (ScreenTarget{Window: upper.ID}).String() && list[2].ID == (ScreenTarget{Window: lower.ID}).String() &&
			list[1].Title == "parley wm upper" && list[2].Title == "parley wm lower" && list[2].Width >= 300 && list[2].Height > 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ListScreenSources under openbox: %+v", list)
		}
		time.Sleep(50 * time.Millisecond)
	}

	const whole = 300 * 200
	c, err := openScreenCapture(t.Context(), d, ScreenTarget{Window: lower.ID})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if w, h := c.size(); w != list[2].Width || h != list[2].Height {
		t.Fatalf("capture %dx%d, listed %dx%d", w, h, list[2].Width, list[2].Height)
	}
	var inWindow, onScreen int
	grabUntil(t, c, "lower window's frame", func(img *image.YCbCr) bool {
		inWindow = countColour(img, red, 12)
		return inWindow >= whole-2*(300+200) && inWindow <= whole+2*(300+200)
	})
	s, err := openScreenCapture(t.Context(), d, ScreenTarget{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	grabUntil(t, s, "screen", func(img *image.YCbCr) bool {
		onScreen = countColour(img, red, 12)
		return onScreen < whole-150*100
	})
	t.Logf("red pixels: %d in the shared window, %d on the screen (the client has %d)", inWindow, onScreen, whole)
}

// A window resized and back between two grabs (a drag that ends where it
// began) has a new picture of the old size: the capture follows it, not
// the first picture it was given (which the server no longer draws to).
func TestWindowCaptureAfterResizeAndBack(t *testing.T) {
	t.Parallel()
	d := xvfbtest.Start(t, 640, 480)
	win := xvfbtest.Window(t, d, "parley there and back", 10, 10, 200, 150, red)
	c, err := openScreenCapture(t.Context(), d, ScreenTarget{Window: win.ID})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	grabUntil(t, c, "red", func(img *image.YCbCr) bool { return regionColour(img, image.Rect(0, 0, 200, 150), red) <= 4 })
	// Its program stops: nothing but the test paints the window now.
	if err := win.Pause(); err != nil {
		t.Fatal(err)
	}
	for _, size := range [][2]string{{"120", "90"}, {"200", "150"}} {
		if err := win.Do("windowsize", size[0], size[1]); err != nil {
			t.Fatal(err)
		}
	}
	paint := exec.Command("display", "-display", d, "-window", fmt.Sprint(win.ID), "xc:blue")
	_ = paint.Run() // exits 1 by design; the capture is the check
	grabUntil(t, c, "the window's picture after the resizes", func(img *image.YCbCr) bool {
		return regionColour(img, image.Rect(50, 40, 150, 110), blue) <= 4
	})
}

// Sharing one window draws the pointer only while it is over that
// window: where another window covers it, the pointer belongs to what
// the sharer does elsewhere.
func TestWindowCaptureDrawsThePointerOnlyOverTheWindow(t *testing.T) {
	t.Parallel()
	d := xvfbtest.Start(t, 640, 480)
	lower := xvfbtest.Window(t, d, "parley pointer lower", 20, 20, 320, 240, red)
	xvfbtest.Window(t, d, "parley pointer upper", 100, 100, 300, 200, blue)
	c, err := openScreenCapture(t.Context(), d, ScreenTarget{Window: lower.ID})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	pointAt := func(x, y int) { xvfbtest.PointAt(t, d, x, y) }
	// Pixels within 12 px of (x, y) in the window's picture that are
	// not its red.
	marked := func(img *image.YCbCr, x, y int) int {
		n, want := 0, yuv(red)[0]
		for yy := y - 12; yy < y+12; yy++ {
			for xx := x - 12; xx < x+12; xx++ {
				if abs(int(img.Y[img.YOffset(xx, yy)])-want) > 30 {
					n++
				}
			}
		}
		return n
	}
	w, h := c.size()
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	grab := func() {
		t.Helper()
		if _, err := c.grab(img, true); err != nil {
			t.Fatal(err)
		}
	}
	// Over the window's own part (screen 60,60 is its 40,40; the window
	// has no frame here, no window manager).
	pointAt(60, 60)
	grab()
	if n := marked(img, 40, 40); n < 20 {
		t.Fatalf("%d pointer pixels over the window", n)
	}
	// Over the part the upper window covers (screen 200,200 is its 180,180).
	pointAt(200, 200)
	grab()
	if n := marked(img, 180, 180); n != 0 {
		t.Fatalf("%d pointer pixels drawn where another window covers the shared one", n)
	}
	if n := marked(img, 40, 40); n != 0 {
		t.Fatalf("%d pointer pixels left at the old place", n)
	}
}
