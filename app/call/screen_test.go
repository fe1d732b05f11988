package call

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parley-chat/parley/app/peer/peertest"
	"github.com/parley-chat/parley/internal/xvfbtest"
)

func TestParseScreenSource(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    ScreenTarget
		ok, bad bool
	}{
		{"screen", ScreenTarget{}, true, false},
		{"screen:0", ScreenTarget{}, true, false},
		{"screen:3", ScreenTarget{Screen: 3}, true, false},
		{"screen:99", ScreenTarget{Screen: 99}, true, false},
		{"screen:100", ScreenTarget{}, true, true},
		{"screen:-1", ScreenTarget{}, true, true},
		{"screen:01", ScreenTarget{}, true, true},
		{"screen:", ScreenTarget{}, true, true},
		{"screen:x", ScreenTarget{}, true, true},
		{"window:0x1a00007", ScreenTarget{Window: 0x1a00007}, true, false},
		{"window:0x1A00007", ScreenTarget{Window: 0x1a00007}, true, false},
		{"window:0x1", ScreenTarget{Window: 1}, true, false},
		{"window:0x1fffffff", ScreenTarget{Window: 0x1fffffff}, true, false},
		{"window:0x20000000", ScreenTarget{}, true, true}, // not an X resource id
		{"window:0xffffffff", ScreenTarget{}, true, true},
		{"window:0x100000000", ScreenTarget{}, true, true},
		{"window:0x0", ScreenTarget{}, true, true},
		{"window:0x", ScreenTarget{}, true, true},
		{"window:1a00007", ScreenTarget{}, true, true}, // hex needs its 0x
		{"window:27262983", ScreenTarget{}, true, true},
		{"window:0x1a00007 ", ScreenTarget{}, true, true},
		{"window:0x-1", ScreenTarget{}, true, true},
		{"window:0x+1", ScreenTarget{}, true, true},
		{"window:0x1_0", ScreenTarget{}, true, true},
		{"window:0xg", ScreenTarget{}, true, true},
		{"window:0x00000000001", ScreenTarget{}, true, true},
		{"window:", ScreenTarget{}, true, true},
		{"window", ScreenTarget{}, false, false},
		{"windows:0x1", ScreenTarget{}, false, false},
		{"screens", ScreenTarget{}, false, false},
		{"testsrc", ScreenTarget{}, false, false},
		{"", ScreenTarget{}, false, false},
		{"/dev/video0", ScreenTarget{}, false, false},
	} {
		got, ok, err := ParseScreenSource(tc.in)
		if got != tc.want || ok != tc.ok || (err != nil) != tc.bad {
			t.Errorf("ParseScreenSource(%q) = %+v, %v, %v; want %+v, %v, error %v", tc.in, got, ok, err, tc.want, tc.ok, tc.bad)
		}
		if err == nil && ok && tc.in != "screen" && got.String() != strings.ToLower(tc.in) {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
}

func TestSanitizeTitle(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 100)
	for _, tc := range []struct {
		name string
		raw  string
		utf8 bool
		want string
	}{
		{"plain", "Terminal", true, "Terminal"},
		{"utf8", "Über – Café ✓", true, "Über – Café ✓"},
		{"latin1 WM_NAME", "Caf\xe9", false, "Café"},
		{"invalid utf8 dropped", "a\xffb", true, "ab"},
		{"controls and newlines", "a\x00b\x1b[31mc\nd\te", true, "ab[31mc d e"},
		{"bidi override", "gpj.\u202eexe", true, "gpj.exe"},
		{"zero width", "pa\u200bypal", true, "paypal"},
		{"spaces collapse and trim", "  a   b  ", true, "a b"},
		{"only controls", "\x01\x02", true, ""},
		{"capped", long, true, strings.Repeat("é", maxTitle) + "…"},
	} {
		if got := sanitizeTitle([]byte(tc.raw), tc.utf8); got != tc.want {
			t.Errorf("%s: sanitizeTitle(%q) = %q, want %q", tc.name, tc.raw, got, tc.want)
		}
	}
}

// The block grid of the screen tests' pattern.
const patCols, patRows = 8, 4

