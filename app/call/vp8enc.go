package call

/*
#cgo pkg-config: vpx
#include <stdlib.h>
#include <string.h>
#include <vpx/vpx_encoder.h>
#include <vpx/vp8cx.h>

typedef struct {
	vpx_codec_ctx_t ctx;
	vpx_codec_enc_cfg_t cfg;
	int ready;
} parley_vp8enc;

// The rate control of a real-time call, as browsers configure libvpx:
// a buffer of one second, not libvpx's default six (with which the first
// keyframe alone took 150-210 KB, over a second of a 2 Mbit/s link); a
// keyframe no bigger than a few frames' worth; frames dropped when the
// buffer runs dry rather than the link's queue overflowing.
static int parley_vp8enc_init(parley_vp8enc *e, int w, int h, int kbps, int fps, int screen) {
	if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &e->cfg, 0) != VPX_CODEC_OK) return -1;
	e->cfg.g_w = w;
	e->cfg.g_h = h;
	e->cfg.g_timebase.num = 1;
	e->cfg.g_timebase.den = 1000;
	e->cfg.g_threads = 1;
	e->cfg.g_lag_in_frames = 0;
	e->cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
	e->cfg.g_pass = VPX_RC_ONE_PASS;
	e->cfg.rc_end_usage = VPX_CBR;
	e->cfg.rc_target_bitrate = kbps;
	e->cfg.rc_min_quantizer = 2;
	e->cfg.rc_max_quantizer = 56;
	e->cfg.rc_undershoot_pct = 100;
	e->cfg.rc_overshoot_pct = 15;
	e->cfg.rc_buf_initial_sz = 500;
	e->cfg.rc_buf_optimal_sz = 600;
	e->cfg.rc_buf_sz = 1000;
	e->cfg.rc_dropframe_thresh = 30;
	e->cfg.rc_resize_allowed = 0;
	e->cfg.kf_mode = VPX_KF_AUTO;
	e->cfg.kf_max_dist = 3 * fps;
	if (vpx_codec_enc_init(&e->ctx, vpx_codec_vp8_cx(), &e->cfg, 0) != VPX_CODEC_OK) return -2;
	e->ready = 1;
	vpx_codec_control(&e->ctx, VP8E_SET_CPUUSED, -6);
	vpx_codec_control(&e->ctx, VP8E_SET_STATIC_THRESHOLD, 1);
	vpx_codec_control(&e->ctx, VP8E_SET_NOISE_SENSITIVITY, 0);
	// A keyframe at most 0.5 x optimal buffer x fps / 10 percent of an
	// average frame (libwebrtc's rule): 9 frames' worth at 30 fps.
	vpx_codec_control(&e->ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, (unsigned int)(0.5 * 600 * fps / 10));
	// A shared screen: libvpx's screen content mode (text and flat areas,
	// as browsers set it for screen sharing).
	if (screen) vpx_codec_control(&e->ctx, VP8E_SET_SCREEN_CONTENT_MODE, 1);
	return 0;
}

// parley_vp8enc_quantizer is the quantizer (0-63) of the last frame.
static int parley_vp8enc_quantizer(parley_vp8enc *e) {
	int q = 0;
	if (vpx_codec_control(&e->ctx, VP8E_GET_LAST_QUANTIZER_64, &q) != VPX_CODEC_OK) return -1;
	return q;
}

static void parley_vp8enc_destroy(parley_vp8enc *e) {
	if (e->ready) vpx_codec_destroy(&e->ctx);
	e->ready = 0;
}

static int parley_vp8enc_set_rate(parley_vp8enc *e, int kbps) {
	e->cfg.rc_target_bitrate = kbps;
	return vpx_codec_enc_config_set(&e->ctx, &e->cfg);
}

static int parley_vp8enc_encode(parley_vp8enc *e, unsigned char *y, unsigned char *u, unsigned char *v,
		int ystride, int cstride, long pts, unsigned long dur, int key) {
	vpx_image_t img;
	if (!vpx_img_wrap(&img, VPX_IMG_FMT_I420, e->cfg.g_w, e->cfg.g_h, 1, y)) return -1;
	img.planes[VPX_PLANE_Y] = y;
	img.planes[VPX_PLANE_U] = u;
	img.planes[VPX_PLANE_V] = v;
	img.stride[VPX_PLANE_Y] = ystride;
	img.stride[VPX_PLANE_U] = cstride;
	img.stride[VPX_PLANE_V] = cstride;
	return vpx_codec_encode(&e->ctx, &img, pts, dur, key ? VPX_EFLAG_FORCE_KF : 0, VPX_DL_REALTIME);
}

// parley_vp8enc_next returns the next compressed frame of the last encode
// (NULL when none: the rate control dropped the frame).
static const vpx_codec_cx_pkt_t *parley_vp8enc_next(parley_vp8enc *e, vpx_codec_iter_t *it) {
	const vpx_codec_cx_pkt_t *p;
	while ((p = vpx_codec_get_cx_data(&e->ctx, it)) != NULL) {
		if (p->kind == VPX_CODEC_CX_FRAME_PKT) return p;
	}
	return NULL;
}
static void *parley_pkt_buf(const vpx_codec_cx_pkt_t *p) { return p->data.frame.buf; }
static size_t parley_pkt_size(const vpx_codec_cx_pkt_t *p) { return p->data.frame.sz; }
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"io"
	"sync"
	"time"
	"unsafe"

	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// vp8Params builds the calls' VP8 encoder: libvpx configured for real
// time as browsers do (see parley_vp8enc_init). mediadevices' own vpx
// encoder keeps libvpx's default six-second rate-control buffer and has
// no keyframe size cap or frame dropping, so it cannot follow a link that
// carries less than its pictures need.
type vp8Params struct {
	bitrate int  // bits per second at the start
	fps     int  // the source's, for the keyframe interval and cap
	screen  bool // a shared screen: libvpx's screen content mode
}

// RTPCodec is VP8 at the 90 kHz video clock.
func (p *vp8Params) RTPCodec() *codec.RTPCodec { return codec.NewRTPVP8Codec(90000) }

// BuildVideoEncoder starts an encoder for r; the picture size may change
// between frames (the encoder restarts with a keyframe).
func (p *vp8Params) BuildVideoEncoder(r video.Reader, _ prop.Media) (codec.ReadCloser, error) {
	e := &vp8Encoder{r: video.ToI420(r), bitrate: p.bitrate, fps: max(p.fps, 1), screen: p.screen, clock: time.Now}
	e.start = e.clock()
	e.enc = (*C.parley_vp8enc)(C.calloc(1, C.size_t(unsafe.Sizeof(C.parley_vp8enc{}))))
	if e.enc == nil {
		return nil, errors.New("call: vp8 encoder: out of memory")
	}
	return e, nil
}

// vp8Encoder is one VP8 stream. Read encodes the next frame the rate
// control keeps (a dropped frame is skipped, not returned empty).
type vp8Encoder struct {
	r      video.Reader
	fps    int
	screen bool
	start  time.Time
	clock  func() time.Time // time.Now; tests drive it

	mu        sync.Mutex
	enc       *C.parley_vp8enc // nil once closed
	w, h      int
	bitrate   int // wanted
	applied   int // in the encoder
	forceKey  bool
	qSum      int // quantizers of the frames since takeQuantizer
	qFrames   int
	lastFrame time.Duration // since start, of the last frame encoded
	avgGap    time.Duration // smoothed time between frames
	pts       int64         // milliseconds, the encoder's clock
}

// Read returns the next encoded frame.
func (e *vp8Encoder) Read() ([]byte, func(), error) {
	for {
		img, release, err := e.r.Read()
		if err != nil {
			return nil, func() {}, err
		}
		out, err := e.encode(img)
		release()
		if err != nil || out != nil {
			return out, func() {}, err
		}
	}
}

func (e *vp8Encoder) encode(img image.Image) ([]byte, error) {
	yuv, ok := img.(*image.YCbCr)
	if !ok || yuv.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return nil, errors.New("call: vp8 encoder: not an I420 picture")
	}
	w, h := yuv.Rect.Dx(), yuv.Rect.Dy()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.enc == nil {
		return nil, io.EOF
	}
	if w != e.w || h != e.h || e.enc.ready == 0 {
		C.parley_vp8enc_destroy(e.enc)
		if rc := C.parley_vp8enc_init(e.enc, C.int(w), C.int(h), C.int(max(e.bitrate/1000, 1)), C.int(e.fps), cBool(e.screen)); rc != 0 {
			return nil, fmt.Errorf("call: vp8 encoder init %dx%d: %d", w, h, int(rc))
		}
		e.w, e.h, e.applied = w, h, e.bitrate
	}
	if e.applied != e.bitrate {
		if rc := C.parley_vp8enc_set_rate(e.enc, C.int(max(e.bitrate/1000, 1))); rc != C.VPX_CODEC_OK {
			return nil, fmt.Errorf("call: vp8 encoder bitrate: %d", int(rc))
		}
		e.applied = e.bitrate
	}
	// The encoder's clock advances by a smoothed time between frames.
	// libvpx's rate control re-derives the frame rate from each frame's
	// duration, and a sudden long one (a source or a process that stalled
	// for 100 ms or more, or a frame the shaper dropped) makes it spend
	// a second's budget on the next frame: 90-180 KB frames at quantizer
	// 8-23 were measured at 380 kbit/s. Each interval counts for at most
	// twice the average, and the average moves by a tenth of the
	// difference, so the rate follows a new frame rate within a second or
	// two and never jumps.
	now := e.clock().Sub(e.start)
	if e.avgGap == 0 {
		e.avgGap = time.Second / time.Duration(e.fps)
	} else {
		gap := min(max(now-e.lastFrame, time.Millisecond), 2*e.avgGap)
		e.avgGap += (gap - e.avgGap) / 10
	}
	e.lastFrame = now
	dur := max(e.avgGap.Round(time.Millisecond), time.Millisecond)
	e.pts += dur.Milliseconds()
	pts := e.pts
	key := C.int(0)
	if e.forceKey {
		key = 1
	}
	off := yuv.YOffset(yuv.Rect.Min.X, yuv.Rect.Min.Y)
	coff := yuv.COffset(yuv.Rect.Min.X, yuv.Rect.Min.Y)
	rc := C.parley_vp8enc_encode(e.enc,
		(*C.uchar)(unsafe.Pointer(&yuv.Y[off])), (*C.uchar)(unsafe.Pointer(&yuv.Cb[coff])), (*C.uchar)(unsafe.Pointer(&yuv.Cr[coff])),
		C.int(yuv.YStride), C.int(yuv.CStride), C.long(pts), C.ulong(dur.Milliseconds()), key)
	if rc != C.VPX_CODEC_OK {
		return nil, fmt.Errorf("call: vp8 encode: %d", int(rc))
	}
	var out []byte
	var it C.vpx_codec_iter_t
	for p := C.parley_vp8enc_next(e.enc, &it); p != nil; p = C.parley_vp8enc_next(e.enc, &it) {
		out = append(out, C.GoBytes(C.parley_pkt_buf(p), C.int(C.parley_pkt_size(p)))...)
	}
	if out != nil {
		e.forceKey = false // a dropped frame leaves the request for the next
		if q := int(C.parley_vp8enc_quantizer(e.enc)); q >= 0 {
			e.qSum += q
			e.qFrames++
		}
	}
	return out, nil
}

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// ForceKeyFrame makes the next frame a keyframe.
func (e *vp8Encoder) ForceKeyFrame() error {
	e.mu.Lock()
	e.forceKey = true
	e.mu.Unlock()
	return nil
}

// SetBitRate sets the target in bits per second, from the next frame.
func (e *vp8Encoder) SetBitRate(bps int) error {
	e.mu.Lock()
	e.bitrate = max(bps, 1000)
	e.mu.Unlock()
	return nil
}

// takeQuantizer returns the mean quantizer (0-63) of the frames encoded
// since the last call, and false when there were none.
func (e *vp8Encoder) takeQuantizer() (int, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.qFrames == 0 {
		return 0, false
	}
	q := e.qSum / e.qFrames
	e.qSum, e.qFrames = 0, 0
	return q, true
}

// Controller is the encoder itself (keyframes and bitrate).
func (e *vp8Encoder) Controller() codec.EncoderController { return e }

// Close frees the encoder; a Read under way ends with io.EOF.
func (e *vp8Encoder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.enc != nil {
		C.parley_vp8enc_destroy(e.enc)
		C.free(unsafe.Pointer(e.enc))
		e.enc = nil
	}
	return nil
}
