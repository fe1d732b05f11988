//go:build linux

package waylandtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "embed" // the shim's source

	"github.com/godbus/dbus/v5"
)

//go:embed shim/shmshim.c.txt
var shmShim []byte

// Portal says how much of the screen-casting chain runs.
type Portal int

const (
	// NoPortal: the compositor and a session bus, nothing on the bus.
	NoPortal Portal = iota
	// PortalWithoutScreenCast: xdg-desktop-portal runs but knows no
	// backend, so it offers no ScreenCast interface.
	PortalWithoutScreenCast
	// ScreenCast: PipeWire, WirePlumber, xdg-desktop-portal-wlr (output
	// HEADLESS-1, no chooser) and xdg-desktop-portal.
	ScreenCast
	// ScreenCastCancelled: as ScreenCast, but the portal's chooser exits
	// without a choice, as when the user cancels the picker.
	ScreenCastCancelled
	// ScreenCastPickerWaits: as ScreenCast, but the portal's chooser
	// stays up, unanswered, for two minutes (a picker the user has not
	// looked at yet); Session.PickerShown says once it is up.
	ScreenCastPickerWaits
)

// Options describe the desktop.
type Options struct {
	Width, Height int         // the output's size
	Background    image.Image // stretched over the output; nil is plain grey
	Portal        Portal
	XWayland      bool // run XWayland too (started when the first X client connects); see Session.XDisplay
}

// Session is a running private desktop.
type Session struct {
	RuntimeDir     string // XDG_RUNTIME_DIR
	WaylandDisplay string // WAYLAND_DISPLAY: the compositor's socket, an absolute path
	BusAddress     string // DBUS_SESSION_BUS_ADDRESS
	XDisplay       string // XWayland's DISPLAY (":N") with Options.XWayland
	logs           string
	procs          []*exec.Cmd
	names          []string // of procs
	swaySock       string   // sway's IPC socket
	pickerShown    string   // the file the waiting chooser creates
	background     []string // the sway command that sets the background
}

// Env is the environment a client of this desktop needs.
func (s *Session) Env() []string {
	return []string{
		"XDG_RUNTIME_DIR=" + s.RuntimeDir,
		"WAYLAND_DISPLAY=" + s.WaylandDisplay,
		"DBUS_SESSION_BUS_ADDRESS=" + s.BusAddress,
		"XDG_CURRENT_DESKTOP=sway",
	}
}

// Setenv makes this desktop the test process's session (t.Setenv: not
// for parallel tests) and clears DISPLAY, as in a Wayland-only session.
func (s *Session) Setenv(t *testing.T) {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("DISPLAY", "")
}

// Logs returns the last lines of every program's output (for a failing
// test's message).
func (s *Session) Logs() string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(s.logs, "*.log"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "== %s\n%s\n", filepath.Base(f), strings.Join(lines, "\n"))
	}
	return b.String()
}

// Start runs the desktop for the test; it stops when the test ends.
func Start(t testing.TB, o Options) *Session {
	t.Helper()
	s, err := Run(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// sway refuses to run as root (it could not drop the privilege), so as
// root the compositor runs as this user, with a runtime directory of its
// own (everyone else's stays root's: PipeWire and PulseAudio clients
// insist on owning theirs).
const swayUID = 65534

// Run starts the desktop; Stop ends it.
func Run(o Options) (s *Session, err error) {
	if o.Width <= 0 || o.Height <= 0 {
		return nil, errors.New("waylandtest: the output needs a size")
	}
	base, err := os.MkdirTemp("", "waylandtest-")
	if err != nil {
		return nil, err
	}
	s = &Session{RuntimeDir: filepath.Join(base, "run"), logs: filepath.Join(base, "logs")}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, s.Logs())
			s.Stop()
		}
	}()
	swayDir := filepath.Join(base, "sway")
	for _, d := range []string{s.RuntimeDir, s.logs, swayDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return s, err
		}
	}
	asRoot := os.Getuid() == 0
	if asRoot {
		// The compositor may pass through base, not read it.
		if err := os.Chmod(base, 0o711); err != nil {
			return s, err
		}
		if err := os.Chown(swayDir, swayUID, swayUID); err != nil {
			return s, err
		}
	}
	env := append(os.Environ(), "XDG_RUNTIME_DIR="+s.RuntimeDir, "XDG_CURRENT_DESKTOP=sway", "DISPLAY=", "WAYLAND_DISPLAY=")

	// A session bus of our own, with no services to start on demand:
	// what runs on it is exactly what this kit starts.
	busConf := filepath.Join(base, "bus.conf")
	s.BusAddress = "unix:path=" + filepath.Join(s.RuntimeDir, "bus")
	conf := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>` + s.BusAddress + `</listen>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/></policy></busconfig>
