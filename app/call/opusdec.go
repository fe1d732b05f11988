package call

/*
// libopus comes from mediadevices' vendored static library (its
// pkg/codec/opus links it into every binary that encodes Opus), so only
// the decoder's prototypes are declared here.
typedef struct OpusDecoder OpusDecoder;
OpusDecoder *opus_decoder_create(int fs, int channels, int *error);
int opus_decode(OpusDecoder *st, const unsigned char *data, int len, short *pcm, int frame_size, int decode_fec);
void opus_decoder_destroy(OpusDecoder *st);
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// opusDecoder turns the peer's Opus packets into 48 kHz mono samples for
// the speaker.
type opusDecoder struct {
	st  *C.OpusDecoder
	pcm []int16
}

func newOpusDecoder() (*opusDecoder, error) {
	var rc C.int
	st := C.opus_decoder_create(audioRate, 1, &rc)
	if st == nil || rc != 0 {
		return nil, fmt.Errorf("call: opus decoder: error %d", int(rc))
	}
	// 120 ms is the longest Opus packet.
	return &opusDecoder{st: st, pcm: make([]int16, audioRate*120/1000)}, nil
}

// decode returns the samples of one packet (valid until the next call);
// a nil packet conceals a lost one.
func (d *opusDecoder) decode(pkt []byte) ([]int16, error) {
	var data *C.uchar
	if len(pkt) > 0 {
		data = (*C.uchar)(unsafe.Pointer(&pkt[0]))
	}
	n := C.opus_decode(d.st, data, C.int(len(pkt)), (*C.short)(unsafe.Pointer(&d.pcm[0])), C.int(len(d.pcm)), 0)
	if n < 0 {
		return nil, fmt.Errorf("call: opus decode: error %d", int(n))
	}
	return d.pcm[:n], nil
}

func (d *opusDecoder) close() {
	if d.st != nil {
		C.opus_decoder_destroy(d.st)
		d.st = nil
	}
}
