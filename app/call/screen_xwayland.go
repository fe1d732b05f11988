//go:build linux && cgo

package call

/*
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <X11/Xlib.h>
#include <X11/extensions/Xrandr.h>

// XWayland before 23.1 (Debian 12 has 22.1) has no XWAYLAND extension;
// its RandR outputs are named XWAYLAND0, XWAYLAND1, … instead. libXrandr
// is opened at run time like libX11 (only the header is needed to build).
typedef struct {
	Display *(*OpenDisplay)(const char *);
	int (*CloseDisplay)(Display *);
	Bool (*RRQueryExtension)(Display *, int *, int *);
	Status (*RRQueryVersion)(Display *, int *, int *);
	XRRScreenResources *(*RRGetScreenResourcesCurrent)(Display *, Window);
	void (*RRFreeScreenResources)(XRRScreenResources *);
	XRROutputInfo *(*RRGetOutputInfo)(Display *, XRRScreenResources *, RROutput);
	void (*RRFreeOutputInfo)(XRROutputInfo *);
} parley_xrr;

static parley_xrr XR;
static int parley_xrr_loaded; // 1 loaded; <0 not

static void parley_xrr_load(void) {
	void *x11 = dlopen("libX11.so.6", RTLD_NOW | RTLD_LOCAL);
	void *xrr = dlopen("libXrandr.so.2", RTLD_NOW | RTLD_LOCAL);
	if (!x11 || !xrr) { parley_xrr_loaded = -1; return; }
#define SYM(lib, f) if (!(*(void **)(&XR.f) = dlsym(lib, "X" #f))) { parley_xrr_loaded = -2; return; }
	SYM(x11, OpenDisplay) SYM(x11, CloseDisplay)
	SYM(xrr, RRQueryExtension) SYM(xrr, RRQueryVersion) SYM(xrr, RRGetScreenResourcesCurrent)
	SYM(xrr, RRFreeScreenResources) SYM(xrr, RRGetOutputInfo) SYM(xrr, RRFreeOutputInfo)
#undef SYM
	parley_xrr_loaded = 1;
}

// parley_xwayland_outputs: 1 when screen n of the display has an output
// named XWAYLAND…, 0 when not, -1 when it cannot tell.
static int parley_xwayland_outputs(const char *name, int screen) {
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, parley_xrr_load);
	if (parley_xrr_loaded != 1) return -1;
	Display *d = XR.OpenDisplay(name);
	if (!d) return -1;
	int rc = -1, ev, er, major = 0, minor = 0;
	if (screen >= 0 && screen < ScreenCount(d) && XR.RRQueryExtension(d, &ev, &er) &&
	    XR.RRQueryVersion(d, &major, &minor) && (major > 1 || (major == 1 && minor >= 3))) {
		XRRScreenResources *res = XR.RRGetScreenResourcesCurrent(d, RootWindow(d, screen));
		if (res) {
			rc = 0;
			for (int i = 0; i < res->noutput && rc == 0; i++) {
				XRROutputInfo *o = XR.RRGetOutputInfo(d, res, res->outputs[i]);
				if (o) {
					if (o->name && o->nameLen >= 8 && strncmp(o->name, "XWAYLAND", 8) == 0) rc = 1;
					XR.RRFreeOutputInfo(o);
				}
			}
			XR.RRFreeScreenResources(res);
		}
	}
	XR.CloseDisplay(d);
	return rc;
}
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
