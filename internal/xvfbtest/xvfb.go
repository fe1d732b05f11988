// Package xvfbtest gives tests and benchmarks a private X11 display: an
// Xvfb of a chosen size on a free display number, stopped when the test
// ends, and a known picture on its root window (for screen sharing).
package xvfbtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Start runs Xvfb with one screen of w x h at 24-bit colour (and any
// further Xvfb arguments, such as "-extension", "Composite") for the test
// and returns its display name (":N"); it stops when the test ends.
func Start(t testing.TB, w, h int, args ...string) string {
	t.Helper()
	d, stop, err := Run(w, h, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return d
}

// Run starts Xvfb with one screen of w x h at 24-bit colour and returns
// its display name (":N") once it serves clients, and a function that
// stops it. Xvfb picks the number itself (-displayfd), so parallel runs
// and other displays on the machine never collide.
func Run(w, h int, args ...string) (string, func(), error) {
	r, wr, err := os.Pipe()
	if err != nil {
		return "", nil, err
	}
	defer r.Close()
	var stderr bytes.Buffer
	cmd := exec.Command("Xvfb", append([]string{"-displayfd", "3", "-screen", "0", strconv.Itoa(w) + "x" + strconv.Itoa(h) + "x24", "-nolisten", "tcp", "-noreset"}, args...)...)
	cmd.ExtraFiles = []*os.File{wr}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		_ = wr.Close()
		return "", nil, fmt.Errorf("start Xvfb (Debian package xvfb): %w", err)
	}
	_ = wr.Close()
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	stop := func() {
		// SIGTERM: Xvfb removes its lock file and socket on the way out.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	// Xvfb writes the display number once it listens.
	_ = r.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, _ := io.ReadAll(io.LimitReader(r, 16))
	n := strings.TrimSpace(string(b))
	if _, err := strconv.Atoi(n); err != nil {
		stop()
		return "", nil, fmt.Errorf("xvfb did not say its display number (%q): %s", n, stderr.String())
	}
	// It names its display before it serves clients: wait until the X11
	// connection setup succeeds.
	for deadline := time.Now().Add(20 * time.Second); !accepts(n); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("xvfb :%s did not accept a client within 20 s: %s", n, stderr.String())
		}
	}
	return ":" + n, stop, nil
}

// accepts reports whether display :n completes an X11 connection setup
// (the first byte of the server's answer is 1, "success").
func accepts(n string) bool {
	c, err := net.DialTimeout("unix", "/tmp/.X11-unix/X"+n, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	// Little-endian, protocol 11.0, no authorisation.
	if _, err := c.Write([]byte{'l', 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0}); err != nil {
		return false
	}
	var b [1]byte
	_, err = io.ReadFull(c, b[:])
	return err == nil && b[0] == 1
}

// Blocks is a test picture of w x h: a grid of cols x rows large blocks
// of distinct colours and clearly distinct brightness, which survives
// video coding and downscaling block for block.
func Blocks(w, h, cols, rows int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	n := cols * rows
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*rows/h)*cols + x*cols/w
			img.SetRGBA(x, y, BlockColour(i, n))
		}
	}
	return img
}

// BlockColour is block i's colour of n: brightness rises with i (spread
// over the whole range) and the hue turns, so neighbours differ in both.
func BlockColour(i, n int) color.RGBA {
	v := 16 + 223*i/max(n-1, 1)
	hue := [3][3]int{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}[i%3]
	c := func(k int) uint8 {
		return uint8(min(255, v*3/4+hue[k]*v/4))
	}
	return color.RGBA{c(0), c(1), c(2), 255}
}

// Paint sets img as the root window's background of display and clears
// the window to it: a picture that stays when nothing else is drawn.
func Paint(t testing.TB, display string, img image.Image) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "pattern.png")
	if err := WritePNG(f, img); err != nil {
		t.Fatal(err)
	}
	if err := PaintFile(display, f); err != nil {
		t.Fatal(err)
	}
}

