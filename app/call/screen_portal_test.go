//go:build linux && cgo

package call

import (
	"image"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/waylandtest"
	"github.com/parley-chat/parley/internal/xvfbtest"
)

// waylandWithPattern starts a private Wayland desktop of w x h showing
// the block pattern and makes it this test's session.
func waylandWithPattern(t *testing.T, w, h int, portal waylandtest.Portal) *waylandtest.Session {
	t.Helper()
	s := waylandtest.Start(t, waylandtest.Options{Width: w, Height: h, Background: xvfbtest.Blocks(w, h, patCols, patRows), Portal: portal})
	s.Setenv(t)
	return s
}

// Through the desktop portal and PipeWire, a Wayland screen is captured
// at the output's size with the picture on it; an unchanged screen is
// reported unchanged.
func TestPortalCaptureReadsTheScreen(t *testing.T) {
	s := waylandWithPattern(t, 1280, 720, waylandtest.ScreenCast)
	c, err := openScreenCapture("", 0)
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Logs())
	}
	defer c.close()
	if _, ok := c.(*portalScreen); !ok {
		t.Fatalf("capturer %T, want the portal's", c)
	}
	w, h := c.size()
	if w != 1280 || h != 720 {
		t.Fatalf("screen size %dx%d, want 1280x720", w, h)
	}
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	// The first frames may show the output before swaybg drew on it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := c.grab(img, true); err != nil {
			t.Fatal(err)
		}
		e := blockLumaError(img.Y, img.YStride, w, h)
		if e <= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("captured luma differs from the pattern by up to %d", e)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
