//go:build linux && cgo

package call

import (
	"errors"
	"image"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/parley-chat/parley/app/peer/peertest"
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

// openPortalCapture opens the desktop's screen through the portal (the
// test's session s), closed when the test ends.
func openPortalCapture(t *testing.T, s *waylandtest.Session) screenCapturer {
	t.Helper()
	c, err := openScreenCapture(t.Context(), "", ScreenTarget{})
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Logs())
	}
	t.Cleanup(c.close)
	return c
}

// Through the desktop portal and PipeWire, a Wayland screen is captured
// at the output's size with the picture on it; an unchanged screen is
// reported unchanged.
func TestPortalCaptureReadsTheScreen(t *testing.T) {
	s := waylandWithPattern(t, 1280, 720, waylandtest.ScreenCast)
	// What can be shared: one entry, the portal's dialog chooses.
	if list, err := ListScreenSources(""); err != nil || len(list) != 1 || list[0] != (ScreenSource{ID: "screen:0", Title: portalSourceTitle}) {
		t.Fatalf("ListScreenSources = %+v, %v", list, err)
	}
	c := openPortalCapture(t, s)
	if _, ok := c.(*portalScreen); !ok {
		t.Fatalf("capturer %T, want the portal's", c)
	}
	w, h := c.size()
	if w != 1280 || h != 720 {
		t.Fatalf("screen size %dx%d, want 1280x720", w, h)
	}
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	// Frames come when the screen changes; those in a redraw show the
	// output before swaybg drew on it.
	stop := s.KeepRedrawing(t)
	deadline := time.Now().Add(20 * time.Second)
	e := 1 << 30
	for {
		changed, err := c.grab(img, true)
		if err != nil {
			t.Fatal(err)
		}
		if changed {
			if e = blockLumaError(img.Y, img.YStride, w, h); e <= 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no frame matched the pattern in 20 s (last: block error %d)\n%s", e, s.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	// Once the screen is still it is reported unchanged (not converted,
	// not encoded): three grabs in a row, within a few seconds of the last
	// redraw settling.
	deadline = time.Now().Add(10 * time.Second)
	for still := 0; still < 3; {
		changed, err := c.grab(img, false)
		if err != nil {
			t.Fatal(err)
		}
		if still++; changed {
			still = 0
		}
		if time.Now().After(deadline) {
			t.Fatal("a still screen keeps reporting changes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if changed, err := c.grab(img, true); err != nil || !changed {
		t.Fatalf("forced grab: changed %v, %v", changed, err)
	}
	if e := blockLumaError(img.Y, img.YStride, w, h); e > 2 {
		t.Fatalf("the still screen differs from the pattern by up to %d", e)
	}
	// Closing the capture closes the portal's session (the desktop's
	// "sharing" indicator goes away with it).
	session := c.(*portalScreen).portal.session
	bus, err := dbus.Connect(s.BusAddress)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	alive := func() bool {
		var v dbus.Variant
		err := bus.Object(portalName, session).Call("org.freedesktop.DBus.Properties.Get", 0, portalSession, "version").Store(&v)
		return err == nil
	}
	if !alive() {
		t.Fatalf("the portal session %s is not there while sharing", session)
	}
	c.close()
	if alive() {
		t.Fatalf("the portal session %s is still open after close", session)
	}
}

// An X11 display that is XWayland is not the desktop (its root window
// shows X clients only): even without WAYLAND_DISPLAY, the share goes
// through the portal and shows the Wayland desktop's picture.
func TestXWaylandSharesThroughThePortal(t *testing.T) {
	s := waylandtest.Start(t, waylandtest.Options{Width: 640, Height: 480, Background: xvfbtest.Blocks(640, 480, patCols, patRows), Portal: waylandtest.ScreenCast, XWayland: true})
	s.Setenv(t)
	t.Setenv("WAYLAND_DISPLAY", "")
	t.Setenv("DISPLAY", s.XDisplay)
	c := openPortalCapture(t, s)
	if _, ok := c.(*portalScreen); !ok {
		t.Fatalf("capturer %T, want the portal's", c)
	}
	if w, h := c.size(); w != 640 || h != 480 {
		t.Fatalf("screen size %dx%d, want 640x480", w, h)
	}
	if list, err := ListScreenSources(""); err != nil || len(list) != 1 || list[0].Title != portalSourceTitle {
		t.Fatalf("ListScreenSources on XWayland = %+v, %v; want the portal's entry", list, err)
	}
	// Without the portal, XWayland is SCREEN_UNAVAILABLE with both reasons.
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
	err := CheckSources(Sources{Video: "screen", Audio: SourceNone})
	want := s.XDisplay + `" is XWayland: its root window is not the desktop; this is a Wayland session, and the session D-Bus cannot be reached`
	if !errors.Is(err, ErrScreenUnavailable) || !strings.Contains(err.Error(), want) {
		t.Fatalf("CheckSources without a bus: %v; want %q", err, want)
	}
}

// When the output's size changes mid-share the capture follows it
// (errCaptureResized, then pictures of the new size), as a shared X11
// window does; the screen source reads on at the new size.
func TestPortalCaptureFollowsAResize(t *testing.T) {
	s := waylandWithPattern(t, 640, 480, waylandtest.ScreenCast)
	c := openPortalCapture(t, s)
	src := newScreenSource("test", c, 15)
	defer src.Close()
	s.KeepRedrawing(t)
	read := func() image.Rectangle {
		t.Helper()
		img, release, err := src.Read()
		if err != nil {
			t.Fatalf("%v\n%s", err, s.Logs())
		}
		release()
		return img.Bounds()
	}
	if r := read(); r.Dx() != 640 || r.Dy() != 480 {
		t.Fatalf("first picture %v, want 640x480", r)
	}
	if err := s.Resize(800, 600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for r := read(); r.Dx() != 800 || r.Dy() != 600; r = read() {
		if r.Dx() != 640 || r.Dy() != 480 {
			t.Fatalf("picture %v while resizing from 640x480 to 800x600", r)
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %v 20 s after the output became 800x600\n%s", r, s.Logs())
		}
	}
	if w, h := c.size(); w != 800 || h != 600 {
		t.Fatalf("size() %dx%d after the resize", w, h)
	}
}

// When the stream goes away mid-share (here the portal's backend dies,
// taking its PipeWire node along), the capture ends with a clear
// SCREEN_UNAVAILABLE error, not a crash and not frozen frames forever.
func TestPortalShareEndsWithTheStream(t *testing.T) {
	s := waylandWithPattern(t, 640, 480, waylandtest.ScreenCast)
	c := openPortalCapture(t, s)
	w, h := c.size()
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	if _, err := c.grab(img, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Kill("xdg-desktop-portal-wlr"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := c.grab(img, false)
		if err != nil {
			if !errors.Is(err, ErrScreenUnavailable) || !strings.Contains(err.Error(), "the screen share ended") {
				t.Fatalf("grab after the stream went: %v", err)
			}
			t.Logf("ended: %v", err)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the capture still reports frames 20 s after its stream went\n%s", s.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A Wayland session where the portal cannot share the screen fails with
// SCREEN_UNAVAILABLE and the precise reason, and opens no video; the
// check before a call (CheckSources) shows no picker, so a portal that
// can screen-cast passes it and only the share itself meets the user's
// cancel.
func TestWaylandScreenUnavailableSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		portal  waylandtest.Portal
		bus     string // DBUS_SESSION_BUS_ADDRESS instead of the desktop's
		video   string
		checkOK bool // CheckSources passes (the failure comes at the share)
		want    string
	}{
		{"bus that does not answer", waylandtest.NoPortal, "unix:path=/nonexistent/bus", "screen", false, "no X11 display; this is a Wayland session, and the session D-Bus cannot be reached"},
		{"no portal on the bus", waylandtest.NoPortal, "", "screen", false, "no X11 display; this is a Wayland session, and no desktop portal is running on the session D-Bus"},
		{"portal without ScreenCast", waylandtest.PortalWithoutScreenCast, "", "screen", false, "this is a Wayland session, and the desktop portal cannot share screens (no ScreenCast"},
		{"a screen number", waylandtest.NoPortal, "", "screen:1", false, "the desktop portal asks what to share: use screen, not screen:1"},
		{"a window id", waylandtest.NoPortal, "", "window:0x1a00007", false, "the desktop portal asks what to share: use screen, not window:0x1a00007"},
		{"user cancels the picker", waylandtest.ScreenCastCancelled, "", "screen", true, "this is a Wayland session, and you cancelled the screen picker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := waylandtest.Start(t, waylandtest.Options{Width: 640, Height: 480, Portal: tc.portal})
			s.Setenv(t)
			if tc.bus != "" {
				t.Setenv("DBUS_SESSION_BUS_ADDRESS", tc.bus)
			}
			src := Sources{Video: tc.video, Audio: SourceNone}
			err := CheckSources(src)
			if tc.checkOK {
				if err != nil {
					t.Fatalf("CheckSources: %v\n%s", err, s.Logs())
				}
			} else if !errors.Is(err, ErrScreenUnavailable) || Reason(err) != ReasonScreenUnavailable || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckSources: %v (%s); want SCREEN_UNAVAILABLE saying %q\n%s", err, Reason(err), tc.want, s.Logs())
			}
			v, err := openVideo(src)
			if v != nil || !errors.Is(err, ErrScreenUnavailable) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("openVideo: %v, %v; want no video and SCREEN_UNAVAILABLE saying %q\n%s", v, err, tc.want, s.Logs())
			}
			// The list of what can be shared says the same (it shows no
			// picker either); a target the portal cannot take is the
			// list's business only when it is shared.
			list, err := ListScreenSources("")
			switch {
			case tc.video != "screen":
			case tc.checkOK:
				if err != nil || len(list) != 1 {
					t.Fatalf("ListScreenSources = %+v, %v; want the portal's entry", list, err)
				}
			case !errors.Is(err, ErrScreenUnavailable) || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("ListScreenSources = %+v, %v; want SCREEN_UNAVAILABLE saying %q", list, err, tc.want)
			}
		})
	}
}

// TestWaylandScreenShareCall shares a Wayland desktop through the portal
// in a call between two real pion peers on loopback: the viewer decodes
// frames of the output's size whose blocks match the picture on it.
// Sharing ends with the call, and the portal session with it.
func TestWaylandScreenShareCall(t *testing.T) {
	s := waylandWithPattern(t, 1280, 720, waylandtest.ScreenCast)
	p := peertest.New(t)
	pw := newPatternWatch(1280, 720)
	sharer := Sources{Video: "screen", Audio: SourceTestAudio, FPS: 30}
	viewer := Sources{Video: SourceNone, Audio: SourceTestAudio}
	if err := CheckSources(sharer); err != nil {
		t.Fatalf("CheckSources: %v\n%s", err, s.Logs())
	}
	a, b := newSidesWith(t, p, sharer, viewer, pw.onFrame)
	connect(t, a, b, true, false)
	stop := s.KeepRedrawing(t)
	defer stop()
	select {
	case <-pw.matched:
	case <-time.After(30 * time.Second):
		t.Fatalf("no decoded 1280x720 frame matched the screen: %s, stats %+v\n%s", pw, b.m.Stats(), s.Logs())
	}
	t.Logf("viewer: %+v; %s", b.m.Stats(), pw)
	a.m.HangUp()
	b.await(t, StateEnded)
}

// lateScreen is a capturer without a picture until its first frame
// (as a portal stream before the screen first changes).
type lateScreen struct {
	fakeScreen
	before int // forced grabs that find no picture yet
}

func (l *lateScreen) grab(dst *image.YCbCr, force bool) (bool, error) {
	l.mu.Lock()
	if l.before > 0 {
		l.before--
		l.grabs++
		l.mu.Unlock()
		return false, nil
	}
	l.mu.Unlock()
	return l.fakeScreen.grab(dst, force)
}

// Until the capturer has a first picture the screen source sends
// nothing (no black frame, no nil picture), then that picture.
func TestScreenSourceWaitsForAFirstPicture(t *testing.T) {
	t.Parallel()
	l := &lateScreen{before: 4}
	s := newScreenSource("test", l, 15)
	defer s.Close()
	img, release, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	release()
	y, ok := img.(*image.YCbCr)
	if !ok || y == nil || y.Rect.Dx() != 64 {
		t.Fatalf("first picture %T %v", img, img)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.grabs != 5 || y.Y[0] != 5 {
		t.Fatalf("%d grabs, picture %d: want the 5th grab's picture", l.grabs, y.Y[0])
	}
}

// Another process on the session bus (any program of the user's) can
// send us a signal that looks like the portal's: only the portal's own
// "session closed" ends the share.
func TestPortalIgnoresSignalsFromOthers(t *testing.T) {
	s := waylandWithPattern(t, 640, 480, waylandtest.ScreenCast)
	c := openPortalCapture(t, s)
	ps := c.(*portalScreen)
	other, err := dbus.Connect(s.BusAddress)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	spoof := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:        dbus.MakeVariant(ps.portal.session),
		dbus.FieldInterface:   dbus.MakeVariant(portalSession),
		dbus.FieldMember:      dbus.MakeVariant("Closed"),
		dbus.FieldDestination: dbus.MakeVariant(ps.portal.conn.Names()[0]),
	}}
	spoof.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf())
	if call := other.Send(spoof, nil); call != nil && call.Err != nil {
		t.Fatal(call.Err)
	}
	// Grab until the spoofed signal has surely been read (a marker
	// signal from the same sender, sent after it, arrives after it).
	marker := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:        dbus.MakeVariant(dbus.ObjectPath("/parley/test")),
		dbus.FieldInterface:   dbus.MakeVariant("org.parley.Test"),
		dbus.FieldMember:      dbus.MakeVariant("Marker"),
		dbus.FieldDestination: dbus.MakeVariant(ps.portal.conn.Names()[0]),
	}}
	marker.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf())
	seen := make(chan struct{})
	mark := make(chan *dbus.Signal, 4)
	ps.portal.conn.Signal(mark)
	go func() {
		for sig := range mark {
			if sig.Name == "org.parley.Test.Marker" {
				close(seen)
				return
			}
		}
	}()
	if call := other.Send(marker, nil); call != nil && call.Err != nil {
		t.Fatal(call.Err)
	}
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the marker signal never arrived")
	}
	ps.portal.conn.RemoveSignal(mark)
	w, h := c.size()
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	if _, err := c.grab(img, true); err != nil {
		t.Fatalf("a signal from another process ended the share: %v", err)
	}
}