// blockLumaError compares the mean luma of the middle of each block of a
// picture (luma plane y, stride) of w x h with the pattern's, and returns
// the largest difference.
func blockLumaError(y []byte, stride, w, h int) int {
	worst := 0
	for r := 0; r < patRows; r++ {
		for c := 0; c < patCols; c++ {
			x0, x1 := c*w/patCols, (c+1)*w/patCols
			y0, y1 := r*h/patRows, (r+1)*h/patRows
			mx, my := (x1-x0)/4, (y1-y0)/4
			sum, n := 0, 0
			for yy := y0 + my; yy < y1-my; yy += 2 {
				for xx := x0 + mx; xx < x1-mx; xx += 2 {
					sum += int(y[yy*stride+xx])
					n++
				}
			}
			col := xvfbtest.BlockColour(r*patCols+c, patCols*patRows)
			want := (66*int(col.R)+129*int(col.G)+25*int(col.B)+128)>>8 + 16
			worst = max(worst, abs(sum/max(n, 1)-want))
		}
	}
	return worst
}

// screenWithPattern starts an Xvfb of w x h showing the block pattern.
func screenWithPattern(t *testing.T, w, h int) string {
	t.Helper()
	d := xvfbtest.Start(t, w, h)
	xvfbtest.Paint(t, d, xvfbtest.Blocks(w, h, patCols, patRows))
	return d
}

// The X11 capturer reads the root window exactly (the picture, converted
// to I420) and reports an unchanged screen as unchanged, which is what
// makes a still screen cheap.
func TestX11CaptureReadsTheScreen(t *testing.T) {
	t.Parallel()
	d := screenWithPattern(t, 1280, 720)
	c, err := openScreenCapture(t.Context(), d, ScreenTarget{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	w, h := c.size()
	if w != 1280 || h != 720 {
		t.Fatalf("screen size %dx%d, want 1280x720", w, h)
	}
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	changed, err := c.grab(img, true)
	if err != nil || !changed {
		t.Fatalf("first grab: changed %v, %v", changed, err)
	}
	if e := blockLumaError(img.Y, img.YStride, w, h); e > 2 {
		t.Fatalf("captured luma differs from the pattern by up to %d", e)
	}
	for range 3 {
		if changed, err := c.grab(img, false); err != nil || changed {
			t.Fatalf("grab of a still screen: changed %v, %v", changed, err)
		}
	}
	if changed, err := c.grab(img, true); err != nil || !changed {
		t.Fatalf("forced grab: changed %v, %v", changed, err)
	}
}

// Without a reachable X11 display, sharing the screen fails with
// SCREEN_UNAVAILABLE and a sentence that says why; it never opens a
// (black) video.
func TestScreenUnavailableSaysWhy(t *testing.T) {
	d := xvfbtest.Start(t, 640, 480)
	for _, tc := range []struct {
		name             string
		display, wayland string
		src              Sources
		want             string
	}{
		{"wayland only, no session bus", "", "wayland-0", Sources{Video: "screen"}, "no X11 display; this is a Wayland session, and there is no session D-Bus to reach the desktop portal on"},
		{"no display at all", "", "", Sources{Video: "screen"}, "no X11 display (DISPLAY is not set)"},
		{"unreachable display", ":187", "", Sources{Video: "screen"}, `cannot open the X11 display ":187"`},
		{"unreachable display in a wayland session", ":187", "wayland-0", Sources{Video: "screen"}, `cannot open the X11 display ":187" (no X server there, or not allowed); this is a Wayland session, and there is no session D-Bus`},
		{"no such screen", "", "", Sources{Video: "screen:2", Display: d}, "has 1 screen(s); there is no screen 2"},
		{"bad screen number", d, "", Sources{Video: "screen:x"}, "want screen or screen:N"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DISPLAY", tc.display)
			t.Setenv("WAYLAND_DISPLAY", tc.wayland)
			// No session bus: the portal's rows are in
			// TestWaylandScreenUnavailableSaysWhy.
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
			t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
			tc.src.Audio = SourceNone
			err := CheckSources(tc.src)
			if !errors.Is(err, ErrScreenUnavailable) || Reason(err) != ReasonScreenUnavailable || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckSources: %v (%s); want SCREEN_UNAVAILABLE saying %q", err, Reason(err), tc.want)
			}
			v, err := openVideo(tc.src)
			if v != nil || !errors.Is(err, ErrScreenUnavailable) {
				t.Fatalf("openVideo: %v, %v; want no video and ErrScreenUnavailable", v, err)
			}
		})
	}
}

