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
)

// Screen sharing: the call's video source is the screen instead of a
// camera (Sources.Video "screen" or "screen:N"). Which capture applies is
// decided at run time (screen_wayland.go): an X11 display that is the
// desktop (screen_x11.go); else, in a Wayland session, the desktop portal
// (xdg-desktop-portal ScreenCast + PipeWire: screen_portal.go,
// screen_pipewire.go). Without either the share fails with
// ErrScreenUnavailable and a sentence saying why, rather than sending a
// black picture.

// SourceScreen shares screen 0 of the X11 display ($DISPLAY, or
// Sources.Display); "screen:N" shares screen N.
const SourceScreen = "screen"

// ErrScreenUnavailable is why a screen cannot be shared (no X11 display,
// a Wayland session, no such screen); its code is SCREEN_UNAVAILABLE.
var ErrScreenUnavailable = errors.New("call: screen capture is unavailable")

var errScreenClosed = errors.New("call: screen capture closed")

// ParseScreenSource reports whether a video source names a screen, and
// which: "screen" is 0, "screen:N" is N (0-99).
func ParseScreenSource(s string) (screen int, ok bool, err error) {
	if s == SourceScreen {
		return 0, true, nil
	}
	rest, found := strings.CutPrefix(s, SourceScreen+":")
	if !found {
		return 0, false, nil
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || n > 99 || strconv.Itoa(n) != rest {
		return 0, true, fmt.Errorf("%q: want screen or screen:N (N a screen number, 0-99)", s)
	}
	return n, true, nil
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

// screenCapturer grabs one screen as I420 pictures of a fixed size.
type screenCapturer interface {
	size() (w, h int)
	// grab writes the picture into dst when it changed since the last
	// grab (or force) and reports whether it did.
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
}

func newScreenSource(id string, c screenCapturer, fps int) *screenSource {
	return &screenSource{id: id, cap: c, fps: min(max(fps, 1), maxScreenFPS), closed: make(chan struct{})}
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
		if s.spare == nil {
			w, h := s.cap.size()
			s.spare = image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		}
		img := s.spare
		changed, err := s.cap.grab(img, s.last == nil)
		if err != nil {
			select {
			case <-s.closed:
				return nil, func() {}, io.EOF
			default:
			}
			return nil, func() {}, err
		}
		now = time.Now()
		switch {
		case changed:
			s.spare = nil // handed out: encoders may hold it
		case now.Sub(s.lastSent) < staticRefresh:
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
