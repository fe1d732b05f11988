//go:build !cgo

package call

import (
	"errors"
	"testing"
)

// TestNoCodecsWithoutCgo: a build without cgo (make vet-cross runs this
// with CGO_ENABLED=0) refuses calls with ErrNoCodecs instead of failing
// to compile.
func TestNoCodecsWithoutCgo(t *testing.T) {
	t.Parallel()
	src := Sources{Audio: SourceTestAudio, Video: SourceTestVideo}
	if _, err := openAudio(src); !errors.Is(err, ErrNoCodecs) {
		t.Errorf("openAudio: %v", err)
	}
	if _, err := openVideo(src); !errors.Is(err, ErrNoCodecs) {
		t.Errorf("openVideo: %v", err)
	}
	if _, err := newPlayer(""); !errors.Is(err, ErrNoCodecs) {
		t.Errorf("newPlayer: %v", err)
	}
	if _, err := newOpusDecoder(); !errors.Is(err, ErrNoCodecs) {
		t.Errorf("newOpusDecoder: %v", err)
	}
	if _, err := newVP8Decoder(); !errors.Is(err, ErrNoCodecs) {
		t.Errorf("newVP8Decoder: %v", err)
	}
}
