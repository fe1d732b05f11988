package call

import (
	"image"
	"io"
	"math"
	"sync"
	"time"

	"github.com/pion/mediadevices/pkg/wave"
)

// Synthetic sources stand in for a camera and a microphone where there is
// none (tests, benchmarks, a server): colour bars with a moving block and
// a stamped frame number and time (see stamp.go), and a 440 Hz sine.

// barColours are the seven bars (Y, Cb, Cr) of a classic test card.
var barColours = [7][3]byte{
	{180, 128, 128}, // white (75%)
	{162, 44, 142},  // yellow
	{131, 156, 44},  // cyan
	{112, 72, 58},   // green
	{84, 184, 198},  // magenta
	{65, 100, 212},  // red
	{35, 212, 114},  // blue
}

// testVideo is the synthetic camera: a mediadevices VideoSource.
type testVideo struct {
	id            string
	width, height int
	interval      time.Duration
	base          *image.YCbCr

	mu     sync.Mutex
	next   time.Time
	frame  uint32
	closed chan struct{}
	once   sync.Once
}

func newTestVideo(id string, width, height, fps int) *testVideo {
	base := image.NewYCbCr(image.Rect(0, 0, width, height), image.YCbCrSubsampleRatio420)
	for y := 0; y < height; y++ {
		for x := 0; x < width; x++ {
			c := barColours[x*len(barColours)/width]
			base.Y[y*base.YStride+x] = c[0]
			if y%2 == 0 && x%2 == 0 {
				ci := base.COffset(x, y)
				base.Cb[ci], base.Cr[ci] = c[1], c[2]
			}
		}
	}
	return &testVideo{
		id: id, width: width, height: height,
		interval: time.Second / time.Duration(fps),
		base:     base,
		closed:   make(chan struct{}),
	}
}

func (v *testVideo) ID() string { return v.id }

func (v *testVideo) Close() error {
	v.once.Do(func() { close(v.closed) })
	return nil
}

// Read paces frames at the configured rate and returns a fresh image each
// time (encoders and the preview may hold a frame while the next is made).
func (v *testVideo) Read() (image.Image, func(), error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := time.Now()
	if v.next.IsZero() || now.Sub(v.next) > 10*v.interval {
		v.next = now
	}
	select {
	case <-v.closed:
		return nil, func() {}, io.EOF
	case <-time.After(time.Until(v.next)):
	}
	v.next = v.next.Add(v.interval)
	img := &image.YCbCr{
		Y: make([]byte, len(v.base.Y)), Cb: make([]byte, len(v.base.Cb)), Cr: make([]byte, len(v.base.Cr)),
		YStride: v.base.YStride, CStride: v.base.CStride, SubsampleRatio: v.base.SubsampleRatio, Rect: v.base.Rect,
	}
	copy(img.Y, v.base.Y)
	copy(img.Cb, v.base.Cb)
	copy(img.Cr, v.base.Cr)
	// A grey block sweeps across the lower part so the encoder has motion
	// to code, like a real picture.
	bs := v.height / 6
	x0 := int(v.frame*8) % (v.width - bs)
	for y := v.height - 2*bs; y < v.height-bs; y++ {
		row := img.Y[y*img.YStride+x0 : y*img.YStride+x0+bs]
		for i := range row {
			row[i] = 200
		}
	}
	drawStamp(img, Stamp{Frame: v.frame, TimeMs: uint32(time.Now().UnixMilli())})
	v.frame++
	return img, func() {}, nil
}

// Audio runs at 48 kHz mono in 20 ms chunks: what Opus wants.
const (
	audioRate    = 48000
	audioChunk   = 20 * time.Millisecond
	audioSamples = audioRate / 50
)

// testAudio is the synthetic microphone: a mediadevices AudioSource.
type testAudio struct {
	id     string
	mu     sync.Mutex
	next   time.Time
	phase  float64
	closed chan struct{}
	once   sync.Once
}

func newTestAudio(id string) *testAudio {
	return &testAudio{id: id, closed: make(chan struct{})}
}

func (a *testAudio) ID() string { return a.id }

func (a *testAudio) Close() error {
	a.once.Do(func() { close(a.closed) })
	return nil
}

func (a *testAudio) Read() (wave.Audio, func(), error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if a.next.IsZero() || now.Sub(a.next) > 10*audioChunk {
		a.next = now
	}
	select {
	case <-a.closed:
		return nil, func() {}, io.EOF
	case <-time.After(time.Until(a.next)):
	}
	a.next = a.next.Add(audioChunk)
	chunk := wave.NewInt16Interleaved(wave.ChunkInfo{Len: audioSamples, Channels: 1, SamplingRate: audioRate})
	step := 2 * math.Pi * 440 / audioRate
	for i := 0; i < audioSamples; i++ {
		chunk.SetInt16(i, 0, wave.Int16Sample(int16(math.Sin(a.phase)*8000)))
		a.phase += step
	}
	a.phase = math.Mod(a.phase, 2*math.Pi)
	return chunk, func() {}, nil
}