// WritePNG writes img to path.
func WritePNG(path string, img image.Image) error {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

// PaintFile sets the picture in a PNG file as the root window's
// background (ImageMagick's display -window root, Debian package
// imagemagick).
func PaintFile(display, path string) error {
	// display exits with status 1 after setting a root background (it
	// has no window of its own to wait on), so only its words count.
	out, _ := exec.Command("display", "-display", display, "-window", "root", path).CombinedOutput()
	if len(bytes.TrimSpace(out)) > 0 {
		return errors.New("display -window root: " + string(bytes.TrimSpace(out)))
	}
	return nil
}

// Win is a window a test opened (Window).
type Win struct {
	// ID is its X11 window id.
	ID      uint32
	display string
	cmd     *exec.Cmd
	done    chan struct{}
}

// Window opens a top-level window of w x h at (x, y) on display, filled
// with colour c and titled title (ImageMagick's display, Debian package
// imagemagick), raised above the others; it closes when the test ends.
// The title must be unique on the display.
func Window(t testing.TB, display, title string, x, y, w, h int, c color.RGBA) *Win {
	t.Helper()
	cmd := exec.Command("display", "-display", display, "-title", title, "-geometry", fmt.Sprintf("+%d+%d", x, y),
		"-size", fmt.Sprintf("%dx%d", w, h), fmt.Sprintf("xc:#%02x%02x%02x", c.R, c.G, c.B))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start display (Debian package imagemagick): %v", err)
	}
	win := &Win{display: display, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(win.done)
	}()
	t.Cleanup(win.Close)
	out, err := xdotool(display, "search", "--sync", "--onlyvisible", "--name", "^"+regexp.QuoteMeta(title)+"$")
	if err != nil {
		t.Fatalf("find window %q: %v", title, err)
	}
	id, err := strconv.ParseUint(strings.Fields(out)[0], 10, 32)
	if err != nil {
		t.Fatalf("window id %q: %v", out, err)
	}
	win.ID = uint32(id)
	if err := win.Do("windowraise"); err != nil {
		t.Fatal(err)
	}
	return win
}

// Do runs an xdotool window command (windowsize W H, windowunmap,
// windowraise, ...) on the window.
func (w *Win) Do(command string, args ...string) error {
	_, err := xdotool(w.display, append([]string{command, strconv.FormatUint(uint64(w.ID), 10)}, args...)...)
	return err
}

// PointAt moves the mouse pointer of display to (x, y) on the root.
func PointAt(t testing.TB, display string, x, y int) {
	t.Helper()
	if _, err := xdotool(display, "mousemove", strconv.Itoa(x), strconv.Itoa(y)); err != nil {
		t.Fatalf("move the pointer: %v", err)
	}
}

// Pause stops the window's program (SIGSTOP): the window stays, and
// nothing repaints it (a test that paints into it keeps its picture).
// Close still ends it.
func (w *Win) Pause() error {
	return w.cmd.Process.Signal(stopSignal)
}

// Close closes the window (its program ends) and waits for it.
func (w *Win) Close() {
	_ = w.cmd.Process.Kill()
	<-w.done
}

// xdotool runs xdotool (Debian package xdotool) on display, for at most
// 20 s (a search --sync that never finds its window).
func xdotool(display string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "xdotool", args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) == 0 && args[0] == "search" {
		return "", fmt.Errorf("xdotool %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// WindowManager runs a window manager (openbox, Debian package openbox)
// on display until the test ends, and returns once it manages the
// display (it has set _NET_SUPPORTING_WM_CHECK on the root window; read
// with xprop, Debian package x11-utils). Windows opened afterwards get
// frames (the client window is a child of its frame), WM_STATE, and a
// place in _NET_CLIENT_LIST, as on a desktop.
func WindowManager(t testing.TB, display string) {
	t.Helper()
	cmd := exec.Command("openbox", "--sm-disable")
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start openbox (Debian package openbox): %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		xprop := exec.Command("xprop", "-root", "_NET_SUPPORTING_WM_CHECK")
		xprop.Env = cmd.Env
		if out, _ := xprop.Output(); bytes.Contains(out, []byte("window id")) {
			return
		}
		select {
		case <-done:
			t.Fatal("openbox exited before it managed the display")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("openbox did not manage the display within 20 s")
		}
	}
}
