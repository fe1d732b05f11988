package call

/*
#cgo pkg-config: vpx
#include <stdlib.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vp8dx.h>

static int parley_vp8_init(vpx_codec_ctx_t *ctx) {
	vpx_codec_dec_cfg_t cfg = {0};
	cfg.threads = 1;
	return vpx_codec_dec_init(ctx, vpx_codec_vp8_dx(), &cfg, 0);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// vp8Decoder decodes received VP8 frames in Go: the CLI and the tests count
// decoded frames, freezes and latency with it (the app's window decodes
// in the webview, with WebCodecs).
type vp8Decoder struct {
	ctx *C.vpx_codec_ctx_t
}

func newVP8Decoder() (*vp8Decoder, error) {
	ctx := (*C.vpx_codec_ctx_t)(C.calloc(1, C.size_t(unsafe.Sizeof(C.vpx_codec_ctx_t{}))))
	if ctx == nil {
		return nil, errors.New("call: vp8 decoder: out of memory")
	}
	if rc := C.parley_vp8_init(ctx); rc != C.VPX_CODEC_OK {
		C.free(unsafe.Pointer(ctx))
		return nil, fmt.Errorf("call: vp8 decoder init: %d", int(rc))
	}
	return &vp8Decoder{ctx: ctx}, nil
}

// decodedFrame is a view of the decoder's last picture: valid until the
// next decode.
type decodedFrame struct {
	y             []byte
	stride        int
	width, height int
	// screen: the frame is of the peer's shared screen, not its camera
	// (set by the receiver).
	screen bool
}

// decode decodes one complete VP8 frame. ok is false when the decoder
// produced no picture (a frame it could not use).
func (d *vp8Decoder) decode(frame []byte) (decodedFrame, bool, error) {
	if len(frame) == 0 {
		return decodedFrame{}, false, nil
	}
	buf := (*C.uint8_t)(C.CBytes(frame))
	defer C.free(unsafe.Pointer(buf))
	if rc := C.vpx_codec_decode(d.ctx, buf, C.uint(len(frame)), nil, 0); rc != C.VPX_CODEC_OK {
		return decodedFrame{}, false, fmt.Errorf("call: vp8 decode: %d", int(rc))
	}
	var iter C.vpx_codec_iter_t
	var last *C.vpx_image_t
	for img := C.vpx_codec_get_frame(d.ctx, &iter); img != nil; img = C.vpx_codec_get_frame(d.ctx, &iter) {
		last = img
	}
	if last == nil {
		return decodedFrame{}, false, nil
	}
	h, stride := int(last.d_h), int(last.stride[0])
	return decodedFrame{
		y:      unsafe.Slice((*byte)(unsafe.Pointer(last.planes[0])), stride*h),
		stride: stride,
		width:  int(last.d_w),
		height: h,
	}, true, nil
}

func (d *vp8Decoder) close() {
	if d.ctx != nil {
		C.vpx_codec_destroy(d.ctx)
		C.free(unsafe.Pointer(d.ctx))
		d.ctx = nil
	}
}
