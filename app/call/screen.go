package call

import (
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Screen sharing: the call's video source is the screen instead of a
// camera (Sources.Video "screen", "screen:N" or "window:0xID"). Which
// capture applies is decided at run time (screen_wayland.go): an X11
// display that is the desktop (screen_x11.go); else, in a Wayland
// session, the desktop portal (xdg-desktop-portal ScreenCast + PipeWire:
// screen_portal.go, screen_pipewire.go). Without either the share fails
// with ErrScreenUnavailable and a sentence saying why, rather than
// sending a black picture.

// SourceScreen shares screen 0 of the X11 display ($DISPLAY, or
// Sources.Display); "screen:N" shares screen N.
const SourceScreen = "screen"

// ErrScreenUnavailable is why a screen cannot be shared (no X11 display,
// a Wayland session, no such screen); its code is SCREEN_UNAVAILABLE.
var ErrScreenUnavailable = errors.New("call: screen capture is unavailable")

var errScreenClosed = errors.New("call: screen capture closed")

// ErrWindowClosed ends the sharing of a window that closed, or was
// unmapped (minimised, or moved to another desktop); its code is
// WINDOW_CLOSED.
var ErrWindowClosed = errors.New("call: the shared window was closed")

// ReasonWindowClosed is the code (View.Error) of ErrWindowClosed.
const ReasonWindowClosed = "WINDOW_CLOSED"

// errCaptureResized says a shared window changed size: the capturer's
// size() is the new one, and the next picture is a new buffer.
var errCaptureResized = errors.New("call: the shared window changed size")

// SourceWindow prefixes a window's source, "window:0x1a00007" (the X11
// window id in hex).
const SourceWindow = "window"

// maxWindowID is the largest X11 resource id (29 bits).
const maxWindowID = 0x1fff_ffff

// ScreenTarget is what a share captures: X screen Screen, or one window.
type ScreenTarget struct {
	// Screen is the X screen number (0-99) of a whole-screen share.
	Screen int
	// Window is an X11 window id; 0 shares the whole screen.
	Window uint32
}

// String is the target's source name: "screen:0" or "window:0x1a00007".
func (t ScreenTarget) String() string {
	if t.Window != 0 {
		return fmt.Sprintf("%s:0x%x", SourceWindow, t.Window)
	}
	return SourceScreen + ":" + strconv.Itoa(t.Screen)
}

// ParseScreenSource reports whether a video source names a screen or a
// window, and which: "screen" is screen 0, "screen:N" screen N (0-99),
// "window:0xID" the X11 window ID (hex, 1-8 digits, an X resource id).
// A malformed one is an error (it comes from the UI or the command line).
func ParseScreenSource(s string) (t ScreenTarget, ok bool, err error) {
	if s == SourceScreen {
		return ScreenTarget{}, true, nil
	}
	if rest, found := strings.CutPrefix(s, SourceWindow+":"); found {
		hex, isHex := strings.CutPrefix(rest, "0x")
		v, err := strconv.ParseUint(hex, 16, 32)
		if !isHex || err != nil || len(hex) > 8 || v == 0 || v > maxWindowID {
			return ScreenTarget{}, true, fmt.Errorf("%q: want window:0xID (ID an X11 window id in hex, as parley-cli screens lists it)", truncate(s, 40))
		}
		return ScreenTarget{Window: uint32(v)}, true, nil
	}
	rest, found := strings.CutPrefix(s, SourceScreen+":")
	if !found {
		return ScreenTarget{}, false, nil
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || n > 99 || strconv.Itoa(n) != rest {
		return ScreenTarget{}, true, fmt.Errorf("%q: want screen or screen:N (N a screen number, 0-99)", truncate(s, 40))
	}
	return ScreenTarget{Screen: n}, true, nil
}

// truncate cuts s to at most n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// ScreenSource is one thing that can be shared: a whole screen or a
// window (ListScreenSources).
type ScreenSource struct {
	// ID is the source to share: "screen:0", "window:0x1a00007".
	ID string `json:"id"`
	// Title is "Entire screen" or the window's title (sanitised: no
	// control or formatting characters, at most maxTitle characters).
	Title string `json:"title"`
	// Width and Height are what sharing it sends now.
	Width  int `json:"width"`
	Height int `json:"height"`
}

// ListScreenSources lists what can be shared on an X11 display ("" is
// $DISPLAY): its screens first, then the shown top-level windows with a
// title, topmost first. Windows are listed only where one window can be
// shared (the Composite extension); a display that cannot be captured at
// all is ErrScreenUnavailable with the reason.
func ListScreenSources(display string) ([]ScreenSource, error) {
	return listScreenSources(display)
}

// screenTitle names screen i of n.
func screenTitle(i, n int) string {
	if n == 1 {
		return "Entire screen"
	}
	return fmt.Sprintf("Entire screen %d", i+1)
}

// maxTitle is the most characters of a window title listed.
const maxTitle = 80

// sanitizeTitle makes a window's title (any client's bytes) fit to show:
// UTF-8 (WM_NAME's Latin-1 converted; invalid bytes dropped), without
// control or formatting characters (a right-to-left override would
// disguise the title), runs of spaces as one, at most maxTitle
// characters.
func sanitizeTitle(raw []byte, isUTF8 bool) string {
	var s string
	if isUTF8 {
		s = strings.ToValidUTF8(string(raw), "")
	} else {
		r := make([]rune, len(raw))
		for i, b := range raw {
			r[i] = rune(b)
		}
		s = string(r)
	}
	var b strings.Builder
	n, space := 0, false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Co, r), r == utf8.RuneError:
			continue
		}
		if space {
			n++
		}
		if n >= maxTitle {
			b.WriteString("…")
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// noDisplayError is the error without any DISPLAY to try.
func noDisplayError() error {
	if os.Getenv("WAYLAND_DISPLAY") != "" {
		return noX11Error{fmt.Errorf("%w: no X11 display", ErrScreenUnavailable), false}
	}
	return noX11Error{fmt.Errorf("%w: no X11 display (DISPLAY is not set)", ErrScreenUnavailable), false}
}

// noX11Error is an X11 failure that means "no X11 desktop here" (no
// display, one that does not open, XWayland, no libX11): in a Wayland
// session the desktop portal is tried next.
type noX11Error struct {
	error
	xwayland bool // the display is XWayland: a Wayland session for sure
}

func (e noX11Error) Unwrap() error { return e.error }

// screenCapturer grabs one screen, or one window, as I420 pictures (a
// screen's of a fixed size, a window's of its size).
type screenCapturer interface {
	// size is the picture's size now (a window's changes with it).
	size() (w, h int)
	// grab writes the picture into dst when it changed since the last
	// grab (or force) and reports whether it did; errCaptureResized when
	// dst is no longer size() (nothing written). Before its first picture
	// a capturer may report no change even when forced.
	grab(dst *image.YCbCr, force bool) (bool, error)
	close()
}

// maxScreenFPS is the most a shared screen sends: a screen is read, not
// watched, so detail (resolution) goes before motion (frame rate).
const maxScreenFPS = 15

// staticRefresh is how often a screen that does not change still sends a
// frame: an unchanged picture costs one capture and comparison per tick
// and, about once a second, a frame the encoder codes in a few bytes.
// (The receiver's decoder and the keyframe requests need frames to come.)
const staticRefresh = time.Second

// screenSource is a mediadevices VideoSource over a screenCapturer, paced
// at the screen ladder's frame rate, halving the picture on its last rung.
// It is its own shaper: frames it would drop are never captured.
type screenSource struct {
	id    string
	cap   screenCapturer
	fps   int // at most
	level atomic.Int32

	mu       sync.Mutex
	next     time.Time
	last     *image.YCbCr // the last picture sent, full size
	spare    *image.YCbCr // a picture not handed out yet (the screen did not change)
	lastSent time.Time
	closed   chan struct{}
	once     sync.Once

	// failed is closed when capture failed for good (a shared window
	// closed, the server went away); err says why.
	failed   chan struct{}
	failOnce sync.Once
	err      error
}

func newScreenSource(id string, c screenCapturer, fps int) *screenSource {
	return &screenSource{id: id, cap: c, fps: min(max(fps, 1), maxScreenFPS), closed: make(chan struct{}), failed: make(chan struct{})}
}

// fail records why capture ended; the first reason counts.
func (s *screenSource) fail(err error) {
	s.failOnce.Do(func() {
		s.err = err
		close(s.failed)
	})
}

// failure is why capture ended, once failed is closed.
func (s *screenSource) failure() error {
	<-s.failed
	return s.err
}

func (s *screenSource) ID() string { return s.id }

// set is the shaper's knob (screenLadder's rung), from the adapt loop.
func (s *screenSource) set(level int) { s.level.Store(int32(level)) }

func (s *screenSource) current() videoLevel {
	return screenLadder[min(int(s.level.Load()), len(screenLadder)-1)]
}

func (s *screenSource) Close() error {
	s.once.Do(func() {
		close(s.closed)
		s.mu.Lock() // a Read under way finishes its grab first
		s.cap.close()
		s.mu.Unlock()
	})
	return nil
}

// Read returns the next picture: at the rung's rate while the screen
// changes, once per staticRefresh while it does not.
func (s *screenSource) Read() (image.Image, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		select {
		case <-s.failed:
			return nil, func() {}, s.err
		default:
		}
		l := s.current()
		interval := time.Second / time.Duration(min(l.fps, s.fps))
		now := time.Now()
		if s.next.IsZero() || now.Sub(s.next) > 10*interval {
			s.next = now
		}
		select {
		case <-s.closed:
			return nil, func() {}, io.EOF
		case <-time.After(time.Until(s.next)):
		}
		s.next = s.next.Add(interval)
		// A picture goes to the encoder only when the screen changed;
		// until then the same buffer takes every grab (a still 1080p
		// screen would otherwise allocate 3 MB 15 times a second).
		if w, h := s.cap.size(); s.spare == nil || s.spare.Rect.Dx() != w || s.spare.Rect.Dy() != h {
			s.spare = image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		}
		img := s.spare
		changed, err := s.cap.grab(img, s.last == nil)
		if errors.Is(err, errCaptureResized) {
			// A window changed size: grab again at once at its new
			// size (the encoder restarts at it with a keyframe).
			s.spare, s.last, s.next = nil, nil, time.Now()
			continue
		}
		if err != nil {
			select {
			case <-s.closed:
				return nil, func() {}, io.EOF
			default:
			}
			s.fail(err)
			return nil, func() {}, err
		}
		now = time.Now()
		switch {
		case changed:
			s.spare = nil // handed out: encoders may hold it
		case s.last == nil, now.Sub(s.lastSent) < staticRefresh:
			// (No picture yet: a portal stream sends its first frame
			// when the screen first changes. Nothing, never black.)
			continue
		default:
			img = s.last // encoders only read it
		}
		s.last, s.lastSent = img, now
		if l.scale == 2 {
			return halve(img), func() {}, nil
		}
		return img, func() {}, nil
	}
}
