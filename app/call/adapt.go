package call

import (
	"image"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/mediadevices/pkg/io/video"
)

// The sender follows the congestion controller's estimate (see
// peer.Conn.TargetBitrate) with three knobs: the encoder's bitrate, the
// picture size and the frame rate. Below what a size needs, a lower rate
// only makes the encoder's frames bigger than the link (keyframes of tens
// of kilobytes that queue for seconds), so the sender steps down a rung
// of videoLadder instead, and back up once the estimate has recovered.

// audioReserve is left out of the estimate for the voice: Opus at 32
// kbit/s plus RTP, SRTP, UDP and IP headers at 50 packets a second.
const audioReserve = 64_000

// minVideoBitrate is the least the encoder is asked for.
const minVideoBitrate = 80_000

// videoLevel is one rung of the ladder: the picture divided by scale in
// each direction, at fps frames a second at most.
type videoLevel struct {
	scale int
	fps   int
}

// videoLadder goes from the full picture down; each rung needs about half
// the bits of the one above.
var videoLadder = []videoLevel{
	{scale: 1, fps: 30},
	{scale: 2, fps: 30},
	{scale: 2, fps: 15},
	{scale: 2, fps: 10},
}

// bitsPerPixel is the video bitrate a rung needs per pixel per second
// (640x480 at 30 fps: 460 kbit/s). Below it, VP8 on a camera picture
// runs at its coarsest quantizer and still overshoots.
const bitsPerPixel = 0.05

// need is the video bitrate (bits per second) below which a rung of a
// width x height source is too big for the link.
func (l videoLevel) need(width, height, srcFPS int) int {
	fps := min(l.fps, srcFPS)
	return int(bitsPerPixel * float64(width/l.scale*(height/l.scale)*fps))
}

// Hysteresis of the ladder: the budget must stay below a rung's need for
// stepDownAfter before the sender steps down (a single low estimate is
// noise), and above the next rung's need times stepUpMargin for
// stepUpAfter before it steps up (a step up that does not hold costs a
// keyframe and a freeze).
const (
	stepDownAfter = time.Second
	stepUpAfter   = 2 * time.Second
	stepUpMargin  = 1.25
)

// adaptPolicy decides the sender's rung and bitrate from the estimate. It
// is a pure function of its inputs and its state (no clock of its own), so
// tests drive it with made-up times.
type adaptPolicy struct {
	width, height, fps int // of the source
	level              int // index into the ladder
	below, above       time.Time
	// screen: a shared screen, with its own ladder and costs
	// (screen_adapt.go), instead of a camera.
	screen bool
}

// ladder is the policy's ladder: videoLadder, or screenLadder.
func (p *adaptPolicy) ladder() []videoLevel {
	if p.screen {
		return screenLadder
	}
	return videoLadder
}

// need is the video bitrate below which rung i is too big for the link.
func (p *adaptPolicy) need(i int) int {
	l := p.ladder()[i]
	if p.screen {
		return l.screenNeed(p.width, p.height, p.fps)
	}
	return l.need(p.width, p.height, p.fps)
}

// ceiling is the most the encoder may use on rung l.
func (p *adaptPolicy) ceiling(l videoLevel) int {
	w, h := p.width/l.scale, p.height/l.scale
	if p.screen {
		return maxScreenBitrate(w, h, min(l.fps, p.fps))
	}
	return maxVideoBitrate(w, h) * min(l.fps, p.fps) / max(p.fps, 1)
}

// adaptDecision is what the sender applies.
type adaptDecision struct {
	level   int
	bitrate int // the encoder's target, bits per second
}

// quantizerStrained is the mean VP8 quantizer (of 0-63) from which the
// encoder counts as short of bits: its picture no longer fits the budget.
// An estimate below a rung's need with the encoder far from it is a
// picture that compresses well (a still scene, the test card), or an
// estimate that followed a sender sending little: no reason to step down.
const quantizerStrained = 45

// next takes the estimate at now and the encoder's mean quantizer since
// the last call (-1 when unknown: treated as strained) and returns the
// rung and the encoder's target.
func (p *adaptPolicy) next(now time.Time, estimate, quantizer int) adaptDecision {
	budget := max(estimate-audioReserve, 0)
	need := p.need
	last := len(p.ladder()) - 1
	strained := quantizer < 0 || quantizer >= quantizerStrained
	switch {
	case budget < need(p.level) && p.level < last && strained:
		p.above = time.Time{}
		if p.below.IsZero() {
			p.below = now
		}
		if now.Sub(p.below) >= stepDownAfter {
			// As many rungs as the budget asks for, at once.
			for p.level < last && budget < need(p.level) {
				p.level++
			}
			p.below = time.Time{}
		}
	case p.level > 0 && float64(budget) >= stepUpMargin*float64(need(p.level-1)):
		p.below = time.Time{}
		if p.above.IsZero() {
			p.above = now
		}
		if now.Sub(p.above) >= stepUpAfter {
			p.level--
			p.above = time.Time{}
		}
	default:
		p.below, p.above = time.Time{}, time.Time{}
	}
	return adaptDecision{level: p.level, bitrate: max(min(budget, p.ceiling(p.ladder()[p.level])), minVideoBitrate)}
}

