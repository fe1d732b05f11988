//go:build linux && cgo

package call

/*
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XShm.h>

// libX11 and libXext are opened at run time (dlopen), not linked: a
// parley-cli on a server without X runs (and calls with a test card)
// without them, and the desktop package needs no new dependency. Only the
// headers are needed to build (libx11-dev, libxext-dev).
typedef struct {
	Display *(*OpenDisplay)(const char *);
	int (*CloseDisplay)(Display *);
	XImage *(*GetImage)(Display *, Drawable, int, int, unsigned int, unsigned int, unsigned long, int);
	Status (*GetWindowAttributes)(Display *, Window, XWindowAttributes *);
	XErrorHandler (*SetErrorHandler)(XErrorHandler);
	int (*Sync)(Display *, Bool);
	Bool (*QueryExtension)(Display *, const char *, int *, int *, int *);
	Bool (*ShmQueryExtension)(Display *);
	XImage *(*ShmCreateImage)(Display *, Visual *, unsigned int, int, char *, XShmSegmentInfo *, unsigned int, unsigned int);
	Bool (*ShmAttach)(Display *, XShmSegmentInfo *);
	Bool (*ShmDetach)(Display *, XShmSegmentInfo *);
	Bool (*ShmGetImage)(Display *, Drawable, XImage *, int, int, unsigned long);
} parley_xlib;

static parley_xlib X;
static int parley_x_loaded; // 1: loaded; -1: libX11 missing; -2: libXext missing; -3: a symbol missing

static void parley_x_load(void) {
	void *x11 = dlopen("libX11.so.6", RTLD_NOW | RTLD_LOCAL);
	if (!x11) { parley_x_loaded = -1; return; }
	void *xext = dlopen("libXext.so.6", RTLD_NOW | RTLD_LOCAL);
	if (!xext) { parley_x_loaded = -2; return; }
#define SYM(lib, f) if (!(*(void **)(&X.f) = dlsym(lib, "X" #f))) { parley_x_loaded = -3; return; }
	SYM(x11, OpenDisplay) SYM(x11, CloseDisplay) SYM(x11, GetImage) SYM(x11, GetWindowAttributes)
	SYM(x11, SetErrorHandler) SYM(x11, Sync) SYM(x11, QueryExtension)
	SYM(xext, ShmQueryExtension) SYM(xext, ShmCreateImage) SYM(xext, ShmAttach) SYM(xext, ShmDetach) SYM(xext, ShmGetImage)
#undef SYM
	parley_x_loaded = 1;
}

// X errors on our displays are recorded, not fatal (Xlib's default
// handler exits the process); errors on anyone else's (GTK's display in
// the app) go to the handler that was there before.
#define PARLEY_MAX_DPY 8
static Display *parley_dpys[PARLEY_MAX_DPY];
static int parley_errs[PARLEY_MAX_DPY];
static XErrorHandler parley_prev_handler;
static pthread_mutex_t parley_mu = PTHREAD_MUTEX_INITIALIZER;

static int parley_x_error(Display *d, XErrorEvent *ev) {
	for (int i = 0; i < PARLEY_MAX_DPY; i++) {
		if (parley_dpys[i] == d) { parley_errs[i] = ev->error_code ? ev->error_code : 1; return 0; }
	}
	return parley_prev_handler ? parley_prev_handler(d, ev) : 0;
}

static int parley_x_init(void) {
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, parley_x_load);
	return parley_x_loaded;
}

typedef struct {
	Display *dpy;
	int slot;
	Window root;
	int w, h;        // even; the capture's size
	int shm;         // XShm works; else plain XGetImage
	XShmSegmentInfo si;
	XImage *img;     // the shared-memory image when shm
	unsigned char *prev; // the last picture converted (w*h*4 bytes)
} parley_screen;

// parley_screen_open: 0 ok; -10 cannot open the display; -11 no such
// screen (*nscreens says how many); -12 XWayland; -13 no slot.
static int parley_screen_open(parley_screen *s, const char *name, int screen, int *nscreens) {
	memset(s, 0, sizeof(*s));
	s->slot = -1;
	Display *d = X.OpenDisplay(name);
	if (!d) return -10;
	*nscreens = ScreenCount(d);
	if (screen < 0 || screen >= ScreenCount(d)) { X.CloseDisplay(d); return -11; }
	int op, ev, er;
	// XWayland's root window shows only X clients, black elsewhere: a
	// black stream is worse than a clear "unavailable".
	if (X.QueryExtension(d, "XWAYLAND", &op, &ev, &er)) { X.CloseDisplay(d); return -12; }
	pthread_mutex_lock(&parley_mu);
	for (int i = 0; i < PARLEY_MAX_DPY; i++) {
		if (!parley_dpys[i]) { parley_dpys[i] = d; parley_errs[i] = 0; s->slot = i; break; }
	}
	if (s->slot >= 0) {
		XErrorHandler old = X.SetErrorHandler(parley_x_error);
		if (old != parley_x_error) parley_prev_handler = old;
	}
	pthread_mutex_unlock(&parley_mu);
	if (s->slot < 0) { X.CloseDisplay(d); return -13; }
	s->dpy = d;
	s->root = RootWindow(d, screen);
	s->w = DisplayWidth(d, screen) & ~1;
	s->h = DisplayHeight(d, screen) & ~1;
	if (X.ShmQueryExtension(d)) {
		s->img = X.ShmCreateImage(d, DefaultVisual(d, screen), DefaultDepth(d, screen), ZPixmap, NULL, &s->si, s->w, s->h);
		if (s->img) {
			s->si.shmid = shmget(IPC_PRIVATE, (size_t)s->img->bytes_per_line * s->img->height, IPC_CREAT | 0600);
			if (s->si.shmid >= 0) {
				s->si.shmaddr = s->img->data = shmat(s->si.shmid, NULL, 0);
				s->si.readOnly = False;
				if (s->si.shmaddr != (void *)-1) {
					parley_errs[s->slot] = 0;
					// A server on another host or in another IPC
					// namespace cannot attach: the error comes back
					// at the sync, and capture falls back to GetImage.
					if (X.ShmAttach(d, &s->si) && (X.Sync(d, False), parley_errs[s->slot] == 0)) {
						s->shm = 1;
					}
				}
				shmctl(s->si.shmid, IPC_RMID, NULL); // freed once both detach
			}
			if (!s->shm) {
				if (s->si.shmaddr && s->si.shmaddr != (void *)-1) shmdt(s->si.shmaddr);
				s->img->data = NULL;
				XDestroyImage(s->img);
				s->img = NULL;
			}
		}
		parley_errs[s->slot] = 0;
	}
	s->prev = calloc((size_t)s->w * s->h, 4);
	if (!s->prev) return -14;
	return 0;
}

static void parley_screen_close(parley_screen *s) {
	if (s->dpy) {
		if (s->shm) {
			X.ShmDetach(s->dpy, &s->si);
			X.Sync(s->dpy, False);
			s->img->data = NULL;
			XDestroyImage(s->img);
			shmdt(s->si.shmaddr);
		}
		X.CloseDisplay(s->dpy);
		pthread_mutex_lock(&parley_mu);
		parley_dpys[s->slot] = NULL;
		pthread_mutex_unlock(&parley_mu);
	}
	free(s->prev);
	memset(s, 0, sizeof(*s));
}

static int shift_of(unsigned long mask) {
	int n = 0;
	if (!mask) return -1;
	while (!(mask & 1)) { mask >>= 1; n++; }
	return (mask == 0xff) ? n : -1;
}

// parley_screen_grab captures the screen. It returns 1 when the picture
// changed (and writes it as I420 BT.601 into y, u, v), 0 when it is the
// same as last time (nothing written), negative on an error: -1 X error,
// -2 a pixel format other than 8 bits per colour in 32-bit pixels.
static int parley_screen_grab(parley_screen *s, unsigned char *y, unsigned char *u, unsigned char *v, int ys, int cs, int force) {
	XImage *img = s->img;
	parley_errs[s->slot] = 0;
	if (s->shm) {
		if (!X.ShmGetImage(s->dpy, s->root, img, 0, 0, AllPlanes) || parley_errs[s->slot]) return -1;
	} else {
		img = X.GetImage(s->dpy, s->root, 0, 0, s->w, s->h, AllPlanes, ZPixmap);
		if (!img || parley_errs[s->slot]) { if (img) XDestroyImage(img); return -1; }
	}
	int rs = shift_of(img->red_mask), gs = shift_of(img->green_mask), bs = shift_of(img->blue_mask);
	int rc = 1;
	if (img->bits_per_pixel != 32 || rs < 0 || gs < 0 || bs < 0 || img->byte_order != LSBFirst) {
		rc = -2;
		goto out;
	}
	size_t row = (size_t)s->w * 4;
	int same = !force;
	for (int r = 0; r < s->h; r++) {
		unsigned char *src = (unsigned char *)img->data + (size_t)r * img->bytes_per_line;
		unsigned char *dst = s->prev + (size_t)r * row;
		if (memcmp(src, dst, row) != 0) { memcpy(dst, src, row); same = 0; }
	}
	if (same) { rc = 0; goto out; }
	for (int r = 0; r < s->h; r += 2) {
		unsigned int *p0 = (unsigned int *)(s->prev + (size_t)r * row);
		unsigned int *p1 = (unsigned int *)(s->prev + (size_t)(r + 1) * row);
		unsigned char *y0 = y + (size_t)r * ys, *y1 = y0 + ys;
		unsigned char *uo = u + (size_t)(r / 2) * cs, *vo = v + (size_t)(r / 2) * cs;
		for (int c = 0; c < s->w; c += 2) {
			int sr = 0, sg = 0, sb = 0;
			unsigned int px[4] = {p0[c], p0[c + 1], p1[c], p1[c + 1]};
			unsigned char *yo[4] = {&y0[c], &y0[c + 1], &y1[c], &y1[c + 1]};
			for (int k = 0; k < 4; k++) {
				int R = (px[k] >> rs) & 0xff, G = (px[k] >> gs) & 0xff, B = (px[k] >> bs) & 0xff;
				*yo[k] = (unsigned char)(((66 * R + 129 * G + 25 * B + 128) >> 8) + 16);
				sr += R; sg += G; sb += B;
			}
			sr = (sr + 2) / 4; sg = (sg + 2) / 4; sb = (sb + 2) / 4;
			uo[c / 2] = (unsigned char)(((-38 * sr - 74 * sg + 112 * sb + 128) >> 8) + 128);
			vo[c / 2] = (unsigned char)(((112 * sr - 94 * sg - 18 * sb + 128) >> 8) + 128);
		}
	}
out:
	if (!s->shm) XDestroyImage(img);
	return rc;
}
*/
import "C"

