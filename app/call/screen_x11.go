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
#include <X11/Xatom.h>
#include <X11/extensions/XShm.h>
#include <X11/extensions/Xcomposite.h>
#include <X11/extensions/Xfixes.h>
#include <X11/extensions/Xrandr.h>

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
	// Windows (listing and capture).
	Status (*QueryTree)(Display *, Window, Window *, Window *, Window **, unsigned int *);
	int (*GetWindowProperty)(Display *, Window, Atom, long, long, Bool, Atom, Atom *, int *, unsigned long *, unsigned long *, unsigned char **);
	Atom (*InternAtom)(Display *, const char *, Bool);
	int (*Free)(void *);
	int (*FreePixmap)(Display *, Pixmap);
	XIOErrorHandler (*SetIOErrorHandler)(XIOErrorHandler);
	Bool (*QueryPointer)(Display *, Window, Window *, Window *, int *, int *, int *, int *, unsigned int *);
	// libX11 1.7 and later (NULL before): a display whose connection
	// breaks calls this instead of exit().
	void (*SetIOErrorExitHandler)(Display *, XIOErrorExitHandler, void *);
} parley_xlib;

// libXcomposite, for one window's own picture (window sharing only).
typedef struct {
	Bool (*QueryExtension)(Display *, int *, int *);
	Status (*QueryVersion)(Display *, int *, int *);
	void (*RedirectWindow)(Display *, Window, int);
	void (*UnredirectWindow)(Display *, Window, int);
	Pixmap (*NameWindowPixmap)(Display *, Window);
} parley_xcomposite;

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
	SYM(x11, QueryTree) SYM(x11, GetWindowProperty) SYM(x11, InternAtom) SYM(x11, Free) SYM(x11, FreePixmap)
	SYM(x11, SetIOErrorHandler) SYM(x11, QueryPointer)
#undef SYM
	*(void **)(&X.SetIOErrorExitHandler) = dlsym(x11, "XSetIOErrorExitHandler");
	parley_x_loaded = 1;
}

static parley_xcomposite XC;
static int parley_xc_loaded; // 1: loaded; -1: libXcomposite missing; -3: a symbol missing

static void parley_xc_load(void) {
	void *xc = dlopen("libXcomposite.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!xc) { parley_xc_loaded = -1; return; }
#define SYM(f) if (!(*(void **)(&XC.f) = dlsym(xc, "XComposite" #f))) { parley_xc_loaded = -3; return; }
	SYM(QueryExtension) SYM(QueryVersion) SYM(RedirectWindow) SYM(UnredirectWindow) SYM(NameWindowPixmap)
#undef SYM
	parley_xc_loaded = 1;
}

// libXfixes, for the mouse pointer's picture (drawn into the capture:
// the screen's picture has no pointer). Optional: without it, or without
// the extension, the capture has no pointer.
typedef struct {
	Bool (*QueryExtension)(Display *, int *, int *);
	XFixesCursorImage *(*GetCursorImage)(Display *);
} parley_xfixes;

static parley_xfixes XF;
static int parley_xf_loaded; // 1: loaded; -1: libXfixes missing; -3: a symbol missing

static void parley_xf_load(void) {
	void *xf = dlopen("libXfixes.so.3", RTLD_NOW | RTLD_LOCAL);
	if (!xf) { parley_xf_loaded = -1; return; }
	if (!(*(void **)(&XF.QueryExtension) = dlsym(xf, "XFixesQueryExtension")) ||
		!(*(void **)(&XF.GetCursorImage) = dlsym(xf, "XFixesGetCursorImage"))) { parley_xf_loaded = -3; return; }
	parley_xf_loaded = 1;
}

static int parley_xf_init(void) {
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, parley_xf_load);
	return parley_xf_loaded;
}

static int parley_xc_init(void) {
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, parley_xc_load);
	return parley_xc_loaded;
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

// A broken connection (the X server went away) is an "I/O error": Xlib
// calls the process-wide I/O error handler, then exits the process unless
// the display has an exit handler that returns (libX11 1.7+). On our
// displays both only record it, and the capture's next call fails; on
// anyone else's (GTK's in the app) the handler that was there decides.
static int parley_broken[PARLEY_MAX_DPY];
static XIOErrorHandler parley_prev_io_handler;

static int parley_slot_of(Display *d) {
	for (int i = 0; i < PARLEY_MAX_DPY; i++) if (parley_dpys[i] == d) return i;
	return -1;
}

static int parley_x_io_error(Display *d) {
	int i = parley_slot_of(d);
	if (i >= 0) { parley_broken[i] = 1; return 0; }
	return parley_prev_io_handler ? parley_prev_io_handler(d) : 0;
}