// videoShaper is the source side of the ladder: a transform on the
// camera's frames that drops frames down to the rung's rate and halves the
// picture. The encoder starts a new stream (with a keyframe) when the size
// changes.
type videoShaper struct {
	srcFPS int
	level  atomic.Int32
	// tile: the camera is a small tile beside a shared screen, at most
	// tileMaxWidth wide and tileFPS.
	tile atomic.Bool
	now  func() time.Time // time.Now; tests drive it
}

// A camera tile beside a shared screen: the peer shows it small in a
// corner, so it is sent small (halved until at most this wide: 320x240
// from 640x480, 320x180 from 1280x720) and at a low frame rate.
const (
	tileMaxWidth = 320
	tileFPS      = 15
)

func (s *videoShaper) set(level int) { s.level.Store(int32(level)) }

func (s *videoShaper) current() videoLevel {
	return videoLadder[min(int(s.level.Load()), len(videoLadder)-1)]
}

// transform is the mediadevices transform of the camera track.
func (s *videoShaper) transform(r video.Reader) video.Reader {
	var (
		mu   sync.Mutex
		last time.Time
	)
	return video.ReaderFunc(func() (image.Image, func(), error) {
		mu.Lock()
		defer mu.Unlock()
		for {
			img, release, err := r.Read()
			if err != nil {
				return img, release, err
			}
			l := s.current()
			tile := s.tile.Load()
			if tile {
				l.fps = min(l.fps, tileFPS)
			}
			now := time.Now()
			if s.now != nil {
				now = s.now()
			}
			if l.fps < s.srcFPS && !last.IsZero() && now.Sub(last) < keepGap(l.fps, s.srcFPS) {
				release()
				continue
			}
			last = now
			if y, ok := img.(*image.YCbCr); ok && y.SubsampleRatio == image.YCbCrSubsampleRatio420 {
				out := y
				if l.scale == 2 {
					out = halve(out)
				}
				for tile && out.Rect.Dx() > tileMaxWidth {
					out = halve(out)
				}
				if out != y {
					release()
					return out, func() {}, nil
				}
			}
			return img, release, nil
		}
	})
}

// keepGap is the least time between kept frames to send fps of a source
// at srcFPS: half a source frame less than the wanted interval, so that
// jitter does not drop a frame too many.
func keepGap(fps, srcFPS int) time.Duration {
	return time.Second/time.Duration(fps) - time.Second/time.Duration(2*srcFPS)
}

// halve returns a 4:2:0 picture at half the width and height, each pixel
// the mean of four (a box filter: cheap, and no aliasing of the noise).
func halve(src *image.YCbCr) *image.YCbCr {
	b := src.Rect
	w, h := b.Dx()/2&^1, b.Dy()/2&^1
	dst := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	box := func(dp []byte, dstride int, sp []byte, sstride, dw, dh int) {
		for y := 0; y < dh; y++ {
			r0 := sp[2*y*sstride:]
			r1 := sp[(2*y+1)*sstride:]
			out := dp[y*dstride : y*dstride+dw]
			for x := range out {
				out[x] = byte((int(r0[2*x]) + int(r0[2*x+1]) + int(r1[2*x]) + int(r1[2*x+1]) + 2) / 4)
			}
		}
	}
	yOff := src.YOffset(b.Min.X, b.Min.Y)
	cOff := src.COffset(b.Min.X, b.Min.Y)
	box(dst.Y, dst.YStride, src.Y[yOff:], src.YStride, w, h)
	box(dst.Cb, dst.CStride, src.Cb[cOff:], src.CStride, w/2, h/2)
	box(dst.Cr, dst.CStride, src.Cr[cOff:], src.CStride, w/2, h/2)
	return dst
}

// keyframeGate rate-limits keyframes sent for the receiver's requests
// (PLI, FIR). On a lossy link each lost packet of a keyframe makes the
// receiver ask again, and each answer is the biggest frame there is: a
// keyframe storm fills the link's queue and causes the loss it answers.
// A request within minGap of the last keyframe waits for the end of that
// gap instead of being dropped, so the receiver is never left without one.
//
// The gap grows with the cost of a keyframe on the link: keyframes on
// request take at most a quarter of the video bitrate (a 10 KB keyframe
// every 500 ms is 160 kbit/s, most of a 300 kbit/s link), up to
// maxKeyframeGap.
type keyframeGate struct {
	minGap time.Duration

	mu      sync.Mutex
	last    time.Time // the last keyframe sent, whatever made it
	gap     time.Duration
	bitrate int // the encoder's target, bits per second; 0: unknown
	pending bool
}

// maxKeyframeGap bounds the wait for a keyframe on request.
const maxKeyframeGap = 2 * time.Second

