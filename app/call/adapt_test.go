package call

import (
	"image"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/io/video"
)

// TestAdaptPolicy drives the ladder with made-up estimates at made-up
// times: what the sender picks for a 640x480 camera at 30 fps.
func TestAdaptPolicy(t *testing.T) {
	t.Parallel()
	type step struct {
		at        time.Duration // since the start
		estimate  int
		wantLevel int
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"a good link keeps the full picture", []step{
			{0, 2_000_000, 0}, {10 * time.Second, 2_000_000, 0},
		}},
		{"one low estimate is noise", []step{
			{0, 300_000, 0}, {500 * time.Millisecond, 2_000_000, 0}, {2 * time.Second, 2_000_000, 0},
		}},
		{"300 kbit/s halves the picture after a second", []step{
			{0, 300_000, 0}, {500 * time.Millisecond, 300_000, 0}, {time.Second, 300_000, 1}, {5 * time.Second, 300_000, 1},
		}},
		{"a collapse goes down several rungs at once", []step{
			{0, 120_000, 0}, {time.Second, 120_000, 3},
		}},
		{"recovery steps up one rung after two seconds each", []step{
			{0, 150_000, 0}, {time.Second, 150_000, 2},
			{2 * time.Second, 2_000_000, 2}, {3 * time.Second, 2_000_000, 2}, {4 * time.Second, 2_000_000, 1},
			{5 * time.Second, 2_000_000, 1}, {6 * time.Second, 2_000_000, 1}, {7 * time.Second, 2_000_000, 0},
		}},
		{"no step up without margin above the next rung's need", []step{
			// 640x480 at 30 fps needs 460 kbit/s of video; with the audio
			// reserve and the 25% margin, 640 kbit/s is not enough.
			{0, 300_000, 0}, {time.Second, 300_000, 1},
			{2 * time.Second, 560_000, 1}, {10 * time.Second, 560_000, 1},
			{11 * time.Second, 700_000, 1}, {13 * time.Second, 700_000, 0},
		}},
		{"a step up interrupted by a dip starts over", []step{
			{0, 300_000, 0}, {time.Second, 300_000, 1},
			{2 * time.Second, 2_000_000, 1}, {3500 * time.Millisecond, 400_000, 1},
			{4 * time.Second, 2_000_000, 1}, {5500 * time.Millisecond, 2_000_000, 1}, {6 * time.Second, 2_000_000, 0},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := adaptPolicy{width: 640, height: 480, fps: 30}
			t0 := time.Unix(1000, 0)
			for _, s := range c.steps {
				d := p.next(t0.Add(s.at), s.estimate, 56)
				if d.level != s.wantLevel {
					t.Fatalf("at %v with %d bit/s: level %d, want %d", s.at, s.estimate, d.level, s.wantLevel)
				}
				if d.bitrate < minVideoBitrate || d.bitrate > max(s.estimate-audioReserve, minVideoBitrate) {
					t.Fatalf("at %v with %d bit/s: encoder target %d outside [%d, estimate - audio]", s.at, s.estimate, d.bitrate, minVideoBitrate)
				}
			}
		})
	}
}

// TestAdaptPolicyQuantizer: a low estimate steps down only when the
// encoder is short of bits (a high quantizer); a picture that compresses
// well keeps its size, whatever an estimate that followed it says.
func TestAdaptPolicyQuantizer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		quantizer int
		wantLevel int
	}{
		{10, 0}, {quantizerStrained - 1, 0}, {quantizerStrained, 1}, {56, 1}, {-1, 1},
	}
	for _, c := range cases {
		p := adaptPolicy{width: 640, height: 480, fps: 30}
		t0 := time.Unix(1000, 0)
		p.next(t0, 300_000, c.quantizer)
		if d := p.next(t0.Add(2*time.Second), 300_000, c.quantizer); d.level != c.wantLevel {
			t.Errorf("quantizer %d: level %d, want %d", c.quantizer, d.level, c.wantLevel)
		}
	}
}

