//go:build !linux || !cgo

package call

import (
	"context"
	"fmt"
)

// openScreenCapture has nothing to capture with: screen capture is X11
// through cgo (screen_x11.go).
func openScreenCapture(context.Context, string, ScreenTarget) (screenCapturer, error) {
	return nil, fmt.Errorf("%w: screen capture needs X11 on Linux and a build with cgo", ErrScreenUnavailable)
}

// listScreenSources has nothing to list without X11 capture.
func listScreenSources(string) ([]ScreenSource, error) {
	return nil, fmt.Errorf("%w: screen capture needs X11 on Linux and a build with cgo", ErrScreenUnavailable)
}

// checkScreenCapture is CheckSources' test: nothing to capture with here.
func checkScreenCapture(display string, t ScreenTarget) error {
	_, err := openScreenCapture(context.Background(), display, t)
	return err
}