// setBitrate tells the gate the encoder's target.
func (g *keyframeGate) setBitrate(bps int) {
	g.mu.Lock()
	g.bitrate = bps
	g.mu.Unlock()
}

// request notes a receiver's keyframe request.
func (g *keyframeGate) request() {
	g.mu.Lock()
	g.pending = true
	g.mu.Unlock()
}

// take reports whether the next frame should be forced to a keyframe.
func (g *keyframeGate) take(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.pending || (!g.last.IsZero() && now.Sub(g.last) < max(g.minGap, g.gap)) {
		return false
	}
	g.pending = false
	g.last = now
	return true
}

// sent notes a keyframe of size bytes that went out (forced, periodic or
// a new size): it answers every request made before it.
func (g *keyframeGate) sent(now time.Time, size int) {
	g.mu.Lock()
	g.pending = false
	g.last = now
	g.gap = 0
	if g.bitrate > 0 {
		g.gap = min(time.Duration(float64(size*8)/(float64(g.bitrate)/4)*float64(time.Second)), maxKeyframeGap)
	}
	g.mu.Unlock()
}

// startVideoBitrate is the encoder's bitrate before the first estimate
// arrives: below app/peer's starting estimate minus the audio.
const startVideoBitrate = 380_000

// queueGuard caps the estimate when the round-trip time shows a standing
// queue. pion's delay-based controller only reacts while the delay grows:
// once a drop-tail queue is full the delay stops growing, the controller
// sits in "hold" and stops updating, and neither its delay nor its loss
// estimate comes down (measured on a 300 kbit/s link: the estimate stayed
// at 600 kbit/s for a whole call with a 3.5 s RTT). The guard cuts to
// 70% of what is being sent when the RTT is queueExcess above the lowest
// seen in the call, at most once per cutEvery (the RTT is sampled about
// once a second and lags), and lets the cap grow back by capGrowth each
// step while the queue stays short, until the estimate is below it again.
//
// The RTT lags (it is sampled about once a second, and a queue takes
// seconds to drain after a cut), so the guard cuts at most once per
// cutEvery, and never below guardFloor.
type queueGuard struct {
	minRTT  float64 // ms, the lowest seen
	cap     int     // bits per second; 0: no cap
	lastCut time.Time
	// starving: the other side's feedback has stopped (see starved).
	starving bool
}

const (
	queueExcess = 120.0 // ms above the lowest RTT that count as a standing queue
	cutEvery    = 2 * time.Second
	capGrowth   = 1.06 // per step (500 ms): about 12% a second
	guardFloor  = 150_000
	deepQueue   = 500.0 // ms above the lowest RTT: cut by half, not 30%
)

// feedbackTimeout is how long without transport-wide feedback from the
// other side (it comes about every 100 ms while media flows) counts as a
// jammed link.
const feedbackTimeout = 600 * time.Millisecond

// starved takes how long the other side's feedback has been silent while
// we send (sending, bits per second, audio included). pion's controller
// keeps its last estimate without feedback, and the RTT is measured from
// the same missing reports: when a link's rate drops suddenly both ways,
// the feedback waits in the same full queues as the media and nothing
// else notices (the estimate stayed at 1.4 Mbit/s for 11 s over a 300
// kbit/s link, and the picture froze for 10 s). So the silence itself
// halves the cap on every step (500 ms) it lasts, down to guardFloor, and
// the cap does not grow again until feedback is back.
func (g *queueGuard) starved(now time.Time, silence time.Duration, sending int) {
	g.starving = silence >= feedbackTimeout && sending > 0
	if !g.starving {
		return
	}
	base := sending
	if g.cap > 0 {
		base = min(base, g.cap)
	}
	g.cap = max(base/2, guardFloor)
	g.lastCut = now
}

// next returns the estimate to use, given the congestion controller's,
// the RTT now (ms; 0 when unknown) and what the call sends (bits per
// second, audio included).
func (g *queueGuard) next(now time.Time, estimate int, rttMs float64, sending int) int {
	if rttMs > 0 && (g.minRTT == 0 || rttMs < g.minRTT) {
		g.minRTT = rttMs
	}
	queued := rttMs > 0 && rttMs-g.minRTT > queueExcess
	switch {
	case queued && now.Sub(g.lastCut) >= cutEvery:
		base := estimate
		if g.cap > 0 {
			base = min(base, g.cap)
		}
		if sending > 0 {
			base = min(base, sending)
		}
		cut := 0.7
		if rttMs-g.minRTT > deepQueue {
			// Seconds of queue: the link carries far less than is
			// sent (a 2 Mbit/s link that became 300 kbit/s).
			cut = 0.5
		}
		g.cap = max(int(cut*float64(base)), guardFloor)
		g.lastCut = now
	case queued, g.starving:
		// Draining after a cut, or no word from the other side: hold.
	case g.cap > 0:
		g.cap = int(float64(g.cap) * capGrowth)
		if g.cap >= estimate {
			g.cap = 0
		}
	}
	if g.cap > 0 {
		return min(estimate, g.cap)
	}
	return estimate
}