static void parley_x_io_exit(Display *d, void *data) {
	(void)data;
	int i = parley_slot_of(d);
	if (i >= 0) parley_broken[i] = 1;
	// Returning leaves the display unusable: every later call on it
	// fails at once, and the capture reports the server gone.
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
	int shm_ok;      // the server takes our shared memory (checked once)
	XShmSegmentInfo si;
	XImage *img;     // the shared-memory image when shm
	unsigned char *prev; // the last picture converted (w*h*4 bytes)
	Visual *vis;
	int depth;
	// One window (window sharing): top is the top-level window (the child
	// of the root that holds the client), redirected off-screen by
	// Composite; pix is its picture, named again when its size changes.
	Window top;
	Pixmap pix;
	int pw, ph;      // the window's size without its border (w, h: rounded down to even)
	int bw;          // its border width: the pixmap has the border, the capture not
	int redirected;
	int wx, wy;      // the window's position on the root (its picture's origin: wx+bw, wy+bw)
	int cursor;      // the pointer is drawn in (XFixes works on this display)
} parley_screen;

// parley_dpy_open opens a display and gives it an error slot: 0 ok;
// -10 cannot open the display; -13 no slot.
static int parley_dpy_open(parley_screen *s, const char *name) {
	memset(s, 0, sizeof(*s));
	s->slot = -1;
	Display *d = X.OpenDisplay(name);
	if (!d) return -10;
	pthread_mutex_lock(&parley_mu);
	for (int i = 0; i < PARLEY_MAX_DPY; i++) {
		if (!parley_dpys[i]) { parley_dpys[i] = d; parley_errs[i] = 0; parley_broken[i] = 0; s->slot = i; break; }
	}
	if (s->slot >= 0) {
		XErrorHandler old = X.SetErrorHandler(parley_x_error);
		if (old != parley_x_error) parley_prev_handler = old;
		if (X.SetIOErrorExitHandler) {
			XIOErrorHandler oldio = X.SetIOErrorHandler(parley_x_io_error);
			if (oldio != parley_x_io_error) parley_prev_io_handler = oldio;
			X.SetIOErrorExitHandler(d, parley_x_io_exit, NULL);
		}
	}
	pthread_mutex_unlock(&parley_mu);
	if (s->slot < 0) { X.CloseDisplay(d); return -13; }
	s->dpy = d;
	return 0;
}

static void parley_shm_free(parley_screen *s) {
	if (s->shm) {
		X.ShmDetach(s->dpy, &s->si);
		X.Sync(s->dpy, False);
		s->img->data = NULL;
		XDestroyImage(s->img);
		shmdt(s->si.shmaddr);
		s->img = NULL;
		s->shm = 0;
	}
}