// TestScreenShareCall shares a 1920x1080 Xvfb screen showing the block
// pattern in a call between two real pion peers on loopback: the other
// side decodes 1920x1080 frames (the size is kept) whose blocks match the
// screen's within a small tolerance.
func TestScreenShareCall(t *testing.T) {
	d := screenWithPattern(t, 1920, 1080)
	p := peertest.New(t)
	pw := newPatternWatch(1920, 1080)
	sharer := Sources{Video: "screen", Display: d, Audio: SourceTestAudio, FPS: 30}
	viewer := Sources{Video: SourceNone, Audio: SourceTestAudio}
	a, b := newSidesWith(t, p, sharer, viewer, pw.onFrame)
	connect(t, a, b, true, false)
	select {
	case <-pw.matched:
	case <-time.After(30 * time.Second):
		t.Fatalf("no decoded 1920x1080 frame matched the screen: %s, stats %+v", pw, b.m.Stats())
	}
	st := b.m.Stats()
	if st.Width != 1920 || st.Height != 1080 {
		t.Fatalf("stats say %dx%d", st.Width, st.Height)
	}
	t.Logf("viewer: %+v; %s", st, pw)
	a.m.HangUp()
	b.await(t, StateEnded)
}

// patternWatch watches a viewer's decoded frames for the block pattern
// at w x h: matched closes at the first frame within a small tolerance.
type patternWatch struct {
	w, h    int
	matched chan struct{}
	once    sync.Once
	mu      sync.Mutex
	sizes   map[string]int
	best    int // the smallest block error of a frame of w x h
}

func newPatternWatch(w, h int) *patternWatch {
	return &patternWatch{w: w, h: h, matched: make(chan struct{}), sizes: map[string]int{}, best: 1 << 30}
}

func (pw *patternWatch) onFrame(f decodedFrame) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.sizes[fmt.Sprintf("%dx%d", f.width, f.height)]++
	if f.width != pw.w || f.height != pw.h {
		return
	}
	e := blockLumaError(f.y, f.stride, f.width, f.height)
	pw.best = min(pw.best, e)
	if e <= 12 {
		pw.once.Do(func() { close(pw.matched) })
	}
}

// String says what arrived: the sizes decoded and the best block error.
func (pw *patternWatch) String() string {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return fmt.Sprintf("sizes %v, best block error %d", pw.sizes, pw.best)
}

// A screen keeps its size and gives up frame rate first as the estimate
// falls (15, 10, 5 fps), halves the picture only at 5 fps, and climbs
// back; a picture that codes well (low quantizer) does not step down.
func TestScreenPolicyKeepsDetail(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name      string
		estimate  int
		quantizer int
		wantLevel int
	}{
		{"plenty", 5_000_000, 50, 0},
		{"a little short", 600_000, 50, 1},        // 1080p15 needs 622k + audio
		{"short", 300_000, 50, 2},                 // 10 fps needs 415k
		{"very short", 150_000, 50, 3},            // 5 fps needs 207k
		{"short but coding well", 150_000, 20, 0}, // a still screen: no reason to step down
		{"unknown quantizer counts as strained", 300_000, -1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &adaptPolicy{width: 1920, height: 1080, fps: 15, screen: true}
			var d adaptDecision
			for i := 0; i <= 4; i++ { // 2 s at the adapt loop's 500 ms
				d = p.next(t0.Add(time.Duration(i)*500*time.Millisecond), tc.estimate, tc.quantizer)
			}
			if d.level != tc.wantLevel {
				t.Fatalf("level %d (%+v), want %d", d.level, screenLadder[d.level], tc.wantLevel)
			}
			if l := screenLadder[d.level]; l.scale != 1 && d.level != len(screenLadder)-1 {
				t.Fatalf("rung %d halves the picture before the last rung", d.level)
			}
			if ceiling := maxScreenBitrate(1920, 1080, 15); d.bitrate > ceiling || d.bitrate < minVideoBitrate {
				t.Fatalf("bitrate %d outside %d-%d", d.bitrate, minVideoBitrate, ceiling)
			}
		})
	}
	// Back up one rung after 2 s of headroom.
	p := &adaptPolicy{width: 1920, height: 1080, fps: 15, level: 3, screen: true}
	var d adaptDecision
	for i := 0; i <= 4; i++ {
		d = p.next(t0.Add(time.Duration(i)*500*time.Millisecond), 5_000_000, 30)
	}
	if d.level != 2 {
		t.Fatalf("after 2 s of headroom: level %d, want 2", d.level)
	}
}

// fakeScreen is a screenCapturer whose picture changes when told.
type fakeScreen struct {
	mu      sync.Mutex
	changes int // grabs left that report a change
	grabs   int
	forced  int
	closed  bool
	bufs    map[*image.YCbCr]bool // the buffers grabbed into
}