`
	if err := os.WriteFile(busConf, []byte(conf), 0o600); err != nil {
		return s, err
	}
	if err := s.start("dbus", env, "dbus-daemon", "--config-file="+busConf, "--nofork", "--nopidfile"); err != nil {
		return s, err
	}
	if err := waitFor(10*time.Second, "the session bus", func() bool { return isSocket(filepath.Join(s.RuntimeDir, "bus")) }); err != nil {
		return s, err
	}
	env = append(env, "DBUS_SESSION_BUS_ADDRESS="+s.BusAddress)

	// The compositor: headless, software rendering, no input devices,
	// no seat manager; one output of the asked size showing the picture.
	swayConf := fmt.Sprintf("output HEADLESS-1 resolution %dx%d position 0,0\n", o.Width, o.Height)
	if o.Background != nil {
		bg := filepath.Join(swayDir, "background.png")
		var b bytes.Buffer
		if err := png.Encode(&b, o.Background); err != nil {
			return s, err
		}
		if err := os.WriteFile(bg, b.Bytes(), 0o644); err != nil {
			return s, err
		}
		s.background = []string{"output", "HEADLESS-1", "background", bg, "stretch"}
	} else {
		s.background = []string{"output", "HEADLESS-1", "background", "#808080", "solid_color"}
	}
	swayConf += strings.Join(s.background, " ") + "\n"
	swayConf += "seat * hide_cursor 1\n"
	xdisplay := filepath.Join(swayDir, "display")
	if o.XWayland {
		// sway binds XWayland's display at start and names it to
		// what it runs; XWayland lets in only its own user (the
		// compositor's) until told otherwise.
		me, err := user.Current()
		if err != nil {
			return s, err
		}
		swayConf += "xwayland enable\nexec xhost +si:localuser:" + me.Username + " && echo $DISPLAY > " + xdisplay + "\n"
	} else {
		swayConf += "xwayland disable\n"
	}
	cfg := filepath.Join(swayDir, "sway.conf")
	if err := os.WriteFile(cfg, []byte(swayConf), 0o644); err != nil {
		return s, err
	}
	swayEnv := with(env, "XDG_RUNTIME_DIR="+swayDir, "WLR_BACKENDS=headless", "WLR_RENDERER=pixman", "WLR_LIBINPUT_NO_DEVICES=1", "LIBSEAT_BACKEND=noop", "HOME="+swayDir)
	swayCmd := []string{"sway", "--config", cfg}
	if asRoot {
		id := strconv.Itoa(swayUID)
		swayCmd = append([]string{"setpriv", "--reuid=" + id, "--regid=" + id, "--clear-groups"}, swayCmd...)
	}
	if err := s.start("sway", swayEnv, swayCmd[0], swayCmd[1:]...); err != nil {
		return s, err
	}
	if err := waitFor(20*time.Second, "sway's Wayland socket", func() bool {
		m, _ := filepath.Glob(filepath.Join(swayDir, "wayland-*"))
		for _, f := range m {
			if isSocket(f) {
				s.WaylandDisplay = f
				return true
			}
		}
		return false
	}); err != nil {
		return s, err
	}
	env = append(env, "WAYLAND_DISPLAY="+s.WaylandDisplay)
	if o.XWayland {
		if err := waitFor(20*time.Second, "XWayland's display", func() bool {
			b, err := os.ReadFile(xdisplay)
			s.XDisplay = strings.TrimSpace(string(b))
			return err == nil && strings.HasPrefix(s.XDisplay, ":")
		}); err != nil {
			return s, err
		}
	}
	// The socket comes before the output: wait until sway says the
	// output has its size (sway also ignores SIGTERM until then).
	if err := waitFor(20*time.Second, "sway's output", func() bool {
		socks, _ := filepath.Glob(filepath.Join(swayDir, "sway-ipc.*.sock"))
		if len(socks) != 1 {
			return false
		}
		s.swaySock = socks[0]
		out, err := exec.Command("swaymsg", "-s", socks[0], "-r", "-t", "get_outputs").Output()
		var outputs []struct {
			Name string `json:"name"`
			Mode struct {
				Width  int `json:"width"`
				Height int `json:"height"`
			} `json:"current_mode"`
		}
		if err != nil || json.Unmarshal(out, &outputs) != nil {
			return false
		}
		for _, o2 := range outputs {
			if o2.Name == "HEADLESS-1" && o2.Mode.Width == o.Width && o2.Mode.Height == o.Height {
				return true
			}
		}
		return false
	}); err != nil {
		return s, err
	}
	if o.Portal == NoPortal {
		return s, nil
	}

	bus, err := dbus.Connect(s.BusAddress)
	if err != nil {
		return s, fmt.Errorf("waylandtest: connect to the test bus: %w", err)
	}
	defer bus.Close()
	owned := func(name string) func() bool {
		return func() bool {
			var has bool
			err := bus.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
			return err == nil && has
		}
	}
	portalEnv := env
	if o.Portal == PortalWithoutScreenCast {
		// No backend descriptions: the portal offers only what it does
		// itself, and screen casting is not among that.
		empty := filepath.Join(base, "portals")
		if err := os.Mkdir(empty, 0o700); err != nil {
			return s, err
		}
		portalEnv = with(portalEnv, "XDG_DESKTOP_PORTAL_DIR="+empty)
	} else {
		if err := s.start("pipewire", env, "pipewire"); err != nil {
			return s, err
		}
		if err := waitFor(10*time.Second, "PipeWire's socket", func() bool { return isSocket(filepath.Join(s.RuntimeDir, "pipewire-0")) }); err != nil {
			return s, err
		}
		if err := s.start("wireplumber", env, "wireplumber"); err != nil {
			return s, err
		}
		xdpw := "[screencast]\noutput_name=HEADLESS-1\nchooser_type=none\n"
		switch o.Portal {
		case ScreenCastCancelled:
			xdpw = "[screencast]\nchooser_type=simple\nchooser_cmd=false\n"
		case ScreenCastPickerWaits:
			s.pickerShown = filepath.Join(base, "picker-shown")
			chooser := filepath.Join(base, "chooser.sh")
			script := fmt.Sprintf("#!/bin/sh\ntouch '%s'\nexec sleep 120\n", s.pickerShown)
			if err := os.WriteFile(chooser, []byte(script), 0o700); err != nil {
				return s, err
			}
			xdpw = "[screencast]\nchooser_type=simple\nchooser_cmd=" + chooser + "\n"
		}
		xcfg := filepath.Join(base, "xdpw.conf")
		if err := os.WriteFile(xcfg, []byte(xdpw), 0o600); err != nil {
			return s, err
		}
		// Without a GPU, xdg-desktop-portal-wlr 0.7 needs a shim to
		// stream at all (see shim/shmshim.c.txt); it is built here with the C
		// compiler cgo uses anyway.
		shim := filepath.Join(base, "shmshim.so")
		src := filepath.Join(base, "shmshim.c")
		if err := os.WriteFile(src, shmShim, 0o600); err != nil {
			return s, err
		}
		if out, err := exec.Command("cc", "-shared", "-fPIC", "-O2", "-o", shim, src, "-ldl").CombinedOutput(); err != nil {
			return s, fmt.Errorf("waylandtest: build the xdg-desktop-portal-wlr shim: %v: %s", err, out)
		}
		xenv := with(env, "LD_PRELOAD="+shim)
		if err := s.start("xdg-desktop-portal-wlr", xenv, "/usr/libexec/xdg-desktop-portal-wlr", "-c", xcfg, "-l", "INFO"); err != nil {
			return s, err
		}
		if err := waitFor(20*time.Second, "xdg-desktop-portal-wlr on the bus", owned("org.freedesktop.impl.portal.desktop.wlr")); err != nil {
			return s, err
		}
	}
	if err := s.start("xdg-desktop-portal", portalEnv, "/usr/libexec/xdg-desktop-portal", "--replace"); err != nil {
		return s, err
	}
	if err := waitFor(20*time.Second, "xdg-desktop-portal on the bus", owned("org.freedesktop.portal.Desktop")); err != nil {
		return s, err
	}
	return s, nil
}

// start runs a program of the desktop in its own process group (sway
// starts swaybg) with its output in the logs.
func (s *Session) start(name string, env []string, prog string, args ...string) error {
	f, err := os.Create(filepath.Join(s.logs, name+".log"))
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("waylandtest: start %s: %w", name, err)
	}
	s.procs = append(s.procs, cmd)
	s.names = append(s.names, name)
	return nil
}

// PickerShown reports whether the portal's chooser is up (or was), with
// ScreenCastPickerWaits.
func (s *Session) PickerShown() bool {
	if s.pickerShown == "" {
		return false
	}
	_, err := os.Stat(s.pickerShown)
	return err == nil
}

// Resize gives the output another size (as a user changing the
// resolution would).
func (s *Session) Resize(w, h int) error {
	out, err := exec.Command("swaymsg", "-s", s.swaySock, "output", "HEADLESS-1", "resolution", fmt.Sprintf("%dx%d", w, h)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("waylandtest: resize to %dx%d: %v: %s", w, h, err, out)
	}
	return nil
}

// Redraw draws the background again (sway restarts swaybg), which
// damages the whole output. xdg-desktop-portal-wlr sends a frame only
// when the screen changes, so a test of a still desktop calls this after
// the share started.
func (s *Session) Redraw() error {
	out, err := exec.Command("swaymsg", append([]string{"-s", s.swaySock}, s.background...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("waylandtest: redraw: %v: %s", err, out)
	}
	return nil
}

// KeepRedrawing draws the desktop again every second until stop (or the
// test's end): xdg-desktop-portal-wlr sends a frame only when the screen
// changes, and a test desktop does not change by itself.
func (s *Session) KeepRedrawing(t testing.TB) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_ = s.Redraw()
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// Kill ends one program of the desktop at once (SIGKILL), as a crash
// would: "xdg-desktop-portal-wlr", "pipewire", "sway", ….
func (s *Session) Kill(name string) error {
	for i, cmd := range s.procs {
		if s.names[i] == name {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			return nil
		}
	}
	return fmt.Errorf("waylandtest: no program %q", name)
}

// Stop ends every program (the last started first) and removes the
// runtime directory.
func (s *Session) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		cmd := s.procs[i]
		pg := cmd.Process.Pid
		_ = syscall.Kill(-pg, syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pg, syscall.SIGKILL)
			<-done
		}
		// Children left in the group (swaybg) go with it.
		_ = syscall.Kill(-pg, syscall.SIGKILL)
	}
	s.procs, s.names = nil, nil
	if s.RuntimeDir != "" {
		_ = os.RemoveAll(filepath.Dir(s.RuntimeDir))
	}
}

// with is env and kv, in a slice of its own (appending to env could
// write into an array another program's environment shares).
func with(env []string, kv ...string) []string {
	return append(append(make([]string, 0, len(env)+len(kv)), env...), kv...)
}

func isSocket(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// waitFor polls ok until it holds or the time is up.
func waitFor(d time.Duration, what string, ok func() bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waylandtest: %s did not come up within %v", what, d)
		case <-tick.C:
		}
	}
	return nil
}