// TestAdaptPolicyBitrateCeiling: the encoder never gets more than its
// rung is worth, however good the link.
func TestAdaptPolicyBitrateCeiling(t *testing.T) {
	t.Parallel()
	p := adaptPolicy{width: 640, height: 480, fps: 30}
	if d := p.next(time.Unix(0, 0), 6_000_000, 56); d.bitrate != maxVideoBitrate(640, 480) {
		t.Fatalf("full picture on a fast link: %d bit/s, want %d", d.bitrate, maxVideoBitrate(640, 480))
	}
	p = adaptPolicy{width: 640, height: 480, fps: 30, level: 2} // 320x240 at 15 fps
	if d := p.next(time.Unix(0, 0), 250_000, 56); d.level != 2 || d.bitrate != 250_000-audioReserve {
		t.Fatalf("320x240 at 15 fps on 250 kbit/s: %+v", d)
	}
}

// TestQueueGuard: a standing queue (RTT well above the lowest seen) cuts
// the estimate to 70% of what is sent, once per episode unless the RTT
// keeps growing, never below the floor; a short queue lets it grow back
// until the congestion controller's estimate is lower again.
func TestQueueGuard(t *testing.T) {
	t.Parallel()
	type step struct {
		at       time.Duration
		estimate int
		rtt      float64
		sending  int
		want     int
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"no queue, no cap", []step{
			{0, 600_000, 40, 500_000, 600_000}, {time.Second, 600_000, 90, 500_000, 600_000},
		}},
		{"standing queue cuts to 70% of what is sent", []step{
			{0, 600_000, 40, 500_000, 600_000},
			{time.Second, 600_000, 400, 500_000, 350_000},
		}},
		{"a queue that stays cuts again, not before cutEvery, not below the floor", []step{
			{0, 600_000, 40, 500_000, 600_000},
			{time.Second, 600_000, 400, 500_000, 350_000},
			{2 * time.Second, 600_000, 500, 300_000, 350_000},
			{3 * time.Second, 600_000, 500, 300_000, 210_000},
			{5 * time.Second, 600_000, 500, 100_000, guardFloor},
			{7 * time.Second, 600_000, 500, 100_000, guardFloor},
		}},
		{"seconds of queue cut by half", []step{
			{0, 2_000_000, 40, 900_000, 2_000_000},
			{time.Second, 2_000_000, 3400, 900_000, 450_000},
			{3 * time.Second, 2_000_000, 3400, 400_000, 200_000},
		}},
		{"the cap grows back once the queue is gone and lifts at the estimate", []step{
			{0, 600_000, 40, 500_000, 600_000},
			{time.Second, 600_000, 400, 500_000, 350_000},
			{1500 * time.Millisecond, 600_000, 45, 300_000, 371_000},
			{2 * time.Second, 400_000, 45, 300_000, 393_260},
			{2500 * time.Millisecond, 400_000, 45, 300_000, 400_000},
			{3 * time.Second, 900_000, 45, 300_000, 900_000},
		}},
		{"unknown RTT changes nothing", []step{
			{0, 600_000, 0, 500_000, 600_000},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var g queueGuard
			t0 := time.Unix(1000, 0)
			for _, s := range c.steps {
				if got := g.next(t0.Add(s.at), s.estimate, s.rtt, s.sending); got != s.want {
					t.Fatalf("at %v (estimate %d, RTT %.0f ms, sending %d): %d, want %d", s.at, s.estimate, s.rtt, s.sending, got, s.want)
				}
			}
		})
	}
}

// TestQueueGuardStarved: when the other side's feedback stops, the cap
// halves on every step of silence down to the floor and holds there (the
// estimate and the RTT are stale: they come from the missing feedback);
// once feedback is back it grows again.
func TestQueueGuardStarved(t *testing.T) {
	t.Parallel()
	type step struct {
		at       time.Duration
		silence  time.Duration
		estimate int
		sending  int
		want     int
	}
	steps := []step{
		{0, 100 * time.Millisecond, 1_400_000, 1_200_000, 1_400_000},
		// A short gap (a busy host) is not silence.
		{500 * time.Millisecond, 500 * time.Millisecond, 1_400_000, 1_200_000, 1_400_000},
		{time.Second, 700 * time.Millisecond, 1_400_000, 1_200_000, 600_000},
		{1500 * time.Millisecond, 1200 * time.Millisecond, 1_400_000, 600_000, 300_000},
		{2 * time.Second, 1700 * time.Millisecond, 1_400_000, 300_000, 150_000},
		{2500 * time.Millisecond, 2200 * time.Millisecond, 1_400_000, 150_000, guardFloor},
		{5 * time.Second, 4700 * time.Millisecond, 1_400_000, 150_000, guardFloor},
		// Feedback is back: the cap grows step by step.
		{5500 * time.Millisecond, 50 * time.Millisecond, 1_400_000, 150_000, 159_000},
		{6 * time.Second, 50 * time.Millisecond, 1_400_000, 160_000, 168_540},
	}
	var g queueGuard
	t0 := time.Unix(1000, 0)
	for _, s := range steps {
		now := t0.Add(s.at)
		g.starved(now, s.silence, s.sending)
		if got := g.next(now, s.estimate, 45, s.sending); got != s.want {
			t.Fatalf("at %v (silence %v, sending %d): %d, want %d", s.at, s.silence, s.sending, got, s.want)
		}
	}
	// Not sending: silence is expected, nothing is cut.
	var idle queueGuard
	idle.starved(t0, time.Minute, 0)
	if got := idle.next(t0, 900_000, 45, 0); got != 900_000 {
		t.Fatalf("idle sender: %d, want the estimate", got)
	}
}