func (f *fakeScreen) size() (int, int) { return 64, 32 }

func (f *fakeScreen) grab(dst *image.YCbCr, force bool) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.grabs++
	if f.bufs == nil {
		f.bufs = map[*image.YCbCr]bool{}
	}
	f.bufs[dst] = true
	if force {
		f.forced++
	}
	if f.changes > 0 || force {
		f.changes = max(f.changes-1, 0)
		for i := range dst.Y {
			dst.Y[i] = byte(f.grabs)
		}
		return true, nil
	}
	return false, nil
}

func (f *fakeScreen) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
}

// The screen source sends every changed picture, skips unchanged ones
// (captured but neither converted nor sent) until staticRefresh, halves
// the picture on the ladder's last rung and ends at Close.
func TestScreenSourceSkipsAStillScreen(t *testing.T) {
	t.Parallel()
	f := &fakeScreen{changes: 3}
	s := newScreenSource("test", f, 60)
	if s.fps != maxScreenFPS {
		t.Fatalf("fps %d, want the cap %d", s.fps, maxScreenFPS)
	}
	read := func() *image.YCbCr {
		t.Helper()
		img, release, err := s.Read()
		if err != nil {
			t.Fatal(err)
		}
		release()
		return img.(*image.YCbCr)
	}
	first := read() // forced: there is no picture yet
	if f.forced != 1 || first.Rect.Dx() != 64 {
		t.Fatalf("first read: %d forced grabs, width %d", f.forced, first.Rect.Dx())
	}
	read()
	read()
	f.mu.Lock()
	before := f.grabs
	f.bufs = nil
	f.mu.Unlock()
	start := time.Now()
	still := read() // nothing changes: the last picture again, after staticRefresh
	f.mu.Lock()
	skipped := f.grabs - before - 1
	f.mu.Unlock()
	if time.Since(start) < staticRefresh-100*time.Millisecond || skipped < 5 {
		t.Fatalf("a still screen was sent after %v and %d skipped grabs", time.Since(start), skipped)
	}
	// Every grab of the still screen went into the same buffer: a still
	// screen allocates nothing.
	f.mu.Lock()
	bufs := len(f.bufs)
	f.mu.Unlock()
	if bufs != 1 {
		t.Fatalf("a still screen was grabbed into %d buffers", bufs)
	}
	if still.Y[0] != byte(before) {
		t.Fatalf("the still picture is %d, want the last one sent (%d)", still.Y[0], before)
	}
	s.set(len(screenLadder) - 1)
	f.mu.Lock()
	f.changes = 1
	f.mu.Unlock()
	if half := read(); half.Rect.Dx() != 32 || half.Rect.Dy() != 16 {
		t.Fatalf("last rung: %v, want half size", half.Rect)
	}
	_ = s.Close()
	if _, _, err := s.Read(); err == nil {
		t.Fatal("Read after Close did not fail")
	}
	if !f.closed {
		t.Fatal("Close did not close the capturer")
	}
}

