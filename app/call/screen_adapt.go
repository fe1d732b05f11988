package call

import "time"

// Bandwidth adaptation of a shared screen. A camera's ladder (adapt.go)
// halves the picture first; a screen is text and lines that halving makes
// unreadable, so its ladder lowers the frame rate first (15, 10, 5 fps at
// full size) and halves the picture only at 5 fps, when even that does
// not fit (content hint "detail", as browsers do for screen sharing).
var screenLadder = []videoLevel{
	{scale: 1, fps: 15},
	{scale: 1, fps: 10},
	{scale: 1, fps: 5},
	{scale: 2, fps: 5},
}

// screenBitsPerPixel is what a screen rung needs per pixel per second:
// screen content (flat areas, text that moves little) codes in far fewer
// bits than a camera's picture (bitsPerPixel): 1920x1080 at 15 fps needs
// 620 kbit/s, at 5 fps 210 kbit/s.
const screenBitsPerPixel = 0.02

// maxScreenBitrate is what a screen's encoder may use at a given size and
// frame rate when the link allows it.
func maxScreenBitrate(w, h, fps int) int {
	base := 1_200_000
	switch px := w * h; {
	case px >= 1920*1080:
		base = 3_500_000
	case px >= 1280*720:
		base = 2_500_000
	}
	return base * min(fps, maxScreenFPS) / maxScreenFPS
}

// videoPolicy turns the estimate into a rung and a bitrate: adaptPolicy
// for cameras, screenPolicy for screens.
type videoPolicy interface {
	next(now time.Time, estimate, quantizer int) adaptDecision
}

// levelSetter is the source side of a ladder: videoShaper for cameras,
// the screenSource itself for screens.
type levelSetter interface{ set(level int) }

// newPolicy starts the adaptation of a video that (re)started.
func (v *localVideo) newPolicy() videoPolicy {
	if v.screen {
		return &screenPolicy{width: v.width, height: v.height, fps: v.fps}
	}
	return &adaptPolicy{width: v.width, height: v.height, fps: v.fps}
}

// screenPolicy is adaptPolicy's hysteresis (stepDownAfter, stepUpAfter,
// stepUpMargin, quantizerStrained) over screenLadder. Like adaptPolicy it
// is pure: tests drive it with made-up times.
type screenPolicy struct {
	width, height, fps int
	level              int // index into screenLadder
	below, above       time.Time
}

func (p *screenPolicy) need(i int) int {
	l := screenLadder[i]
	return int(screenBitsPerPixel * float64(p.width/l.scale*(p.height/l.scale)*min(l.fps, p.fps)))
}

func (p *screenPolicy) next(now time.Time, estimate, quantizer int) adaptDecision {
	budget := max(estimate-audioReserve, 0)
	strained := quantizer < 0 || quantizer >= quantizerStrained
	last := len(screenLadder) - 1
	switch {
	case budget < p.need(p.level) && p.level < last && strained:
		p.above = time.Time{}
		if p.below.IsZero() {
			p.below = now
		}
		if now.Sub(p.below) >= stepDownAfter {
			for p.level < last && budget < p.need(p.level) {
				p.level++
			}
			p.below = time.Time{}
		}
	case p.level > 0 && float64(budget) >= stepUpMargin*float64(p.need(p.level-1)):
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
	l := screenLadder[p.level]
	ceiling := maxScreenBitrate(p.width/l.scale, p.height/l.scale, min(l.fps, p.fps))
	return adaptDecision{level: p.level, bitrate: max(min(budget, ceiling), minVideoBitrate)}
}
