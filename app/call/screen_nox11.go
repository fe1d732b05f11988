//go:build !linux || !cgo

package call

import "fmt"

// openScreenCapture has nothing to capture with: screen capture is X11
// through cgo (screen_x11.go).
func openScreenCapture(string, int) (screenCapturer, error) {
	return nil, fmt.Errorf("%w: screen capture needs X11 on Linux and a build with cgo", ErrScreenUnavailable)
}

// checkScreenCapture is CheckSources' test: nothing to capture with here.
func checkScreenCapture(display string, n int) error {
	_, err := openScreenCapture(display, n)
	return err
}
