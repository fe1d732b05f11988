package call

import (
	"bytes"
	"compress/flate"
	"image"
	"testing"
)

// compressedRatio is how much of a luma plane is left after DEFLATE: a
// cheap stand-in for what an encoder has to spend on a picture.
func compressedRatio(t *testing.T, y []byte) float64 {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(y)
	_ = w.Close()
	return float64(buf.Len()) / float64(len(y))
}

// TestBusyVideoIsCameraLike: the busy source has detail (it does not
// compress like the test card), changes almost every pixel from frame to
// frame (noise and panning), and still carries a readable stamp for the
// latency measurement.
func TestBusyVideoIsCameraLike(t *testing.T) {
	t.Parallel()
	const w, h = 640, 480
	read := func(v *testVideo) *image.YCbCr {
		img, release, err := v.Read()
		if err != nil {
			t.Fatal(err)
		}
		release()
		return img.(*image.YCbCr)
	}
	card := newTestVideo("card", w, h, 30)
	defer card.Close()
	busy := newBusyVideo("busy", w, h, 30)
	defer busy.Close()

	c := read(card)
	b0, b1 := read(busy), read(busy)
	if rc, rb := compressedRatio(t, c.Y), compressedRatio(t, b0.Y); rc > 0.1 || rb < 0.5 {
		t.Fatalf("DEFLATE keeps %.2f of the test card and %.2f of the busy picture, want < 0.1 and > 0.5", rc, rb)
	}
	changed := 0
	for i := range b0.Y {
		if b0.Y[i] != b1.Y[i] {
			changed++
		}
	}
	if frac := float64(changed) / float64(len(b0.Y)); frac < 0.7 {
		t.Fatalf("%.2f of the pixels changed between two busy frames, want most", frac)
	}
	for i, img := range []*image.YCbCr{b0, b1} {
		s, ok := readStamp(img.Y, img.YStride, w, h)
		if !ok || s.Frame != uint32(i) {
			t.Fatalf("frame %d: stamp %+v ok=%v", i, s, ok)
		}
	}
}
