//go:build cgo

package call

import (
	"image"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// TestVP8EncoderFrameSizes encodes the busy synthetic camera at 640x480
// and 380 kbit/s on a fake clock: keyframes stay a few frames' worth
// (mediadevices' encoder, with libvpx's default 6 s buffer, made 150-210
// KB keyframes at this size), the rate is near the target, and a stall
// of the source does not let the next keyframe spend the buffer.
func TestVP8EncoderFrameSizes(t *testing.T) {
	t.Parallel()
	const (
		w, h    = 640, 480
		bitrate = 380_000
	)
	busy := newBusyPicture(w, h)
	clock := time.Unix(1000, 0)
	var frame uint32
	src := video.ReaderFunc(func() (image.Image, func(), error) {
		img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		busy.draw(img, frame)
		frame++
		return img, func() {}, nil
	})
	rc, err := videoParams(w, h, 30).BuildVideoEncoder(src, prop.Media{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	enc := rc.(*vp8Encoder)
	enc.clock = func() time.Time { return clock }
	enc.start = clock
	if err := enc.SetBitRate(bitrate); err != nil {
		t.Fatal(err)
	}
	read := func() (size int, key bool) {
		t.Helper()
		clock = clock.Add(time.Second / 30)
		b, release, err := rc.Read()
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		return len(b), len(b) > 0 && b[0]&1 == 0
	}
	const maxKey = 40_000 // bytes: under a second of the target
	size, key := read()
	if !key || size > maxKey {
		t.Fatalf("first frame: %d bytes, keyframe %v; want a keyframe under %d bytes", size, key, maxKey)
	}
	total := 0
	for range 90 {
		n, _ := read()
		total += n
	}
	if got := total * 8 / 3; got > bitrate*3/2 {
		t.Errorf("3 s at %d bit/s sent %d bit/s", bitrate, got)
	}
	// The source stalls for two seconds, then a keyframe is asked for.
	clock = clock.Add(2 * time.Second)
	_ = enc.ForceKeyFrame()
	size, key = read()
	if !key || size > maxKey {
		t.Fatalf("keyframe after a stall: %d bytes, keyframe %v; want under %d bytes", size, key, maxKey)
	}
	// A new size restarts the stream with a keyframe.
	small := video.ReaderFunc(func() (image.Image, func(), error) {
		return image.NewYCbCr(image.Rect(0, 0, w/2, h/2), image.YCbCrSubsampleRatio420), func() {}, nil
	})
	enc.r = small
	if _, key = read(); !key {
		t.Fatal("no keyframe after the size changed")
	}
}