// Mid-call, ShareScreen replaces the camera with the screen: the peer is
// told (RemoteScreen) and decodes the screen at its size; StopScreenShare
// brings the camera back. A screen that cannot be captured leaves the
// call as it was; without a call there is nothing to share into.
func TestShareScreenMidCall(t *testing.T) {
	d := screenWithPattern(t, 1280, 720)
	p := peertest.New(t)
	var (
		mu    sync.Mutex
		sizes []string // distinct sizes in the order decoded
	)
	onFrame := func(f decodedFrame) {
		mu.Lock()
		defer mu.Unlock()
		s := fmt.Sprintf("%dx%d", f.width, f.height)
		if len(sizes) == 0 || sizes[len(sizes)-1] != s {
			sizes = append(sizes, s)
		}
	}
	lastSize := func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(sizes) == 0 {
			return ""
		}
		return sizes[len(sizes)-1]
	}
	cam := Sources{Video: SourceTestVideo, Audio: SourceTestAudio, Width: 320, Height: 240, FPS: 30}
	a, b := newSidesWith(t, p, cam, Sources{Video: SourceNone, Audio: SourceTestAudio}, onFrame)
	if _, err := a.m.ShareScreen(d, ScreenTarget{}); !errors.Is(err, ErrNotInCall) {
		t.Fatalf("ShareScreen without a call: %v, want ErrNotInCall", err)
	}
	connect(t, a, b, true, false)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		waitSaying(t, 20*time.Second, what, ok, func() string {
			mu.Lock()
			defer mu.Unlock()
			return fmt.Sprintf("sizes decoded %v, view %+v", sizes, b.m.View())
		})
	}
	waitFor("camera", func() bool { return lastSize() == "320x240" })

	if v, err := a.m.ShareScreen(":187", ScreenTarget{}); !errors.Is(err, ErrScreenUnavailable) || v.Screen || !v.LocalVideo {
		t.Fatalf("ShareScreen of an unreachable display: %+v, %v", v, err)
	}
	v, err := a.m.ShareScreen(d, ScreenTarget{})
	if err != nil || !v.Screen || !v.LocalVideo {
		t.Fatalf("ShareScreen: %+v, %v", v, err)
	}
	waitFor("screen", func() bool { return lastSize() == "1280x720" && b.m.View().RemoteScreen })
	// The camera turned off and on while sharing only changes what
	// comes back afterwards.
	if v, _ := a.m.SetCamera(false); !v.Screen {
		t.Fatalf("SetCamera(false) while sharing stopped the share: %+v", v)
	}
	if v, _ := a.m.SetCamera(true); !v.Screen {
		t.Fatalf("SetCamera(true) while sharing stopped the share: %+v", v)
	}
	if v := a.m.StopScreenShare(); v.Screen || !v.LocalVideo {
		t.Fatalf("StopScreenShare: %+v", v)
	}
	waitFor("camera again", func() bool { return lastSize() == "320x240" && !b.m.View().RemoteScreen && b.m.View().RemoteVideo })
	a.m.HangUp()
	b.await(t, StateEnded)
}

// Window ids come from the UI and the command line: whatever parses
// names one window id or screen, and prints back as it parses.
func FuzzParseScreenSource(f *testing.F) {
	for _, s := range []string{"screen", "screen:1", "window:0x1a00007", "window:0x", "window:0x1fffffff", "window:0xFFFFFFFF", "window:0x+1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok, err := ParseScreenSource(s)
		if !ok || err != nil {
			return
		}
		if got.Window > maxWindowID || got.Screen < 0 || got.Screen > 99 || (got.Window != 0 && got.Screen != 0) {
			t.Fatalf("%q parsed to %+v", s, got)
		}
		again, ok, err := ParseScreenSource(got.String())
		if !ok || err != nil || again != got {
			t.Fatalf("%q: %+v prints as %q, which parses to %+v, %v, %v", s, got, got.String(), again, ok, err)
		}
	})
}

// Window titles are any X client's bytes: what is shown is valid UTF-8
// without control or formatting characters, and short.
func FuzzSanitizeTitle(f *testing.F) {
	for _, s := range []string{"Terminal", "a\x00b", "\u202eexe.txt", "Caf\xe9", strings.Repeat("x", 300)} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, raw []byte, isUTF8 bool) {
		s := sanitizeTitle(raw, isUTF8)
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxTitle+1 || s != strings.TrimSpace(s) {
			t.Fatalf("sanitizeTitle(%q) = %q", raw, s)
		}
		for _, r := range s {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
				t.Fatalf("sanitizeTitle(%q) = %q keeps %U", raw, s, r)
			}
		}
	})
}

// TestX11ServerGoneEndsCapture: an X server that goes away mid-share is a
// failed capture with the reason, not the end of the process (Xlib's
// default is to exit on a broken connection; the test binary would die).
func TestX11ServerGoneEndsCapture(t *testing.T) {
	t.Parallel()
	for _, window := range []bool{false, true} {
		d, stop, err := xvfbtest.Run(640, 480)
		if err != nil {
			t.Fatal(err)
		}
		target := ScreenTarget{}
		if window {
			w := xvfbtest.Window(t, d, "gone", 10, 10, 200, 150, color.RGBA{R: 200, A: 255})
			target = ScreenTarget{Window: w.ID}
		}
		c, err := openScreenCapture(t.Context(), d, target)
		if err != nil {
			stop()
			t.Fatal(err)
		}
		cw, ch := c.size()
		img := image.NewYCbCr(image.Rect(0, 0, cw, ch), image.YCbCrSubsampleRatio420)
		if _, err := c.grab(img, true); err != nil {
			stop()
			t.Fatalf("window %v: first grab: %v", window, err)
		}
		stop()
		_, err = c.grab(img, true)
		if !errors.Is(err, ErrScreenUnavailable) || !strings.Contains(err.Error(), "went away") {
			t.Fatalf("window %v: grab after the server went away: %v", window, err)
		}
		c.close()
	}
}