// TestKeyframeGate: requests are answered at once when the last keyframe
// is old, held until minGap has passed when it is recent (never dropped),
// merged while held, and answered by any keyframe that goes out.
func TestKeyframeGate(t *testing.T) {
	t.Parallel()
	type op struct {
		at   time.Duration
		do   string // "request", "sent", "rate", "take", ...
		want bool   // for take
	}
	cases := []struct {
		name string
		ops  []op
	}{
		{"no request, no keyframe", []op{{0, "take", false}}},
		{"first request at once", []op{{0, "request", false}, {0, "take", true}, {time.Millisecond, "take", false}}},
		{"a storm costs one keyframe per gap", []op{
			{0, "request", false}, {0, "take", true},
			{100 * time.Millisecond, "request", false}, {100 * time.Millisecond, "take", false},
			{200 * time.Millisecond, "request", false}, {300 * time.Millisecond, "request", false},
			{400 * time.Millisecond, "take", false},
			{500 * time.Millisecond, "take", true}, {600 * time.Millisecond, "take", false},
		}},
		{"a held request is not dropped", []op{
			{0, "request", false}, {0, "take", true},
			{10 * time.Millisecond, "request", false},
			{5 * time.Second, "take", true},
		}},
		{"a periodic keyframe answers a pending request", []op{
			{0, "sent", false}, {100 * time.Millisecond, "request", false},
			{200 * time.Millisecond, "sent", false},
			{time.Second, "take", false},
		}},
		{"a big keyframe on a slow link holds requests longer", []op{
			{0, "rate", false}, // 100 kbit/s
			{0, "sent-big", false}, {100 * time.Millisecond, "request", false},
			{time.Second, "take", false}, {1600 * time.Millisecond, "take", true},
		}},
		{"never longer than maxKeyframeGap", []op{
			{0, "rate", false},
			{0, "sent-huge", false}, {100 * time.Millisecond, "request", false},
			{maxKeyframeGap - time.Millisecond, "take", false}, {maxKeyframeGap, "take", true},
		}},
		{"a recent periodic keyframe holds a request", []op{
			{0, "sent", false}, {100 * time.Millisecond, "request", false},
			{200 * time.Millisecond, "take", false}, {500 * time.Millisecond, "take", true},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := keyframeGate{minGap: 500 * time.Millisecond}
			t0 := time.Unix(1000, 0)
			for i, o := range c.ops {
				now := t0.Add(o.at)
				switch o.do {
				case "request":
					g.request()
				case "rate":
					g.setBitrate(100_000)
				case "sent-big": // 5 KB at 100 kbit/s: 1.6 s for a quarter of the rate
					g.sent(now, 5000)
				case "sent-huge":
					g.sent(now, 100_000)
				case "sent":
					g.sent(now, 1000)
				case "take":
					if got := g.take(now); got != o.want {
						t.Fatalf("op %d at %v: take = %v, want %v", i, o.at, got, o.want)
					}
				}
			}
		})
	}
}

