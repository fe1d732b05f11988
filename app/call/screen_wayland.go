//go:build linux && cgo

package call

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"strings"
)

// openScreenCapture picks the capture that applies here, at run time: an
// X11 display that is the desktop (not XWayland) is read directly; in a
// Wayland session (WAYLAND_DISPLAY set, or the X display is XWayland) the
// desktop portal asks the user what to share. Without either the error
// says why, X11's reason first, then the portal's. ctx withdraws the
// portal's picker while it waits for the user.
func openScreenCapture(ctx context.Context, display string, t ScreenTarget) (screenCapturer, error) {
	x, xerr := openX11(display, t)
	if xerr == nil {
		return x, nil
	}
	if !tryPortal(xerr) {
		return nil, xerr
	}
	if err := portalTarget(t); err != nil {
		return nil, waylandError(xerr, err)
	}
	s, err := openPortalScreen(ctx)
	if err != nil {
		return nil, waylandError(xerr, err)
	}
	return s, nil
}

// checkScreenCapture reports whether sharing could start here, without
// asking the user anything (CheckSources runs before a call: the portal's
// picker comes when sharing starts, once).
func checkScreenCapture(display string, t ScreenTarget) error {
	x, xerr := openX11(display, t)
	if xerr == nil {
		x.close()
		return nil
	}
	if !tryPortal(xerr) {
		return xerr
	}
	if err := portalTarget(t); err != nil {
		return waylandError(xerr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), portalQuickTimeout)
	defer cancel()
	if err := checkPortal(ctx); err != nil {
		return waylandError(xerr, err)
	}
	return nil
}

// portalSourceTitle names the one source listed on Wayland: the portal's
// own dialog chooses the screen or window.
const portalSourceTitle = "Screen or window (your desktop asks which)"

// listScreenSources lists what can be shared: the X11 display's screens
// and windows; in a Wayland session one entry, "screen:0", for the
// portal, whose dialog then chooses (its size is not known before: 0x0).
func listScreenSources(display string) ([]ScreenSource, error) {
	list, xerr := listX11Sources(display)
	if xerr == nil && !isOldXWayland(display, 0) {
		return list, nil
	}
	if xerr == nil {
		xerr = xwaylandError(display)
	}
	if !tryPortal(xerr) {
		return nil, xerr
	}
	ctx, cancel := context.WithTimeout(context.Background(), portalQuickTimeout)
	defer cancel()
	if err := checkPortal(ctx); err != nil {
		return nil, waylandError(xerr, err)
	}
	return []ScreenSource{{ID: ScreenTarget{}.String(), Title: portalSourceTitle}}, nil
}

// portalTarget refuses what the portal cannot be asked for: a screen
// number or a window id (its dialog chooses).
func portalTarget(t ScreenTarget) error {
	if t != (ScreenTarget{}) {
		return fmt.Errorf("the desktop portal asks what to share: use screen, not %s", t)
	}
	return nil
}

// openX11 opens a screen or window of an X11 display that is the
// desktop: an XWayland (even one without the XWAYLAND extension) is not.
func openX11(display string, t ScreenTarget) (*x11Screen, error) {
	x, err := openX11Screen(display, t)
	if err != nil {
		return nil, err
	}
	if isOldXWayland(display, t.Screen) {
		x.close()
		return nil, xwaylandError(display)
	}
	return x, nil
}

// xwaylandError is the X11 side of the error for an XWayland display.
func xwaylandError(display string) error {
	if display == "" {
		display = os.Getenv("DISPLAY")
	}
	return noX11Error{fmt.Errorf("%w: %q is XWayland: its root window is not the desktop", ErrScreenUnavailable, display), true}
}

// tryPortal reports whether an X11 failure leaves the portal to try: no
// X11 desktop, in a Wayland session.
func tryPortal(xerr error) bool {
	var nx noX11Error
	if !errors.As(xerr, &nx) {
		return false
	}
	return nx.xwayland || os.Getenv("WAYLAND_DISPLAY") != ""
}

// waylandError joins why X11 did not apply with why the portal did not.
func waylandError(xerr, perr error) error {
	x := strings.TrimPrefix(xerr.Error(), ErrScreenUnavailable.Error()+": ")
	return fmt.Errorf("%w: %s; this is a Wayland session, and %s", ErrScreenUnavailable, x, perr)
}

// grab also notices the portal closing the session (the desktop's "stop
// sharing"), which ends the share like the stream ending does.
func (s *portalScreen) grab(dst *image.YCbCr, force bool) (bool, error) {
	for drained := false; !drained; {
		select {
		case sig, ok := <-s.portal.signals:
			if !ok {
				drained = true
			} else if sig.Sender == s.portal.owner && sig.Name == portalSession+".Closed" && sig.Path == s.portal.session {
				return false, fmt.Errorf("%w: the screen share ended: the desktop portal closed the session", ErrScreenUnavailable)
			}
		default:
			drained = true
		}
	}
	return s.pwStream.grab(dst, force)
}
