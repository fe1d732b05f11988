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
// says why, X11's reason first, then the portal's.
func openScreenCapture(display string, n int) (screenCapturer, error) {
	x, xerr := openX11(display, n)
	if xerr == nil {
		return x, nil
	}
	if !tryPortal(xerr) {
		return nil, xerr
	}
	if n != 0 {
		return nil, waylandError(xerr, fmt.Errorf("the desktop portal asks which screen to share: use screen, not screen:%d", n))
	}
	s, err := openPortalScreen(context.Background())
	if err != nil {
		return nil, waylandError(xerr, err)
	}
	return s, nil
}

// checkScreenCapture reports whether sharing could start here, without
// asking the user anything (CheckSources runs before a call: the portal's
// picker comes when sharing starts, once).
func checkScreenCapture(display string, n int) error {
	x, xerr := openX11(display, n)
	if xerr == nil {
		x.close()
		return nil
	}
	if !tryPortal(xerr) {
		return xerr
	}
	if n != 0 {
		return waylandError(xerr, fmt.Errorf("the desktop portal asks which screen to share: use screen, not screen:%d", n))
	}
	ctx, cancel := context.WithTimeout(context.Background(), portalQuickTimeout)
	defer cancel()
	if err := checkPortal(ctx); err != nil {
		return waylandError(xerr, err)
	}
	return nil
}

// openX11 opens screen n of an X11 display that is the desktop: an
// XWayland (even one without the XWAYLAND extension) is not.
func openX11(display string, n int) (*x11Screen, error) {
	x, err := openX11Screen(display, n)
	if err != nil {
		return nil, err
	}
	if isOldXWayland(display, n) {
		x.close()
		if display == "" {
			display = os.Getenv("DISPLAY")
		}
		return nil, noX11Error{fmt.Errorf("%w: %q is XWayland: its root window is not the desktop", ErrScreenUnavailable, display), true}
	}
	return x, nil
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
			} else if sig.Name == portalSession+".Closed" && sig.Path == s.portal.session {
				return false, fmt.Errorf("%w: the screen share ended: the desktop portal closed the session", ErrScreenUnavailable)
			}
		default:
			drained = true
		}
	}
	return s.pwStream.grab(dst, force)
}
