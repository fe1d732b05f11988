// Command appicon draws Parley's application icon (two overlapping speech
// bubbles on a rounded square) as a PNG. The icon is committed as
// build/appicon.png; run `go run ./build/appicon` to redraw it.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
)

func main() {
	out := flag.String("o", "build/appicon.png", "output `file`")
	size := flag.Int("size", 256, "width and height in pixels")
	flag.Parse()
	var buf bytes.Buffer
	if err := png.Encode(&buf, Draw(*size)); err != nil {
		fmt.Fprintln(os.Stderr, "appicon:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "appicon:", err)
		os.Exit(1)
	}
}

// Draw renders the icon at n×n pixels, 4× supersampled.
func Draw(n int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	const ss = 4
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					u := (float64(x) + (float64(sx)+0.5)/ss) / float64(n)
					v := (float64(y) + (float64(sy)+0.5)/ss) / float64(n)
					c := shade(u, v)
					r += c.R * c.A
					g += c.G * c.A
					b += c.B * c.A
					a += c.A
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(x, y, color.NRGBA{R: u8(r / a), G: u8(g / a), B: u8(b / a), A: u8(a / (ss * ss))})
		}
	}
	return img
}

type rgba struct{ R, G, B, A float64 }

// shade is the icon's colour at (u, v) in [0,1]².
func shade(u, v float64) rgba {
	if !inRoundedSquare(u, v, 0.04, 0.2) {
		return rgba{}
	}
	// Background: an indigo-to-teal diagonal gradient.
	t := (u + v) / 2
	bg := rgba{R: lerp(0.27, 0.10, t), G: lerp(0.30, 0.62, t), B: lerp(0.85, 0.72, t), A: 1}
	switch {
	case bubble(u, v, 0.60, 0.58, 0.23, true):
		return rgba{R: 0.80, G: 0.95, B: 0.93, A: 1}
	case bubble(u, v, 0.40, 0.40, 0.25, false):
		return rgba{R: 1, G: 1, B: 1, A: 1}
	}
	return bg
}

func inRoundedSquare(u, v, margin, radius float64) bool {
	lo, hi := margin+radius, 1-margin-radius
	dx := math.Max(math.Max(lo-u, u-hi), 0)
	dy := math.Max(math.Max(lo-v, v-hi), 0)
	return u >= margin && u <= 1-margin && v >= margin && v <= 1-margin && dx*dx+dy*dy <= radius*radius
}

// bubble is a circle with a small tail toward the bottom left (or right).
func bubble(u, v, cx, cy, r float64, right bool) bool {
	if (u-cx)*(u-cx)+(v-cy)*(v-cy) <= r*r {
		return true
	}
	// Tail: a triangle below the circle.
	tx := cx - r*0.55
	if right {
		tx = cx + r*0.55
	}
	ty := cy + r*0.75
	dy := v - ty
	if dy < 0 || dy > r*0.45 {
		return false
	}
	w := r * 0.35 * (1 - dy/(r*0.45))
	return math.Abs(u-tx) <= w
}

func lerp(a, b, t float64) float64 { return a + (b-a)*t }

func u8(f float64) uint8 { return uint8(math.Round(math.Max(0, math.Min(1, f)) * 255)) }
