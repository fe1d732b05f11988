//go:build linux

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/waylandtest"
	"github.com/parley-chat/parley/internal/xvfbtest"
)

// waylandUser is a parley-cli user inside a private Wayland desktop: its
// identity lives in a file (the desktop's bus has no keyring), and there
// is no X11 display.
func waylandUser(t *testing.T, name string, desk *waylandtest.Session) *user {
	u := newUser(t, name)
	u.extraEnv = append(desk.Env(), "DISPLAY=", "PARLEY_SECRET_STORE=file")
	return u
}

// Alice shares her Wayland desktop (1280x720, the block pattern) through
// the desktop portal and PipeWire with call --video screen; Bob's
// parley-cli decodes it at the output's size.
func TestWaylandScreenShareBetweenTwoCLIs(t *testing.T) {
	desk := waylandtest.Start(t, waylandtest.Options{Width: 1280, Height: 720, Background: xvfbtest.Blocks(1280, 720, 8, 4), Portal: waylandtest.ScreenCast})
	server := startSignal(t)
	alice := waylandUser(t, "alice", desk)
	bob := newUser(t, "bob")
	bob.extraEnv = []string{"DISPLAY=", "PARLEY_SECRET_STORE=file"}
	if out := alice.mustRun("screens"); out != "screen:0 0x0 Screen or window (your desktop asks which)\n" {
		t.Fatalf("parley-cli screens on Wayland:\n%s", out)
	}
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	a := alice.start(nil, "call", link, "--video", "screen", "--audio", "sine", "--duration", "6s", "--stats")
	b := bob.start(nil, "call", link, "--video", "none", "--audio", "sine", "--duration", "6s", "--stats")
	// xdg-desktop-portal-wlr sends frames when the screen changes: the
	// test desktop is drawn again every second while the call runs.
	stop := desk.KeepRedrawing(t)
	for name, p := range map[string]*proc{"alice": a, "bob": b} {
		if code := p.Wait(60 * time.Second); code != 0 {
			stop()
			t.Fatalf("%s's call exited %d:\n%s\n%s", name, code, p.StderrText(), desk.Logs())
		}
	}
	stop()
	st := parseCallStats(t, "bob", b.Line(time.Second))
	t.Logf("bob: %+v", st)
	if st.VideoFramesDecoded < 1 {
		t.Errorf("bob decoded %d frames of the screen", st.VideoFramesDecoded)
	}
	if errs := b.StderrText() + "\n"; !strings.Contains(errs, "call video: 1280x720\n") {
		t.Fatalf("bob's stderr lacks the screen's size:\n%s", errs)
	}
}

// In a Wayland session where the portal cannot share the screen, call
// --video screen exits at once with SCREEN_UNAVAILABLE (27) and the
// reason, before waiting for anyone.
func TestWaylandScreenShareWithoutPortalSaysSo(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	noBus := t.TempDir()
	for _, tc := range []struct {
		name   string
		portal waylandtest.Portal
		env    []string // on top of the desktop's
		want   string
	}{
		{"no session bus", waylandtest.NoPortal, []string{"DBUS_SESSION_BUS_ADDRESS=", "XDG_RUNTIME_DIR=" + noBus}, "no X11 display; this is a Wayland session, and there is no session D-Bus"},
		{"no portal", waylandtest.NoPortal, nil, "no X11 display; this is a Wayland session, and no desktop portal is running on the session D-Bus"},
		{"portal without ScreenCast", waylandtest.PortalWithoutScreenCast, nil, "the desktop portal cannot share screens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			desk := waylandtest.Start(t, waylandtest.Options{Width: 640, Height: 480, Portal: tc.portal})
			alice := waylandUser(t, "alice", desk)
			link := strings.TrimSpace(alice.mustRun("create", "--server", server))
			alice.extraEnv = append(alice.extraEnv, tc.env...)
			screenUnavailable(t, alice, link, tc.want)
		})
	}
}

// When the user cancels the portal's picker (the call has started: the
// picker comes then), the call goes on with sound only and parley-cli
// says SCREEN_UNAVAILABLE; nothing black is sent.
func TestWaylandCancelledPickerLeavesTheCallWithoutVideo(t *testing.T) {
	desk := waylandtest.Start(t, waylandtest.Options{Width: 640, Height: 480, Portal: waylandtest.ScreenCastCancelled})
	server := startSignal(t)
	alice := waylandUser(t, "alice", desk)
	bob := newUser(t, "bob")
	bob.extraEnv = []string{"DISPLAY=", "PARLEY_SECRET_STORE=file"}
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	a := alice.start(nil, "call", link, "--video", "screen", "--audio", "sine", "--duration", "3s", "--stats")
	b := bob.start(nil, "call", link, "--video", "none", "--audio", "sine", "--duration", "3s", "--stats")
	for name, p := range map[string]*proc{"alice": a, "bob": b} {
		if code := p.Wait(60 * time.Second); code != 0 {
			t.Fatalf("%s's call exited %d:\n%s\n%s", name, code, p.StderrText(), desk.Logs())
		}
	}
	if errs := a.StderrText(); !strings.Contains(errs, "call notice: SCREEN_UNAVAILABLE") {
		t.Fatalf("alice's stderr does not say the screen is unavailable:\n%s", errs)
	}
	st := parseCallStats(t, "bob", b.Line(time.Second))
	if st.VideoFramesReceived != 0 || st.AudioPacketsReceived == 0 {
		t.Fatalf("bob received %+v; want sound and no video", st)
	}
}