// TestHangUpWhileTheScreenOpens: opening a screen can take as long as
// the user looks at the desktop's picker (Wayland) or a display takes to
// answer; the call's controls do not wait for it, and a screen that opens
// after the call ended is not shared. The display here is an X11 socket
// that accepts and never answers, so XOpenDisplay blocks until the test
// closes it.
func TestHangUpWhileTheScreenOpens(t *testing.T) {
	var display string
	var ln net.Listener
	for n := 190; n < 290 && ln == nil; n++ {
		l, err := net.Listen("unix", fmt.Sprintf("@/tmp/.X11-unix/X%d", n)) // Linux's abstract sockets, tried first by libxcb
		if err == nil {
			ln, display = l, fmt.Sprintf(":%d", n)
		}
	}
	if ln == nil {
		t.Fatal("no free abstract X11 socket in :190-:289")
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	p := peertest.New(t)
	a, b := newSides(t, p, Sources{Video: SourceNone, Audio: SourceTestAudio})
	connect(t, a, b, false, false)
	shared := make(chan error, 1)
	go func() {
		_, err := a.m.ShareScreen(display, ScreenTarget{})
		shared <- err
	}()
	var conn net.Conn
	select {
	case conn = <-accepted:
	case <-time.After(20 * time.Second):
		t.Fatal("ShareScreen never connected to the display")
	}
	// The screen is opening: the call answers at once.
	hung := make(chan struct{})
	go func() {
		a.m.HangUp()
		close(hung)
	}()
	select {
	case <-hung:
	case <-time.After(10 * time.Second):
		conn.Close()
		t.Fatal("HangUp waited for the screen to open")
	}
	b.await(t, StateEnded)
	conn.Close() // the display gives up: XOpenDisplay returns
	ln.Close()
	if err := <-shared; err == nil {
		t.Fatal("ShareScreen succeeded after the call ended")
	}
	if v := a.m.View(); v.Screen {
		t.Fatalf("sharing after the call ended: %+v", v)
	}
}

// TestX11CaptureDrawsThePointer: the screen's picture has no mouse
// pointer of its own; the capture draws it in where the pointer is, and a
// pointer that moves over a still screen is a change (the peer follows
// what the sharer points at).
func TestX11CaptureDrawsThePointer(t *testing.T) {
	t.Parallel()
	const w, h = 320, 240
	d := xvfbtest.Start(t, w, h)
	grey := color.RGBA{128, 128, 128, 255}
	bg := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(bg.Pix); i += 4 {
		bg.Pix[i], bg.Pix[i+1], bg.Pix[i+2], bg.Pix[i+3] = grey.R, grey.G, grey.B, grey.A
	}
	xvfbtest.Paint(t, d, bg)
	pointAt := func(x, y int) { xvfbtest.PointAt(t, d, x, y) }
	// Pixels within 20 px of (x, y) that are not the background.
	marked := func(img *image.YCbCr, x, y int) int {
		n := 0
		for yy := max(y-20, 0); yy < min(y+20, h); yy++ {
			for xx := max(x-20, 0); xx < min(x+20, w); xx++ {
				if abs(int(img.Y[img.YOffset(xx, yy)])-yuv(grey)[0]) > 30 {
					n++
				}
			}
		}
		return n
	}
	pointAt(80, 60)
	c, err := openScreenCapture(t.Context(), d, ScreenTarget{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	if _, err := c.grab(img, true); err != nil {
		t.Fatal(err)
	}
	if y, want := int(img.Y[img.YOffset(5, 5)]), yuv(grey)[0]; abs(y-want) > 2 {
		t.Fatalf("background luma %d, want %d", y, want)
	}
	if n := marked(img, 80, 60); n < 20 {
		t.Fatalf("%d pointer pixels around (80, 60)", n)
	}
	if changed, err := c.grab(img, false); err != nil || changed {
		t.Fatalf("still screen, still pointer: changed %v, %v", changed, err)
	}
	pointAt(240, 180)
	changed, err := c.grab(img, false)
	if err != nil || !changed {
		t.Fatalf("the pointer moved: changed %v, %v", changed, err)
	}
	if n := marked(img, 240, 180); n < 20 {
		t.Fatalf("%d pointer pixels around (240, 180) after the move", n)
	}
	if n := marked(img, 80, 60); n != 0 {
		t.Fatalf("%d pointer pixels left at the old place", n)
	}
}
