//go:build linux && cgo

package call

/*
#cgo CFLAGS: -I/usr/include/pipewire-0.3 -I/usr/include/spa-0.2 -D_REENTRANT
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pipewire/pipewire.h>
#include <spa/param/video/format-utils.h>
#include <spa/param/param.h>
#include <spa/pod/builder.h>

// libpipewire is opened at run time (dlopen), like libX11 in
// screen_x11.go: no binary links it, and a machine without PipeWire runs
// everything but Wayland screen sharing. Only the headers are needed to
// build (libpipewire-0.3-dev, libspa-0.2-dev); SPA itself is header-only.
typedef struct {
	void (*init)(int *, char ***);
	struct pw_thread_loop *(*thread_loop_new)(const char *, const struct spa_dict *);
	struct pw_loop *(*thread_loop_get_loop)(struct pw_thread_loop *);
	int (*thread_loop_start)(struct pw_thread_loop *);
	void (*thread_loop_stop)(struct pw_thread_loop *);
	void (*thread_loop_destroy)(struct pw_thread_loop *);
	void (*thread_loop_lock)(struct pw_thread_loop *);
	void (*thread_loop_unlock)(struct pw_thread_loop *);
	void (*thread_loop_signal)(struct pw_thread_loop *, bool);
	int (*thread_loop_timed_wait)(struct pw_thread_loop *, int);
	struct pw_context *(*context_new)(struct pw_loop *, struct pw_properties *, size_t);
	void (*context_destroy)(struct pw_context *);
	struct pw_core *(*context_connect_fd)(struct pw_context *, int, struct pw_properties *, size_t);
	int (*core_disconnect)(struct pw_core *);
	struct pw_properties *(*properties_new)(const char *, ...);
	struct pw_stream *(*stream_new)(struct pw_core *, const char *, struct pw_properties *);
	void (*stream_add_listener)(struct pw_stream *, struct spa_hook *, const struct pw_stream_events *, void *);
	int (*stream_connect)(struct pw_stream *, enum pw_direction, uint32_t, enum pw_stream_flags, const struct spa_pod **, uint32_t);
	int (*stream_update_params)(struct pw_stream *, const struct spa_pod **, uint32_t);
	struct pw_buffer *(*stream_dequeue_buffer)(struct pw_stream *);
	int (*stream_queue_buffer)(struct pw_stream *, struct pw_buffer *);
	int (*stream_disconnect)(struct pw_stream *);
	void (*stream_destroy)(struct pw_stream *);
} parley_pwlib;

static parley_pwlib PW;
static int parley_pw_loaded; // 1 loaded; -1 library missing; -2 a symbol missing

static void parley_pw_load(void) {
	void *l = dlopen("libpipewire-0.3.so.0", RTLD_NOW | RTLD_LOCAL);
	if (!l) { parley_pw_loaded = -1; return; }
#define SYM(f) if (!(*(void **)(&PW.f) = dlsym(l, "pw_" #f))) { parley_pw_loaded = -2; return; }
	SYM(init) SYM(thread_loop_new) SYM(thread_loop_get_loop) SYM(thread_loop_start) SYM(thread_loop_stop)
	SYM(thread_loop_destroy) SYM(thread_loop_lock) SYM(thread_loop_unlock) SYM(thread_loop_signal)
	SYM(thread_loop_timed_wait) SYM(context_new) SYM(context_destroy) SYM(context_connect_fd)
	SYM(core_disconnect) SYM(properties_new) SYM(stream_new) SYM(stream_add_listener) SYM(stream_connect)
	SYM(stream_update_params) SYM(stream_dequeue_buffer) SYM(stream_queue_buffer) SYM(stream_disconnect)
	SYM(stream_destroy)
#undef SYM
	PW.init(NULL, NULL);
	parley_pw_loaded = 1;
}

static int parley_pw_init(void) {
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, parley_pw_load);
	return parley_pw_loaded;
}

// The largest picture accepted from the stream (a portal is a separate
// process: its sizes are checked, not trusted).
#define PARLEY_PW_MAX_SIDE 8192

typedef struct {
	struct pw_thread_loop *loop;
	struct pw_context *ctx;
	struct pw_core *core;
	struct pw_stream *stream;
	struct spa_hook stream_listener, core_listener;
	int started;

	// Written on the loop's thread, read under the loop's lock.
	int fmt;                // 0 none yet; 1 blue in byte 0 (BGRx, BGRA); 2 red in byte 0 (RGBx, RGBA)
	int w, h;               // the negotiated size
	int ended;              // the stream failed or ended; why says how
	char why[200];
	unsigned char *latest;  // the newest frame, w*h*4 bytes, packed rows
	size_t latest_cap;
	int lw, lh, lfmt;       // what latest holds
	unsigned long long seq; // frames received

	// The grabbing goroutine's own (no lock needed).
	unsigned char *prev;    // the last frame converted
	size_t prev_cap;
	int pw, ph, pfmt;
	unsigned long long pseq;
	int ow, oh;             // the size the last grab found (under the loop's lock)
} parley_pw;

static void pw_fail(parley_pw *p, const char *why) {
	if (!p->ended) {
		p->ended = 1;
		snprintf(p->why, sizeof(p->why), "%s", why ? why : "the stream ended");
	}
	PW.thread_loop_signal(p->loop, false);
}

static void on_state_changed(void *data, enum pw_stream_state old, enum pw_stream_state state, const char *error) {
	parley_pw *p = data;
	if (state == PW_STREAM_STATE_ERROR) {
		char why[180];
		snprintf(why, sizeof(why), "the screen stream failed: %.120s", error ? error : "unknown error");
		pw_fail(p, why);
	} else if (state == PW_STREAM_STATE_UNCONNECTED && old != PW_STREAM_STATE_UNCONNECTED) {
		pw_fail(p, "the screen stream ended");
	}
}

static void on_param_changed(void *data, uint32_t id, const struct spa_pod *param) {
	parley_pw *p = data;
	if (param == NULL || id != SPA_PARAM_Format) return;
	uint32_t mt = 0, mst = 0;
	if (spa_format_parse(param, &mt, &mst) < 0 || mt != SPA_MEDIA_TYPE_video || mst != SPA_MEDIA_SUBTYPE_raw) {
		pw_fail(p, "the screen stream is not raw video");
		return;
	}
	struct spa_video_info_raw info;
	memset(&info, 0, sizeof(info));
	if (spa_format_video_raw_parse(param, &info) < 0) {
		pw_fail(p, "the screen stream's format cannot be read");
		return;
	}
	int fmt = 0;
	switch (info.format) {
	case SPA_VIDEO_FORMAT_BGRx: case SPA_VIDEO_FORMAT_BGRA: fmt = 1; break;
	case SPA_VIDEO_FORMAT_RGBx: case SPA_VIDEO_FORMAT_RGBA: fmt = 2; break;
	default:
		pw_fail(p, "the screen stream offers no 32-bit RGB format");
		return;
	}
	if (info.size.width < 2 || info.size.height < 2 || info.size.width > PARLEY_PW_MAX_SIDE || info.size.height > PARLEY_PW_MAX_SIDE) {
		pw_fail(p, "the screen stream's picture size is out of range");
		return;
	}
	int w = info.size.width & ~1, h = info.size.height & ~1;
	size_t need = (size_t)w * h * 4;
	if (need > p->latest_cap) {
		unsigned char *n = realloc(p->latest, need);
		if (!n) { pw_fail(p, "out of memory"); return; }
		p->latest = n;
		p->latest_cap = need;
	}
	p->fmt = fmt;
	p->w = w;
	p->h = h;
	// Memory the CPU can read: shared memory, not DMA buffers (no
	// modifier was offered, so the producer has none to pick anyway).
	uint8_t buf[256];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buf, sizeof(buf));
	const struct spa_pod *params[1];
	params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers,
		SPA_PARAM_BUFFERS_dataType, SPA_POD_CHOICE_FLAGS_Int((1 << SPA_DATA_MemPtr) | (1 << SPA_DATA_MemFd)));
	PW.stream_update_params(p->stream, params, 1);
	PW.thread_loop_signal(p->loop, false);
}

static void on_process(void *data) {
	parley_pw *p = data;
	struct pw_buffer *b = NULL, *n;
	// Only the newest frame matters: older ones go straight back.
	while ((n = PW.stream_dequeue_buffer(p->stream)) != NULL) {
		if (b) PW.stream_queue_buffer(p->stream, b);
		b = n;
	}
	if (!b) return;
	struct spa_buffer *sb = b->buffer;
	if (p->fmt && sb && sb->n_datas >= 1 && sb->datas[0].data && sb->datas[0].chunk) {
		struct spa_data *d = &sb->datas[0];
		struct spa_chunk *c = d->chunk;
		size_t row = (size_t)p->w * 4;
		size_t stride = c->stride > 0 ? (size_t)c->stride : row;
		size_t off = c->offset;
		// A frame without picture data (a cursor-only update) or one
		// marked corrupted is skipped; sizes are checked against the
		// buffer before anything is read.
		if (c->size > 0 && !(c->flags & SPA_CHUNK_FLAG_CORRUPTED) && stride >= row &&
		    off <= d->maxsize && stride * (size_t)(p->h - 1) + row <= d->maxsize - off) {
			unsigned char *src = (unsigned char *)d->data + off;
			for (int r = 0; r < p->h; r++) memcpy(p->latest + (size_t)r * row, src + (size_t)r * stride, row);
			p->lw = p->w;
			p->lh = p->h;
			p->lfmt = p->fmt;
			p->seq++;
			PW.thread_loop_signal(p->loop, false);
		}
	}
	PW.stream_queue_buffer(p->stream, b);
}

static void on_core_error(void *data, uint32_t id, int seq, int res, const char *message) {
	parley_pw *p = data;
	if (id == PW_ID_CORE) {
		char why[180];
		snprintf(why, sizeof(why), "the connection to PipeWire failed: %.120s", message ? message : strerror(-res));
		pw_fail(p, why);
	}
}

static const struct pw_stream_events parley_stream_events = {
	PW_VERSION_STREAM_EVENTS,
	.state_changed = on_state_changed,
	.param_changed = on_param_changed,
	.process = on_process,
};

static const struct pw_core_events parley_core_events = {
	PW_VERSION_CORE_EVENTS,
	.error = on_core_error,
};

// parley_pw_open connects to the PipeWire remote behind fd (which it
// owns from here on) and asks node for raw 32-bit RGB video. 0 ok; -1
// thread loop; -2 context; -3 the connection; -4 the stream; -5 connect;
// -6 the loop's thread.
static int parley_pw_open(parley_pw *p, int fd, uint32_t node) {
	p->loop = PW.thread_loop_new("parley-screen", NULL);
	if (!p->loop) { close(fd); return -1; }
	p->ctx = PW.context_new(PW.thread_loop_get_loop(p->loop), NULL, 0);
	if (!p->ctx) { close(fd); return -2; }
	p->core = PW.context_connect_fd(p->ctx, fd, NULL, 0);
	if (!p->core) return -3;
	pw_core_add_listener(p->core, &p->core_listener, &parley_core_events, p);
	p->stream = PW.stream_new(p->core, "parley-screen", PW.properties_new(
		PW_KEY_MEDIA_TYPE, "Video", PW_KEY_MEDIA_CATEGORY, "Capture", PW_KEY_MEDIA_ROLE, "Screen", NULL));
	if (!p->stream) return -4;
	PW.stream_add_listener(p->stream, &p->stream_listener, &parley_stream_events, p);
	uint8_t buf[1024];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buf, sizeof(buf));
	const struct spa_pod *params[1];
	params[0] = spa_pod_builder_add_object(&b, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat,
		SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
		SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
		SPA_FORMAT_VIDEO_format, SPA_POD_CHOICE_ENUM_Id(5, SPA_VIDEO_FORMAT_BGRx, SPA_VIDEO_FORMAT_BGRx,
			SPA_VIDEO_FORMAT_RGBx, SPA_VIDEO_FORMAT_BGRA, SPA_VIDEO_FORMAT_RGBA),
		SPA_FORMAT_VIDEO_size, SPA_POD_CHOICE_RANGE_Rectangle(&SPA_RECTANGLE(1920, 1080), &SPA_RECTANGLE(2, 2),
			&SPA_RECTANGLE(PARLEY_PW_MAX_SIDE, PARLEY_PW_MAX_SIDE)),
		SPA_FORMAT_VIDEO_framerate, SPA_POD_CHOICE_RANGE_Fraction(&SPA_FRACTION(15, 1), &SPA_FRACTION(0, 1), &SPA_FRACTION(1000, 1)));
	// DONT_RECONNECT: when the shared node goes, the stream ends rather
	// than being moved to another video source (a camera).
	if (PW.stream_connect(p->stream, PW_DIRECTION_INPUT, node,
	    PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS | PW_STREAM_FLAG_DONT_RECONNECT, params, 1) < 0) return -5;
	if (PW.thread_loop_start(p->loop) < 0) return -6;
	p->started = 1;
	return 0;
}

// parley_pw_wait_format waits until the stream's format (so its size) is
// known: 0 ok, -1 the stream ended (why says how), -2 not within secs
// seconds. The first frame may come much later: xdg-desktop-portal-wlr,
// for one, sends a frame only when the screen changes.
static int parley_pw_wait_format(parley_pw *p, int secs) {
	int rc = -2, waited = 0;
	PW.thread_loop_lock(p->loop);
	// Each wait ends at a signal (a frame, a format, the end) or after a
	// second; only the seconds count.
	while (rc == -2 && waited <= secs) {
		if (p->ended) rc = -1;
		else if (p->fmt) rc = 0;
		else if (PW.thread_loop_timed_wait(p->loop, 1) != 0) waited++;
	}
	if (rc == 0) {
		p->ow = p->w;
		p->oh = p->h;
	}
	PW.thread_loop_unlock(p->loop);
	return rc;
}

static void parley_pw_why(parley_pw *p, char *out, size_t n) {
	PW.thread_loop_lock(p->loop);
	snprintf(out, n, "%s", p->why);
	PW.thread_loop_unlock(p->loop);
}

static void parley_pw_close(parley_pw *p) {
	if (p->started) PW.thread_loop_stop(p->loop);
	if (p->stream) PW.stream_destroy(p->stream);
	if (p->core) PW.core_disconnect(p->core);
	if (p->ctx) PW.context_destroy(p->ctx);
	if (p->loop) PW.thread_loop_destroy(p->loop);
	free(p->latest);
	free(p->prev);
	memset(p, 0, sizeof(*p));
}

// parley_pw_grab writes the newest frame as I420 BT.601 into y, u, v (of
// dw x dh): 1 when it differs from the last one converted (or force), 0
// when it does not or there is no frame yet (nothing written), -1 when
// the stream ended, -3 when the frame is not dw x dh (the output or
// window was resized: ow x oh is the new size; nothing written).
static int parley_pw_grab(parley_pw *p, unsigned char *y, unsigned char *u, unsigned char *v, int ys, int cs, int dw, int dh, int force) {
	PW.thread_loop_lock(p->loop);
	if (p->ended) { PW.thread_loop_unlock(p->loop); return -1; }
	if (p->seq == 0) { PW.thread_loop_unlock(p->loop); return 0; }
	if (p->lw != dw || p->lh != dh) {
		p->ow = p->lw;
		p->oh = p->lh;
		PW.thread_loop_unlock(p->loop);
		return -3;
	}
	if (p->seq == p->pseq && !force) { PW.thread_loop_unlock(p->loop); return 0; }
	size_t n = (size_t)p->lw * p->lh * 4;
	int same = !force && p->lw == p->pw && p->lh == p->ph && p->lfmt == p->pfmt && memcmp(p->latest, p->prev, n) == 0;
	if (!same) {
		if (n > p->prev_cap) {
			unsigned char *m = realloc(p->prev, n);
			if (!m) { PW.thread_loop_unlock(p->loop); return -2; }
			p->prev = m;
			p->prev_cap = n;
		}
		memcpy(p->prev, p->latest, n);
		p->pw = p->lw;
		p->ph = p->lh;
		p->pfmt = p->lfmt;
	}
	p->pseq = p->seq;
	PW.thread_loop_unlock(p->loop);
	if (same) return 0;
	int ri = p->pfmt == 1 ? 2 : 0, bi = p->pfmt == 1 ? 0 : 2;
	size_t row = (size_t)p->pw * 4;
	for (int r = 0; r < p->ph; r += 2) {
		unsigned char *s0 = p->prev + (size_t)r * row, *s1 = s0 + row;
		unsigned char *y0 = y + (size_t)r * ys, *y1 = y0 + ys;
		unsigned char *uo = u + (size_t)(r / 2) * cs, *vo = v + (size_t)(r / 2) * cs;
		for (int c = 0; c < p->pw; c += 2) {
			unsigned char *px[4] = {s0 + c * 4, s0 + c * 4 + 4, s1 + c * 4, s1 + c * 4 + 4};
			unsigned char *yo[4] = {&y0[c], &y0[c + 1], &y1[c], &y1[c + 1]};
			int sr = 0, sg = 0, sb = 0;
			for (int k = 0; k < 4; k++) {
				int R = px[k][ri], G = px[k][1], B = px[k][bi];
				*yo[k] = (unsigned char)(((66 * R + 129 * G + 25 * B + 128) >> 8) + 16);
				sr += R; sg += G; sb += B;
			}
			sr = (sr + 2) / 4; sg = (sg + 2) / 4; sb = (sb + 2) / 4;
			uo[c / 2] = (unsigned char)(((-38 * sr - 74 * sg + 112 * sb + 128) >> 8) + 128);
			vo[c / 2] = (unsigned char)(((112 * sr - 94 * sg - 18 * sb + 128) >> 8) + 128);
		}
	}
	return 1;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"sync"
	"unsafe"
)

// pipewireLoadable reports whether libpipewire can be opened, and if not,
// why (the sentence completes "Wayland screen capture needs …").
func pipewireLoadable() error {
	switch C.parley_pw_init() {
	case 1:
		return nil
	case -1:
		return errors.New("libpipewire (libpipewire-0.3.so.0), which receives the portal's screen stream, is not installed")
	default:
		return errors.New("the installed libpipewire lacks a function screen capture needs")
	}
}

// formatTimeout is how long a started screen stream may take to agree on
// its format (and so its size).
const formatTimeout = 10 // seconds

// pwStream receives the portal's screen stream from PipeWire. Its size
// follows the stream's (a resized output or window).
type pwStream struct {
	mu sync.Mutex
	p  *C.parley_pw // nil once closed
	w  int
	h  int
}

// openPipeWireStream consumes node over the PipeWire connection fd (the
// portal's OpenPipeWireRemote; owned by the stream from here on, closed
// on every path) and waits for its format, so that the size is known.
// Until the first frame arrives grab has nothing to give: no black
// picture is ever sent.
func openPipeWireStream(fd int, node uint32) (*pwStream, error) {
	if err := pipewireLoadable(); err != nil {
		closeFD(fd)
		return nil, err
	}
	p := (*C.parley_pw)(C.calloc(1, C.size_t(unsafe.Sizeof(C.parley_pw{}))))
	if p == nil {
		closeFD(fd)
		return nil, errors.New("out of memory")
	}
	if rc := C.parley_pw_open(p, C.int(fd), C.uint32_t(node)); rc != 0 {
		C.parley_pw_close(p)
		C.free(unsafe.Pointer(p))
		return nil, fmt.Errorf("connecting to the portal's PipeWire stream failed (%d)", int(rc))
	}
	switch C.parley_pw_wait_format(p, formatTimeout) {
	case 0:
	case -1:
		var why [200]C.char
		C.parley_pw_why(p, &why[0], C.size_t(len(why)))
		C.parley_pw_close(p)
		C.free(unsafe.Pointer(p))
		return nil, errors.New(C.GoString(&why[0]))
	default:
		C.parley_pw_close(p)
		C.free(unsafe.Pointer(p))
		return nil, fmt.Errorf("the portal's screen stream agreed on no picture format within %d s", formatTimeout)
	}
	return &pwStream{p: p, w: int(p.ow), h: int(p.oh)}, nil
}

func (s *pwStream) size() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w, s.h
}

// grab converts the newest frame into dst (I420 of size()) when it
// differs from the last one converted (or force); errCaptureResized when
// the stream's size changed (size() is the new one, nothing written).
func (s *pwStream) grab(dst *image.YCbCr, force bool) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return false, errScreenClosed
	}
	f := C.int(0)
	if force {
		f = 1
	}
	rc := C.parley_pw_grab(s.p, (*C.uchar)(unsafe.Pointer(&dst.Y[0])), (*C.uchar)(unsafe.Pointer(&dst.Cb[0])), (*C.uchar)(unsafe.Pointer(&dst.Cr[0])),
		C.int(dst.YStride), C.int(dst.CStride), C.int(dst.Rect.Dx()), C.int(dst.Rect.Dy()), f)
	switch rc {
	case 1:
		return true, nil
	case 0:
		return false, nil
	case -3:
		s.w, s.h = int(s.p.ow), int(s.p.oh)
		return false, errCaptureResized
	case -1:
		var why [200]C.char
		C.parley_pw_why(s.p, &why[0], C.size_t(len(why)))
		return false, fmt.Errorf("%w: the screen share ended: %s", ErrScreenUnavailable, C.GoString(&why[0]))
	default:
		return false, fmt.Errorf("%w: out of memory", ErrScreenUnavailable)
	}
}

func (s *pwStream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		C.parley_pw_close(s.p)
		C.free(unsafe.Pointer(s.p))
		s.p = nil
	}
}