// parley_shm_setup makes the shared-memory image of w x h (when the
// server takes our memory) and the comparison buffer: 0, or -14 out of
// memory.
static int parley_shm_setup(parley_screen *s, int w, int h) {
	parley_shm_free(s);
	free(s->prev);
	s->w = w;
	s->h = h;
	if (s->shm_ok) {
		s->img = X.ShmCreateImage(s->dpy, s->vis, s->depth, ZPixmap, NULL, &s->si, w, h);
		if (s->img) {
			memset(&s->si, 0, sizeof(s->si));
			s->si.shmid = shmget(IPC_PRIVATE, (size_t)s->img->bytes_per_line * s->img->height, IPC_CREAT | 0600);
			if (s->si.shmid >= 0) {
				s->si.shmaddr = s->img->data = shmat(s->si.shmid, NULL, 0);
				s->si.readOnly = False;
				if (s->si.shmaddr != (void *)-1) {
					parley_errs[s->slot] = 0;
					// A server on another host or in another IPC
					// namespace cannot attach: the error comes back
					// at the sync, and capture falls back to GetImage.
					if (X.ShmAttach(s->dpy, &s->si) && (X.Sync(s->dpy, False), parley_errs[s->slot] == 0)) {
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
				s->shm_ok = 0;
			}
		}
		parley_errs[s->slot] = 0;
	}
	s->prev = calloc((size_t)w * h, 4);
	return s->prev ? 0 : -14;
}

// parley_screen_open: 0 ok; -10 cannot open the display; -11 no such
// screen (*nscreens says how many); -12 XWayland; -13 no slot.
static int parley_screen_open(parley_screen *s, const char *name, int screen, int *nscreens) {
	int rc = parley_dpy_open(s, name);
	if (rc) return rc;
	Display *d = s->dpy;
	*nscreens = ScreenCount(d);
	if (screen < 0 || screen >= ScreenCount(d)) return -11;
	int op, ev, er;
	// XWayland's root window shows only X clients, black elsewhere: a
	// black stream is worse than a clear "unavailable".
	if (X.QueryExtension(d, "XWAYLAND", &op, &ev, &er)) return -12;
	s->root = RootWindow(d, screen);
	s->vis = DefaultVisual(d, screen);
	s->depth = DefaultDepth(d, screen);
	s->shm_ok = X.ShmQueryExtension(d);
	s->cursor = parley_xf_init() == 1 && XF.QueryExtension(d, &ev, &er);
	return parley_shm_setup(s, DisplayWidth(d, screen) & ~1, DisplayHeight(d, screen) & ~1);
}

// The largest window shared: 8192 on a side and twice 4K's pixels (the
// capture holds three copies of it).
#define PARLEY_MAX_SIDE 8192
// The smallest window shared: 16 on a side (smaller is nothing to look
// at, and the screen's ladder halves the picture).
#define PARLEY_MIN_SIDE 16
#define PARLEY_MAX_PIXELS (2 * 3840 * 2160)

// parley_top_level finds the child of the root that holds w (w itself
// when it is one): 0, or -16 no such window, -18 w is a root window.
static int parley_top_level(parley_screen *s, Window w, Window *top) {
	for (int depth = 0; depth < 64; depth++) {
		Window root, parent, *kids = NULL;
		unsigned int n = 0;
		parley_errs[s->slot] = 0;
		if (!X.QueryTree(s->dpy, w, &root, &parent, &kids, &n) || parley_errs[s->slot]) return -16;
		if (kids) X.Free(kids);
		if (parent == 0 || w == root) return -18;
		if (parent == root) { *top = w; s->root = root; return 0; }
		w = parent;
	}
	return -16;
}

// parley_window_name (re)names the top-level window's pixmap at its
// current size: 1 done; 0 the window is smaller than 2x2 (nothing to
// capture now; smaller than PARLEY_MIN_SIDE counts as that); -3 the
// window is gone or no longer shown; -5 too large.
static int parley_window_name(parley_screen *s) {
	XWindowAttributes wa;
	parley_errs[s->slot] = 0;
	if (!X.GetWindowAttributes(s->dpy, s->top, &wa) || parley_errs[s->slot]) return -3;
	if (wa.map_state != IsViewable) return -3;
	int pw = wa.width, ph = wa.height;
	s->wx = wa.x;
	s->wy = wa.y;
	if (pw > PARLEY_MAX_SIDE || ph > PARLEY_MAX_SIDE || (long)pw * ph > PARLEY_MAX_PIXELS) return -5;
	// Named again every frame: the server gives the window a new pixmap
	// on every resize and every unmap and map, so one kept while the
	// size looks the same (A, B, A between two grabs) would be a stale
	// picture for good.
	if (s->pix) { X.FreePixmap(s->dpy, s->pix); s->pix = 0; }
	s->pw = pw;
	s->ph = ph;
	s->bw = wa.border_width;
	if (pw < PARLEY_MIN_SIDE || ph < PARLEY_MIN_SIDE) return 0;
	s->pix = XC.NameWindowPixmap(s->dpy, s->top);
	X.Sync(s->dpy, False);
	if (parley_errs[s->slot]) { s->pix = 0; return -3; }
	if ((pw & ~1) != s->w || (ph & ~1) != s->h || !s->prev) {
		if (parley_shm_setup(s, pw & ~1, ph & ~1)) return -14;
	}
	return 1;
}

// parley_window_open starts capturing window win (any window of the
// application: its top-level window is captured) of display name:
// 0 ok; -10, -12, -13 as parley_screen_open; -15 no Composite; -16 no
// such window; -17 the window is not shown; -18 a root window; -19 not a
// window with a picture (InputOnly); -5 too large; -20 too small;
// -14 out of memory.
static int parley_window_open(parley_screen *s, const char *name, unsigned long win) {
	int rc = parley_dpy_open(s, name);
	if (rc) return rc;
	Display *d = s->dpy;
	int op, ev, er;
	if (X.QueryExtension(d, "XWAYLAND", &op, &ev, &er)) return -12;
	int major = 0, minor = 4;
	// NameWindowPixmap needs Composite 0.2.
	if (!XC.QueryExtension(d, &ev, &er) || !XC.QueryVersion(d, &major, &minor) || (major == 0 && minor < 2)) return -15;
	if ((rc = parley_top_level(s, (Window)win, &s->top))) return rc;
	XWindowAttributes wa;
	parley_errs[s->slot] = 0;
	if (!X.GetWindowAttributes(d, s->top, &wa) || parley_errs[s->slot]) return -16;
	if (wa.class != InputOutput) return -19;
	if (wa.map_state != IsViewable) return -17;
	s->vis = wa.visual;
	s->depth = wa.depth;
	s->shm_ok = X.ShmQueryExtension(d);
	s->cursor = parley_xf_init() == 1 && XF.QueryExtension(d, &ev, &er);
	// Automatic redirection: the server keeps the window's whole picture
	// in a pixmap of its own, whatever overlaps it on the screen, and
	// still shows it on the screen as before. Redirections are counted
	// per client: a compositing manager's own is not disturbed, and the
	// server drops ours when our connection closes.
	XC.RedirectWindow(d, s->top, CompositeRedirectAutomatic);
	X.Sync(d, False);
	if (parley_errs[s->slot]) return -16;
	s->redirected = 1;
	rc = parley_window_name(s);
	if (rc == -3) return -17;
	if (rc == 0) return -20; // nothing to capture: no picture of 0x0
	if (rc < 0) return rc;
	return 0;
}

static void parley_screen_close(parley_screen *s) {
	if (s->dpy) {
		if (parley_broken[s->slot]) {
			// The server is gone, and with it the shared memory's
			// attachment and the pixmap: only our side is left.
			if (s->shm) {
				s->img->data = NULL;
				XDestroyImage(s->img);
				shmdt(s->si.shmaddr);
				s->img = NULL;
				s->shm = 0;
			}
			s->pix = 0;
			s->redirected = 0;
		}
		parley_shm_free(s);
		if (s->pix) X.FreePixmap(s->dpy, s->pix);
		if (s->redirected) XC.UnredirectWindow(s->dpy, s->top, CompositeRedirectAutomatic);
		X.Sync(s->dpy, False); // errors (a window already gone) are recorded, not fatal
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

// parley_read_failed says what a failed read means: for the screen an
// X error (-1); for a window, gone or hidden (-3), unless it is still
// shown, when it only changed size between the check and the read (a
// drag): nothing this time (0), and the next grab names its new picture.
static int parley_read_failed(parley_screen *s) {
	if (!s->top) return -1;
	XWindowAttributes wa;
	parley_errs[s->slot] = 0;
	if (X.GetWindowAttributes(s->dpy, s->top, &wa) && !parley_errs[s->slot] && wa.map_state == IsViewable) return 0;
	return -3;
}

// parley_draw_cursor draws the pointer's picture (premultiplied ARGB)
// into img, a capture whose top left corner is at (ox, oy) on the root,
// with the colour shifts rs, gs, bs. The pointer's shape and position
// come from the server each frame, so a moving pointer is a change.
static void parley_draw_cursor(parley_screen *s, XImage *img, int ox, int oy, int rs, int gs, int bs) {
	// Only a pointer on this screen and, for one window, over that
	// window: moving over the windows that cover it is not shared.
	Window rr = 0, child = 0;
	int rx, ry, wx, wy;
	unsigned int mask;
	parley_errs[s->slot] = 0;
	if (!X.QueryPointer(s->dpy, s->root, &rr, &child, &rx, &ry, &wx, &wy, &mask) || parley_errs[s->slot]) return;
	if (s->top && child != s->top) return;
	XFixesCursorImage *c = XF.GetCursorImage(s->dpy);
	if (!c || parley_errs[s->slot]) { if (c) X.Free(c); return; }
	int x0 = c->x - c->xhot - ox, y0 = c->y - c->yhot - oy;
	for (int r = 0; r < c->height; r++) {
		int y = y0 + r;
		if (y < 0 || y >= s->h) continue;
		unsigned int *row = (unsigned int *)((unsigned char *)img->data + (size_t)y * img->bytes_per_line);
		for (int k = 0; k < c->width; k++) {
			int x = x0 + k;
			if (x < 0 || x >= s->w) continue;
			unsigned long p = c->pixels[(size_t)r * c->width + k]; // 32-bit ARGB in a long
			unsigned int a = (p >> 24) & 0xff;
			if (!a) continue;
			unsigned int cr = (p >> 16) & 0xff, cg = (p >> 8) & 0xff, cb = p & 0xff;
			unsigned int d = row[x];
			unsigned int dr = (d >> rs) & 0xff, dg = (d >> gs) & 0xff, db = (d >> bs) & 0xff;
			dr = cr + dr * (255 - a) / 255;
			dg = cg + dg * (255 - a) / 255;
			db = cb + db * (255 - a) / 255;
			row[x] = (d & ~((0xffu << rs) | (0xffu << gs) | (0xffu << bs))) | (dr > 255 ? 255 : dr) << rs | (dg > 255 ? 255 : dg) << gs | (db > 255 ? 255 : db) << bs;
		}
	}
	X.Free(c);
}

// parley_screen_grab1 captures the screen or the window into a picture of
// dw x dh. It returns 1 when the picture changed (and writes it as I420
// BT.601 into y, u, v), 0 when it is the same as last time (nothing
// written), 2 when the capture's size is no longer dw x dh (nothing
// written: s->w x s->h is the new size), negative on an error: -1 X
// error, -2 a pixel format other than 8 bits per colour in 32-bit pixels,
// -3 the window is gone or no longer shown, -5 the window grew too large.
static int parley_screen_grab1(parley_screen *s, int dw, int dh, unsigned char *y, unsigned char *u, unsigned char *v, int ys, int cs, int force) {
	Drawable from = s->root;
	int ox = 0, oy = 0;
	if (s->top) {
		// A cheap geometry check per frame (one round trip): a window
		// that changed size gets a new pixmap from the server.
		int rc = parley_window_name(s);
		if (rc <= 0) return rc;
		from = s->pix;
		ox = oy = s->bw; // the window's own picture, not its border
	}
	if (s->w != dw || s->h != dh) return 2;
	XImage *img = s->img;
	parley_errs[s->slot] = 0;
	if (s->shm) {
		if (!X.ShmGetImage(s->dpy, from, img, ox, oy, AllPlanes) || parley_errs[s->slot]) return parley_read_failed(s);
	} else {
		img = X.GetImage(s->dpy, from, ox, oy, s->w, s->h, AllPlanes, ZPixmap);
		if (!img || parley_errs[s->slot]) { if (img) XDestroyImage(img); return parley_read_failed(s); }
	}
	// An image of a pixmap carries no colour masks: the window's visual
	// has them.
	unsigned long rm = img->red_mask ? img->red_mask : s->vis->red_mask;
	unsigned long gm = img->green_mask ? img->green_mask : s->vis->green_mask;
	unsigned long bm = img->blue_mask ? img->blue_mask : s->vis->blue_mask;
	int rs = shift_of(rm), gs = shift_of(gm), bs = shift_of(bm);
	int rc = 1;
	if (img->bits_per_pixel != 32 || rs < 0 || gs < 0 || bs < 0 || img->byte_order != LSBFirst) {
		rc = -2;
		goto out;
	}
	if (s->cursor) parley_draw_cursor(s, img, s->top ? s->wx + s->bw : 0, s->top ? s->wy + s->bw : 0, rs, gs, bs);
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

static int parley_screen_grab(parley_screen *s, int dw, int dh, unsigned char *y, unsigned char *u, unsigned char *v, int ys, int cs, int force) {
	int rc = parley_screen_grab1(s, dw, dh, y, u, v, ys, cs, force);
	return (rc < 0 && parley_broken[s->slot]) ? -4 : rc;
}

// XWayland before 23.1 (Debian 12 has 22.1) has no XWAYLAND extension;
// its RandR outputs are named XWAYLAND0, XWAYLAND1, … instead. libXrandr
// is opened at run time like libX11 (only the header is needed to build).
typedef struct {
	Bool (*QueryExtension)(Display *, int *, int *);
	Status (*QueryVersion)(Display *, int *, int *);
	XRRScreenResources *(*GetScreenResourcesCurrent)(Display *, Window);
	void (*FreeScreenResources)(XRRScreenResources *);
	XRROutputInfo *(*GetOutputInfo)(Display *, XRRScreenResources *, RROutput);
	void (*FreeOutputInfo)(XRROutputInfo *);
} parley_xrr;

static parley_xrr XR;
static int parley_xrr_loaded; // 1 loaded; <0 not

static void parley_xrr_load(void) {
	void *xrr = dlopen("libXrandr.so.2", RTLD_NOW | RTLD_LOCAL);
	if (!xrr) { parley_xrr_loaded = -1; return; }
#define SYM(f) if (!(*(void **)(&XR.f) = dlsym(xrr, "XRR" #f))) { parley_xrr_loaded = -2; return; }
	SYM(QueryExtension) SYM(QueryVersion) SYM(GetScreenResourcesCurrent)
	SYM(FreeScreenResources) SYM(GetOutputInfo) SYM(FreeOutputInfo)
#undef SYM
	parley_xrr_loaded = 1;
}

// parley_xwayland_outputs: 1 when screen n of the display has an output
// named XWAYLAND…, 0 when not, -1 when it cannot tell. The display is one
// of ours (parley_dpy_open): an X error (an output unplugged meanwhile)
// or the server going away is an answer of -1, not the end of the process.
int parley_xwayland_outputs(const char *name, int screen) {
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	if (parley_x_init() != 1) return -1;
	pthread_once(&once, parley_xrr_load);
	if (parley_xrr_loaded != 1) return -1;
	parley_screen s;
	if (parley_dpy_open(&s, name)) { parley_screen_close(&s); return -1; }
	Display *d = s.dpy;
	int rc = -1, ev, er, major = 0, minor = 0;
	parley_errs[s.slot] = 0;
	if (screen >= 0 && screen < ScreenCount(d) && XR.QueryExtension(d, &ev, &er) &&
	    XR.QueryVersion(d, &major, &minor) && (major > 1 || (major == 1 && minor >= 3))) {
		XRRScreenResources *res = XR.GetScreenResourcesCurrent(d, RootWindow(d, screen));
		if (res && !parley_errs[s.slot]) {
			rc = 0;
			for (int i = 0; i < res->noutput && rc == 0; i++) {
				XRROutputInfo *o = XR.GetOutputInfo(d, res, res->outputs[i]);
				if (o) {
					if (o->name && o->nameLen >= 8 && strncmp(o->name, "XWAYLAND", 8) == 0) rc = 1;
					XR.FreeOutputInfo(o);
				}
			}
		}
		if (res) XR.FreeScreenResources(res);
		if (parley_errs[s.slot] || parley_broken[s.slot]) rc = -1;
	}
	parley_screen_close(&s);
	return rc;
}

// Listing what can be shared.
#define PARLEY_TITLE_MAX 512
typedef struct {
	unsigned long id; // the client window (what a user and xdotool know)
	int screen;
	int w, h;         // of its top-level window: what sharing it sends
	int title_len;
	int utf8;         // the title is UTF-8 (_NET_WM_NAME), else WM_NAME's bytes
	char title[PARLEY_TITLE_MAX];
} parley_window_info;

// parley_prop reads up to max bytes of an 8-bit property: its length, or
// -1 when it is absent or not 8-bit.
static int parley_prop(parley_screen *s, Window w, Atom prop, Atom type, char *out, int max) {
	Atom got;
	int fmt;
	unsigned long n, after;
	unsigned char *data = NULL;
	parley_errs[s->slot] = 0;
	if (X.GetWindowProperty(s->dpy, w, prop, 0, (max + 3) / 4, False, type, &got, &fmt, &n, &after, &data) != Success || parley_errs[s->slot]) return -1;
	int len = -1;
	if (data && got != None && fmt == 8) {
		len = n < (unsigned long)max ? (int)n : max;
		memcpy(out, data, len);
	}
	if (data) X.Free(data);
	return len;
}

static int parley_has_prop(parley_screen *s, Window w, Atom prop) {
	Atom got = None;
	int fmt;
	unsigned long n, after;
	unsigned char *data = NULL;
	parley_errs[s->slot] = 0;
	if (X.GetWindowProperty(s->dpy, w, prop, 0, 0, False, AnyPropertyType, &got, &fmt, &n, &after, &data) != Success || parley_errs[s->slot]) return 0;
	if (data) X.Free(data);
	return got != None;
}

// parley_find_client finds the window with WM_STATE at or below w (a
// window manager's frame holds the client a level or two down); 0 when
// none (no window manager: the top-level window is the client).
static Window parley_find_client(parley_screen *s, Window w, Atom wm_state, int depth) {
	if (parley_has_prop(s, w, wm_state)) return w;
	if (depth >= 3) return 0;
	Window root, parent, *kids = NULL, found = 0;
	unsigned int n = 0;
	parley_errs[s->slot] = 0;
	if (!X.QueryTree(s->dpy, w, &root, &parent, &kids, &n) || parley_errs[s->slot]) return 0;
	for (unsigned int i = 0; i < n && !found; i++) found = parley_find_client(s, kids[i], wm_state, depth + 1);
	if (kids) X.Free(kids);
	return found;
}

// parley_add_window describes top-level window top (client: the window
// with the title) when it can be shared: viewable, not override-redirect,
// at least 32x32, with a title. 1 added, 0 skipped.
static int parley_add_window(parley_screen *s, int screen, Window top, Window client, Atom net_name, Atom utf8, parley_window_info *out) {
	XWindowAttributes wa;
	parley_errs[s->slot] = 0;
	if (!X.GetWindowAttributes(s->dpy, top, &wa) || parley_errs[s->slot]) return 0;
	if (wa.override_redirect || wa.map_state != IsViewable || wa.class != InputOutput || wa.width < 32 || wa.height < 32) return 0;
	memset(out, 0, sizeof(*out));
	out->id = client;
	out->screen = screen;
	out->w = wa.width & ~1;
	out->h = wa.height & ~1;
	int n = parley_prop(s, client, net_name, utf8, out->title, PARLEY_TITLE_MAX);
	out->utf8 = 1;
	if (n <= 0) {
		n = parley_prop(s, client, XA_WM_NAME, AnyPropertyType, out->title, PARLEY_TITLE_MAX);
		out->utf8 = 0;
	}
	if (n <= 0) return 0;
	out->title_len = n;
	return 1;
}

// parley_list_windows lists the windows of every screen that can be
// shared, topmost last, into out (at most max); the count, or a negative
// parley_screen_open code.
// sw and sh get the screens' sizes (at most PARLEY_MAX_SCREENS). Without
// Composite (or libXcomposite) windows cannot be shared, and none are
// listed.
#define PARLEY_MAX_SCREENS 16
static int parley_list_windows(const char *name, parley_window_info *out, int max, int *nscreens, int *sw, int *sh) {
	parley_screen s;
	int rc = parley_dpy_open(&s, name);
	if (rc) { parley_screen_close(&s); return rc; }
	Display *d = s.dpy;
	*nscreens = ScreenCount(d);
	for (int i = 0; i < ScreenCount(d) && i < PARLEY_MAX_SCREENS; i++) {
		sw[i] = DisplayWidth(d, i) & ~1;
		sh[i] = DisplayHeight(d, i) & ~1;
	}
	int op, ev, er;
	if (X.QueryExtension(d, "XWAYLAND", &op, &ev, &er)) { parley_screen_close(&s); return -12; }
	int major = 0, minor = 4;
	if (parley_xc_init() != 1 || !XC.QueryExtension(d, &ev, &er) || !XC.QueryVersion(d, &major, &minor) || (major == 0 && minor < 2)) max = 0;
	int count = 0;
	Atom client_list = X.InternAtom(d, "_NET_CLIENT_LIST_STACKING", False);
	Atom client_list2 = X.InternAtom(d, "_NET_CLIENT_LIST", False);
	Atom wm_state = X.InternAtom(d, "WM_STATE", False);
	Atom net_name = X.InternAtom(d, "_NET_WM_NAME", False);
	Atom utf8 = X.InternAtom(d, "UTF8_STRING", False);
	for (int sc = 0; sc < ScreenCount(d) && count < max; sc++) {
		Window root = RootWindow(d, sc);
		s.root = root;
		// A window manager that lists its clients: those, each with
		// its top-level window (its frame).
		Atom got = None;
		int fmt = 0;
		unsigned long n = 0, after;
		unsigned char *data = NULL;
		parley_errs[s.slot] = 0;
		int have = 0;
		for (int k = 0; k < 2 && !have; k++) {
			if (data) { X.Free(data); data = NULL; }
			if (X.GetWindowProperty(d, root, k ? client_list2 : client_list, 0, 4096, False, XA_WINDOW, &got, &fmt, &n, &after, &data) == Success
				&& !parley_errs[s.slot] && got == XA_WINDOW && fmt == 32 && n > 0) have = 1;
		}
		if (have) {
			unsigned long *ids = (unsigned long *)data; // format 32 comes as longs
			for (unsigned long i = 0; i < n && count < max; i++) {
				Window top;
				if (parley_top_level(&s, ids[i], &top)) continue;
				count += parley_add_window(&s, sc, top, ids[i], net_name, utf8, &out[count]);
			}
		}
		if (data) X.Free(data);
		if (have) continue;
		// Else the root's children, bottom to top.
		Window r, p, *kids = NULL;
		unsigned int nk = 0;
		parley_errs[s.slot] = 0;
		if (!X.QueryTree(d, root, &r, &p, &kids, &nk) || parley_errs[s.slot]) continue;
		for (unsigned int i = 0; i < nk && count < max; i++) {
			Window client = parley_find_client(&s, kids[i], wm_state, 0);
			count += parley_add_window(&s, sc, kids[i], client ? client : kids[i], net_name, utf8, &out[count]);
		}
		if (kids) X.Free(kids);
	}
	parley_screen_close(&s);
	return count;
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

// x11Screen captures the root window of one X screen, or one window
// (through Composite): XShm when the server shares memory with us, else
// plain XGetImage.
type x11Screen struct {
	mu sync.Mutex
	s  *C.parley_screen // nil once closed
	w  int
	h  int
}

// xlibError is why libX11 (and, for windows, libXcomposite) cannot be
// used, or nil.
func xlibError(window bool) error {
	switch C.parley_x_init() {
	case 1:
	case -1:
		return noX11Error{fmt.Errorf("%w: libX11 (libX11.so.6) is not installed", ErrScreenUnavailable), false}
	case -2:
		return noX11Error{fmt.Errorf("%w: libXext (libXext.so.6) is not installed", ErrScreenUnavailable), false}
	default:
		return fmt.Errorf("%w: libX11 lacks a function screen capture needs", ErrScreenUnavailable)
	}
	if !window {
		return nil
	}
	switch C.parley_xc_init() {
	case 1:
		return nil
	case -1:
		return fmt.Errorf("%w: sharing one window needs libXcomposite (libXcomposite.so.1), which is not installed; the entire screen can be shared", ErrScreenUnavailable)
	default:
		return fmt.Errorf("%w: libXcomposite lacks a function window capture needs; the entire screen can be shared", ErrScreenUnavailable)
	}
}

// openX11Screen opens screen t.Screen, or window t.Window, of display (""
// is $DISPLAY). Every failure wraps ErrScreenUnavailable with a sentence
// that says why.
func openX11Screen(display string, t ScreenTarget) (*x11Screen, error) {
	if display == "" {
		display = os.Getenv("DISPLAY")
	}
	if display == "" {
		return nil, noDisplayError()
	}
	if err := xlibError(t.Window != 0); err != nil {
		return nil, err
	}
	s := (*C.parley_screen)(C.calloc(1, C.size_t(unsafe.Sizeof(C.parley_screen{}))))
	if s == nil {
		return nil, fmt.Errorf("%w: out of memory", ErrScreenUnavailable)
	}
	name := C.CString(display)
	defer C.free(unsafe.Pointer(name))
	var screens C.int
	var rc C.int
	if t.Window != 0 {
		rc = C.parley_window_open(s, name, C.ulong(t.Window))
	} else {
		rc = C.parley_screen_open(s, name, C.int(t.Screen), &screens)
	}
	if rc != 0 {
		C.parley_screen_close(s)
		C.free(unsafe.Pointer(s))
		return nil, openError(rc, display, t, int(screens))
	}
	return &x11Screen{s: s, w: int(s.w), h: int(s.h)}, nil
}

// openError says why opening a capture failed.
func openError(rc C.int, display string, t ScreenTarget, screens int) error {
	switch rc {
	case -10:
		return noX11Error{fmt.Errorf("%w: cannot open the X11 display %q (no X server there, or not allowed)", ErrScreenUnavailable, display), false}
	case -11:
		return fmt.Errorf("%w: the X11 display %q has %d screen(s); there is no screen %d", ErrScreenUnavailable, display, screens, t.Screen)
	case -12:
		return noX11Error{fmt.Errorf("%w: %q is XWayland: its root window is not the desktop", ErrScreenUnavailable, display), true}
	case -15:
		return fmt.Errorf("%w: the X11 display %q has no Composite extension, which sharing one window needs; the entire screen can be shared", ErrScreenUnavailable, display)
	case -16:
		return fmt.Errorf("%w: there is no window %s on the X11 display %q", ErrScreenUnavailable, t, display)
	case -17:
		return fmt.Errorf("%w: the window %s is not shown (unmapped or minimised)", ErrScreenUnavailable, t)
	case -18:
		return fmt.Errorf("%w: %s is a root window: share the entire screen instead", ErrScreenUnavailable, t)
	case -19:
		return fmt.Errorf("%w: the window %s has no picture (an input-only window)", ErrScreenUnavailable, t)
	case -5:
		return fmt.Errorf("%w: the window %s is too large to share (over %d pixels)", ErrScreenUnavailable, t, int(C.PARLEY_MAX_PIXELS))
	case -20:
		return fmt.Errorf("%w: the window %s is too small to share (under %d pixels on a side)", ErrScreenUnavailable, t, int(C.PARLEY_MIN_SIDE))
	default:
		return fmt.Errorf("%w: X11 capture setup failed (%d)", ErrScreenUnavailable, int(rc))
	}
}

func (x *x11Screen) size() (int, int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.w, x.h
}

// grab captures into dst (I420 of size()) and reports whether the picture
// changed since the last grab; force converts even when it did not. A
// window whose size changed gives errCaptureResized (size() is the new
// size); one that closed gives ErrWindowClosed.
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
	dw, dh := dst.Rect.Dx(), dst.Rect.Dy()
	if dw < 2 || dh < 2 || len(dst.Y) < dw*dh {
		return false, fmt.Errorf("%w: no picture to capture into (%dx%d)", ErrScreenUnavailable, dw, dh)
	}
	rc := C.parley_screen_grab(x.s, C.int(dw), C.int(dh),
		(*C.uchar)(unsafe.Pointer(&dst.Y[0])), (*C.uchar)(unsafe.Pointer(&dst.Cb[0])), (*C.uchar)(unsafe.Pointer(&dst.Cr[0])),
		C.int(dst.YStride), C.int(dst.CStride), f)
	switch rc {
	case 1:
		return true, nil
	case 0:
		return false, nil
	case 2:
		x.w, x.h = int(x.s.w), int(x.s.h)
		return false, errCaptureResized
	case -2:
		return false, fmt.Errorf("%w: the X11 screen's pixel format is not 24-bit colour in 32-bit pixels", ErrScreenUnavailable)
	case -3:
		return false, ErrWindowClosed
	case -5:
		return false, fmt.Errorf("%w: the shared window grew too large to share (over %d pixels)", ErrScreenUnavailable, int(C.PARLEY_MAX_PIXELS))
	case -4:
		return false, fmt.Errorf("%w: the connection to the X11 display was lost (the X server went away)", ErrScreenUnavailable)
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

// maxListed is the most windows listed.
const maxListed = 256

// listX11Sources lists the screens and the windows of display (""
// is $DISPLAY) that can be shared.
func listX11Sources(display string) ([]ScreenSource, error) {
	if display == "" {
		display = os.Getenv("DISPLAY")
	}
	if display == "" {
		return nil, noDisplayError()
	}
	if err := xlibError(false); err != nil {
		return nil, err
	}
	infos := (*[maxListed]C.parley_window_info)(C.calloc(maxListed, C.size_t(unsafe.Sizeof(C.parley_window_info{}))))
	if infos == nil {
		return nil, fmt.Errorf("%w: out of memory", ErrScreenUnavailable)
	}
	defer C.free(unsafe.Pointer(infos))
	name := C.CString(display)
	defer C.free(unsafe.Pointer(name))
	var screens C.int
	var sw, sh [C.PARLEY_MAX_SCREENS]C.int
	n := int(C.parley_list_windows(name, &infos[0], maxListed, &screens, &sw[0], &sh[0]))
	if n < 0 {
		return nil, openError(C.int(n), display, ScreenTarget{}, int(screens))
	}
	var out []ScreenSource
	ns := min(int(screens), len(sw))
	for i := range ns {
		out = append(out, ScreenSource{ID: ScreenTarget{Screen: i}.String(), Title: screenTitle(i, ns), Width: int(sw[i]), Height: int(sh[i])})
	}
	// Topmost first: the window just used is the likeliest choice.
	for i := n - 1; i >= 0; i-- {
		in := &infos[i]
		raw := C.GoBytes(unsafe.Pointer(&in.title[0]), in.title_len)
		title := sanitizeTitle(raw, in.utf8 != 0)
		if title == "" || in.id == 0 || uint64(in.id) > maxWindowID {
			continue
		}
		out = append(out, ScreenSource{ID: ScreenTarget{Window: uint32(in.id)}.String(), Title: title, Width: int(in.w), Height: int(in.h)})
	}
	return out, nil
}
