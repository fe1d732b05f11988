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

	// busy, when set, makes each frame camera-like (see newBusyVideo).
	busy *busyPicture

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
	if v.busy != nil {
		v.busy.draw(img, v.frame)
	} else {
		copy(img.Y, v.base.Y)
		copy(img.Cb, v.base.Cb)
		copy(img.Cr, v.base.Cr)
	}
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

// newBusyVideo is the synthetic camera with a camera's entropy: a
// detailed texture (fine noise over shapes at several scales) that pans
// across the frame, with fresh sensor-like noise in every frame, plus the
// moving block and the stamp of the test card. A real encoder spends
// 1-2 Mbit/s on it at 640x480 and 30 fps, as on a webcam picture.
func newBusyVideo(id string, width, height, fps int) *testVideo {
	v := newTestVideo(id, width, height, fps)
	v.busy = newBusyPicture(width, height)
	return v
}

// busyPicture holds the texture, twice the frame in each direction so a
// window can pan over it, and the noise generator's state.
type busyPicture struct {
	w, h   int // texture size (luma)
	y      []byte
	cb, cr []byte
	rnd    uint64
}

func newBusyPicture(width, height int) *busyPicture {
	b := &busyPicture{w: 2 * width, h: 2 * height, rnd: 0x9e3779b97f4a7c15}
	b.y = make([]byte, b.w*b.h)
	b.cb = make([]byte, (b.w/2)*(b.h/2))
	b.cr = make([]byte, (b.w/2)*(b.h/2))
	for y := 0; y < b.h; y++ {
		for x := 0; x < b.w; x++ {
			fx, fy := float64(x), float64(y)
			v := 128 + 45*math.Sin(fx/23+2*math.Sin(fy/41)) + 25*math.Sin(fy/7+fx/11) + float64(int(b.next()%61)-30)
			b.y[y*b.w+x] = clamp(v)
		}
	}
	for y := 0; y < b.h/2; y++ {
		for x := 0; x < b.w/2; x++ {
			fx, fy := float64(x), float64(y)
			b.cb[y*(b.w/2)+x] = clamp(128 + 40*math.Sin(fx/31+fy/17) + float64(int(b.next()%21)-10))
			b.cr[y*(b.w/2)+x] = clamp(128 + 40*math.Cos(fy/27-fx/19) + float64(int(b.next()%21)-10))
		}
	}
	return b
}

// next is xorshift64: cheap, deterministic pseudo-randomness for pixels.
func (b *busyPicture) next() uint64 {
	b.rnd ^= b.rnd << 13
	b.rnd ^= b.rnd >> 7
	b.rnd ^= b.rnd << 17
	return b.rnd
}

func clamp(v float64) byte { return byte(max(0, min(255, v))) }

// draw fills img with the texture window of this frame (it pans a few
// pixels a frame, like a hand-held camera) and adds fresh noise.
func (b *busyPicture) draw(img *image.YCbCr, frame uint32) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	// A slow circle over the texture: 2-3 pixels a frame at 30 fps.
	t := float64(frame) / 30
	ox := int(float64(w)/2 + float64(w)/2.2*math.Sin(t/3))
	oy := int(float64(h)/2 + float64(h)/2.2*math.Cos(t/4))
	ox, oy = ox&^1, oy&^1 // keep chroma aligned
	for y := 0; y < h; y++ {
		src := b.y[(oy+y)*b.w+ox : (oy+y)*b.w+ox+w]
		dst := img.Y[y*img.YStride : y*img.YStride+w]
		for x := 0; x < w; x += 8 {
			r := b.next()
			for i := 0; i < 8 && x+i < w; i++ {
				// Sensor noise of about +-4 levels, fresh each frame.
				n := int(r>>(8*i)&0xff)%9 - 4
				dst[x+i] = byte(max(0, min(255, int(src[x+i])+n)))
			}
		}
	}
	cw, ch := w/2, h/2
	for y := 0; y < ch; y++ {
		so := (oy/2+y)*(b.w/2) + ox/2
		copy(img.Cb[y*img.CStride:y*img.CStride+cw], b.cb[so:so+cw])
		copy(img.Cr[y*img.CStride:y*img.CStride+cw], b.cr[so:so+cw])
	}
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