// TestVideoShaperFrames: the shaper keeps the frame rate of the rung
// (dropping source frames evenly) and halves the picture on the rungs that
// say so; a camera tile beside a shared screen is at most tileMaxWidth
// wide and tileFPS.
func TestVideoShaperFrames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		level         int
		tile          bool
		width, height int // of the source
		wantFrames    int // of 30 source frames a second
		wantWidth     int
	}{
		{level: 0, width: 640, height: 480, wantFrames: 30, wantWidth: 640},
		{level: 1, width: 640, height: 480, wantFrames: 30, wantWidth: 320},
		{level: 2, width: 640, height: 480, wantFrames: 15, wantWidth: 320},
		{level: 3, width: 640, height: 480, wantFrames: 10, wantWidth: 320},
		{level: 0, tile: true, width: 640, height: 480, wantFrames: 15, wantWidth: 320},
		{level: 0, tile: true, width: 1280, height: 720, wantFrames: 15, wantWidth: 320},
		{level: 1, tile: true, width: 1280, height: 720, wantFrames: 15, wantWidth: 320},
		{level: 3, tile: true, width: 640, height: 480, wantFrames: 10, wantWidth: 320},
		{level: 0, tile: true, width: 320, height: 240, wantFrames: 15, wantWidth: 320},
	}
	for _, c := range cases {
		// A source that delivers 30 frames a second of a fake clock.
		clock := time.Unix(1000, 0)
		src := video.ReaderFunc(func() (image.Image, func(), error) {
			clock = clock.Add(time.Second / 30)
			return image.NewYCbCr(image.Rect(0, 0, c.width, c.height), image.YCbCrSubsampleRatio420), func() {}, nil
		})
		s := &videoShaper{srcFPS: 30, now: func() time.Time { return clock }}
		s.set(c.level)
		s.tile.Store(c.tile)
		r := s.transform(src)
		end := clock.Add(time.Second)
		n := 0
		for {
			img, release, err := r.Read()
			if err != nil {
				t.Fatal(err)
			}
			release()
			if clock.After(end) {
				break
			}
			if w := img.Bounds().Dx(); w != c.wantWidth {
				t.Fatalf("%+v: width %d, want %d", c, w, c.wantWidth)
			}
			n++
		}
		if n != c.wantFrames {
			t.Errorf("%+v: %d frames in a second, want %d", c, n, c.wantFrames)
		}
	}
}

// TestSplitEstimate: beside a screen, the camera tile gets a fifth of the
// video budget within 80-200 kbit/s, the screen the rest (each share
// includes the audio reserve the policies take off).
func TestSplitEstimate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ est, screen, tile int }{
		{est: 2_064_000, screen: 1_864_000, tile: 264_000},
		{est: 564_000, screen: 464_000, tile: 164_000},
		{est: 200_000, screen: 144_000, tile: 144_000},
		{est: 100_000, screen: 144_000, tile: 144_000},
	} {
		s, tl := splitEstimate(c.est)
		if s != c.screen || tl != c.tile {
			t.Errorf("splitEstimate(%d) = %d, %d; want %d, %d", c.est, s, tl, c.screen, c.tile)
		}
	}
}

// TestHalve: the box filter halves each plane and averages four pixels.
func TestHalve(t *testing.T) {
	t.Parallel()
	src := image.NewYCbCr(image.Rect(0, 0, 8, 4), image.YCbCrSubsampleRatio420)
	for i := range src.Y {
		src.Y[i] = byte(i % 8 * 10) // columns 0, 10, ..., 70
	}
	for i := range src.Cb {
		src.Cb[i], src.Cr[i] = 100, 200
	}
	dst := halve(src)
	if dst.Rect.Dx() != 4 || dst.Rect.Dy() != 2 {
		t.Fatalf("size %v", dst.Rect)
	}
	for x, want := range []byte{5, 25, 45, 65} {
		if got := dst.Y[x]; got != want {
			t.Errorf("Y[%d] = %d, want %d", x, got, want)
		}
	}
	if dst.Cb[0] != 100 || dst.Cr[0] != 200 {
		t.Errorf("chroma %d/%d", dst.Cb[0], dst.Cr[0])
	}
}

// TestStampReadsAtHalfSize: the glass-to-glass stamp survives the
// shaper's halving (the receiver measures latency on the low rungs too).
func TestStampReadsAtHalfSize(t *testing.T) {
	t.Parallel()
	img := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
	want := Stamp{Frame: 4242, TimeMs: 123456}
	drawStamp(img, want)
	half := halve(img)
	got, ok := readStamp(half.Y, half.YStride, 320, 240)
	if !ok || got != want {
		t.Fatalf("read %+v, %v; want %+v", got, ok, want)
	}
}