// TestHangUpWithdrawsThePortalPicker: the desktop's picker is up and the
// user has not chosen yet when the call ends (here the peer hangs up).
// ShareScreen returns ErrNotInCall at once and the request to the portal
// is withdrawn (its Request.Close, which takes the desktop's dialog down),
// instead of a share that waits up to three minutes for an answer no one
// needs any more, under a dialog left on the screen.
func TestHangUpWithdrawsThePortalPicker(t *testing.T) {
	s := waylandWithPattern(t, 640, 360, waylandtest.ScreenCastPickerWaits)
	p := peertest.New(t)
	a, b := newSides(t, p, Sources{Video: SourceNone, Audio: SourceTestAudio})
	connect(t, a, b, false, false)
	shared := make(chan error, 1)
	go func() {
		_, err := a.m.ShareScreen("", ScreenTarget{})
		shared <- err
	}()
	peertest.Eventually(t, 20*time.Second, "the portal's picker is up", s.PickerShown)
	b.m.HangUp()
	a.await(t, StateEnded)
	select {
	case err := <-shared:
		if !errors.Is(err, ErrNotInCall) {
			t.Fatalf("ShareScreen after the call ended: %v, want ErrNotInCall", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("ShareScreen still waits for the picker 10 s after the call ended\n%s", s.Logs())
	}
	if v := a.m.View(); v.Screen {
		t.Fatalf("sharing after the call ended: %+v", v)
	}
}
