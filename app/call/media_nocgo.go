//go:build !cgo

package call

import (
	"context"
	"errors"

	"github.com/pion/mediadevices/pkg/codec"
)

// ErrNoCodecs is what a call does in a build without cgo: the codecs
// (libvpx, libopus) and the sound output (miniaudio) are C libraries, so
// such a build (parley-cli cross-compiled with CGO_ENABLED=0) chats and
// sends files but cannot call.
var ErrNoCodecs = errors.New("call: this build has no audio/video codecs (built without cgo)")

func openVideo(Sources) (*localVideo, error) { return nil, ErrNoCodecs }

func openAudio(Sources) (*localAudio, error) { return nil, ErrNoCodecs }

func openScreenVideo(context.Context, Sources, ScreenTarget) (*localVideo, error) {
	return nil, ErrNoCodecs
}

func (v *localVideo) preview() (codec.ReadCloser, int, int, error) {
	return nil, 0, 0, ErrNoCodecs
}

// player plays nothing without cgo; newPlayer never returns one.
type player struct{}

func newPlayer(string) (*player, error) { return nil, ErrNoCodecs }
func (*player) push([]int16)            {}
func (*player) samplesPlayed() int      { return 0 }
func (*player) close()                  {}

// Speakers lists no output devices without cgo.
func Speakers() []Device { return nil }

type opusDecoder struct{}

func newOpusDecoder() (*opusDecoder, error)         { return nil, ErrNoCodecs }
func (*opusDecoder) decode([]byte) ([]int16, error) { return nil, ErrNoCodecs }
func (*opusDecoder) close()                         {}

type vp8Decoder struct{}

func newVP8Decoder() (*vp8Decoder, error) { return nil, ErrNoCodecs }
func (*vp8Decoder) decode([]byte) (decodedFrame, bool, error) {
	return decodedFrame{}, false, ErrNoCodecs
}
func (*vp8Decoder) close() {}

// decodedFrame is vp8dec.go's picture view; never produced without cgo.
type decodedFrame struct {
	y             []byte
	stride        int
	width, height int
	// screen: the frame is of the peer's shared screen, not its camera
	// (set by the receiver).
	screen bool
}
