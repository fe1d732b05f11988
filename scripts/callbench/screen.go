package main

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"time"

	"github.com/parley-chat/parley/internal/xvfbtest"
)

// screenResult is one screen sharing row: alice shares an Xvfb screen
// (parley-cli call --video screen: capture, I420 conversion, VP8 at most
// 15 fps), bob sends nothing but sound and decodes the screen.
type screenResult struct {
	Size string `json:"size"`
	// Content is still, changing (repaints a second), or still+tile (a
	// still screen with alice's 640x480 test camera beside it as a tile).
	Content string `json:"content"`
	// Repaints is how many times the whole screen changed during the call.
	Repaints int  `json:"repaints"`
	Sharer   side `json:"sharer"`
	Viewer   side `json:"viewer"`
}

// measureScreens runs two screen sharing calls of d: a still screen, and
// one repainted (the whole screen, alternating two pictures) as fast as
// ImageMagick's display sets it, a few times a second (scrolling a page).
func measureScreens(cliBin, server, work string, sz size, d time.Duration) ([]screenResult, error) {
	display, stop, err := xvfbtest.Run(sz.w, sz.h)
	if err != nil {
		return nil, err
	}
	defer stop()
	dir := filepath.Join(work, "screen")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	pics := [2]string{filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")}
	for i, f := range pics {
		if err := writeBlocks(f, sz, i); err != nil {
			return nil, err
		}
	}
	if err := xvfbtest.PaintFile(display, pics[0]); err != nil {
		return nil, err
	}
	tile := false
	spec := callSpec{
		args: func(who string) []string {
			if who == "alice" {
				if tile {
					return []string{"--video", "screen", "--camera", "testsrc", "--size", "640x480", "--audio", "sine"}
				}
				return []string{"--video", "screen", "--audio", "sine"}
			}
			return []string{"--video", "none", "--audio", "sine"}
		},
		env: func(who string) []string {
			if who == "alice" {
				return []string{"DISPLAY=" + display}
			}
			return []string{"DISPLAY="}
		},
	}
	var out []screenResult
	for _, content := range []string{"still", "changing", "still+tile"} {
		tile = content == "still+tile"
		fmt.Fprintf(os.Stderr, "callbench: screen %s (%s): alice shares it with bob for %v...\n", sz, content, d)
		done := make(chan int)
		quit := make(chan struct{})
		go func() {
			n := 0
			for content == "changing" {
				select {
				case <-quit:
					done <- n
					return
				default:
				}
				if xvfbtest.PaintFile(display, pics[(n+1)%2]) == nil {
					n++
				}
			}
			<-quit
			done <- n
		}()
		alice, bob, err := measureCall(cliBin, server, filepath.Join(dir, content), d, spec)
		close(quit)
		n := <-done
		if err != nil {
			return nil, fmt.Errorf("%s: %w", content, err)
		}
		out = append(out, screenResult{Size: sz.String(), Content: content, Repaints: n, Sharer: alice, Viewer: bob})
	}
	return out, nil
}

func printScreenTable(rows []screenResult, d time.Duration) {
	if len(rows) == 0 {
		return
	}
	fmt.Printf("screen sharing over loopback: alice shares an Xvfb screen (parley-cli call --video screen, at most 15 fps; a still screen sends a frame a second), bob decodes it; %v active\n", d)
	fmt.Printf("changing = the whole screen repainted (two pictures alternating) as fast as ImageMagick sets it; repaints counts them (the repainting's own CPU is not in any figure)\n\n")
	fmt.Printf("still+tile = a still screen with the sharer's 640x480 test camera beside it (--camera testsrc): sent as a tile, at most 320 wide and 15 fps\n\n")
	fmt.Printf("%-9s %-10s %8s %10s %10s %11s %11s %10s %16s %10s\n", "screen", "content", "repaints", "sharer CPU", "sharer RSS", "viewer fps", "decoded/rx", "size", "tile fps (size)", "viewer CPU")
	for _, r := range rows {
		tile := "-"
		if r.Viewer.TileSize != "" {
			tile = fmt.Sprintf("%.1f (%s)", r.Viewer.TileFps, r.Viewer.TileSize)
		}
		fmt.Printf("%-9s %-10s %8d %9.1f%% %6.1f MiB %11.1f %11s %10s %16s %9.1f%%\n",
			r.Size, r.Content, r.Repaints, r.Sharer.CPUPercent, r.Sharer.PeakRSSMiB, r.Viewer.AvgFps,
			fmt.Sprintf("%d/%d", r.Viewer.VideoFramesDecoded, r.Viewer.VideoFramesReceived), r.Viewer.DecodedSize, tile, r.Viewer.CPUPercent)
	}
	fmt.Println()
}

// writeBlocks writes a picture of large colour blocks; variant 1 shifts
// the colours by one block, so every block changes between the two.
func writeBlocks(path string, sz size, variant int) error {
	img := image.NewRGBA(image.Rect(0, 0, sz.w, sz.h))
	const cols, rows = 16, 9
	for y := 0; y < sz.h; y++ {
		for x := 0; x < sz.w; x++ {
			i := (y*rows/sz.h)*cols + x*cols/sz.w + variant
			img.SetRGBA(x, y, color.RGBA{uint8(i * 53), uint8(i * 97), uint8(i * 29), 255})
		}
	}
	return xvfbtest.WritePNG(path, img)
}
