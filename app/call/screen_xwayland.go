//go:build linux && cgo

package call

/*
// parley_xwayland_outputs (screen_x11.go, beside the display table whose
// X error and I/O error handlers it uses): 1 when screen n of the display
// has an output named XWAYLAND…, 0 when not, -1 when it cannot tell.
#include <stdlib.h>
int parley_xwayland_outputs(const char *name, int screen);
*/
import "C"

import (
	"os"
	"unsafe"
)

// isOldXWayland reports whether screen n of display ("" is $DISPLAY) is
// an XWayland that predates its XWAYLAND extension (screen_x11.go checks
// that one), by its RandR output names.
func isOldXWayland(display string, n int) bool {
	if display == "" {
		display = os.Getenv("DISPLAY")
	}
	name := C.CString(display)
	defer C.free(unsafe.Pointer(name))
	return C.parley_xwayland_outputs(name, C.int(n)) == 1
}