import (
	"fmt"
	"image"
	"os"
	"sync"
	"unsafe"
)

// x11Screen captures the root window of one X screen: XShm when the
// server shares memory with us, else plain XGetImage.
type x11Screen struct {
	mu sync.Mutex
	s  *C.parley_screen // nil once closed
	w  int
	h  int
}

// openX11Screen opens screen n of display ("" is $DISPLAY). Every failure
// wraps ErrScreenUnavailable with a sentence that says why.
func openX11Screen(display string, n int) (*x11Screen, error) {
	if display == "" {
		display = os.Getenv("DISPLAY")
	}
	if display == "" {
		return nil, noDisplayError()
	}
	switch C.parley_x_init() {
	case 1:
	case -1:
		return nil, noX11Error{fmt.Errorf("%w: libX11 (libX11.so.6) is not installed", ErrScreenUnavailable), false}
	case -2:
		return nil, noX11Error{fmt.Errorf("%w: libXext (libXext.so.6) is not installed", ErrScreenUnavailable), false}
	default:
		return nil, fmt.Errorf("%w: libX11 lacks a function screen capture needs", ErrScreenUnavailable)
	}
	s := (*C.parley_screen)(C.calloc(1, C.size_t(unsafe.Sizeof(C.parley_screen{}))))
	if s == nil {
		return nil, fmt.Errorf("%w: out of memory", ErrScreenUnavailable)
	}
	name := C.CString(display)
	defer C.free(unsafe.Pointer(name))
	var screens C.int
	rc := C.parley_screen_open(s, name, C.int(n), &screens)
	if rc != 0 {
		C.parley_screen_close(s)
		C.free(unsafe.Pointer(s))
		switch rc {
		case -10:
			return nil, noX11Error{fmt.Errorf("%w: cannot open the X11 display %q (no X server there, or not allowed)", ErrScreenUnavailable, display), false}
		case -11:
			return nil, fmt.Errorf("%w: the X11 display %q has %d screen(s); there is no screen %d", ErrScreenUnavailable, display, int(screens), n)
		case -12:
			return nil, noX11Error{fmt.Errorf("%w: %q is XWayland: its root window is not the desktop", ErrScreenUnavailable, display), true}
		default:
			return nil, fmt.Errorf("%w: X11 capture setup failed (%d)", ErrScreenUnavailable, int(rc))
		}
	}
	return &x11Screen{s: s, w: int(s.w), h: int(s.h)}, nil
}

