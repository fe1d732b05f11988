package call

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

// levelSetter is the source side of a ladder: videoShaper for cameras,
// the screenSource itself for screens.
type levelSetter interface{ set(level int) }

// newPolicy starts the adaptation of a video that (re)started.
func (v *localVideo) newPolicy() *adaptPolicy {
	return &adaptPolicy{width: v.width, height: v.height, fps: v.fps, screen: v.screen}
}

// screenNeed is need for a screen rung.
func (l videoLevel) screenNeed(width, height, srcFPS int) int {
	return int(screenBitsPerPixel * float64(width/l.scale*(height/l.scale)*min(l.fps, srcFPS)))
}