func (x *x11Screen) size() (int, int) { return x.w, x.h }

// grab captures into dst (I420 of size()) and reports whether the picture
// changed since the last grab; force converts even when it did not.
func (x *x11Screen) grab(dst *image.YCbCr, force bool) (bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.s == nil {
		return false, errScreenClosed
	}
	f := C.int(0)
	if force {
		f = 1
	}
	rc := C.parley_screen_grab(x.s, (*C.uchar)(unsafe.Pointer(&dst.Y[0])), (*C.uchar)(unsafe.Pointer(&dst.Cb[0])), (*C.uchar)(unsafe.Pointer(&dst.Cr[0])),
		C.int(dst.YStride), C.int(dst.CStride), f)
	switch rc {
	case 1:
		return true, nil
	case 0:
		return false, nil
	case -2:
		return false, fmt.Errorf("%w: the X11 screen's pixel format is not 24-bit colour in 32-bit pixels", ErrScreenUnavailable)
	default:
		return false, fmt.Errorf("%w: capturing the X11 screen failed (its size changed, or the server went away)", ErrScreenUnavailable)
	}
}

func (x *x11Screen) close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.s != nil {
		C.parley_screen_close(x.s)
		C.free(unsafe.Pointer(x.s))
		x.s = nil
	}
}
