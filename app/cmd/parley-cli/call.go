package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parley-chat/parley/app/call"
	"github.com/parley-chat/parley/app/session"
)

// callError is a call that ended for a reason other than a hang-up; its
// code (DECLINED, NO_ANSWER, ...) has its own exit status. why, when set,
// is the cause in words (SCREEN_UNAVAILABLE says which).
type callError struct{ code, why string }

// newCallError is the callError of a capture or call error.
func newCallError(err error) callError {
	ce := callError{code: call.Reason(err)}
	if errors.Is(err, call.ErrScreenUnavailable) {
		ce.why = strings.TrimPrefix(err.Error(), call.ErrScreenUnavailable.Error()+": ")
	}
	return ce
}

func (e callError) Error() string { return "call ended: " + e.code }

// callStatsLine is parley-cli call --stats's stdout line (checked from
// outside: keep the keys exactly).
type callStatsLine struct {
	VideoFramesReceived  int     `json:"videoFramesReceived"`
	VideoFramesDecoded   int     `json:"videoFramesDecoded"`
	AudioPacketsReceived int     `json:"audioPacketsReceived"`
	AvgFps               float64 `json:"avgFps"`
	RttMs                float64 `json:"rttMs"`
	Freezes              int     `json:"freezes"`
}

// parseSize reads WIDTHxHEIGHT.
func parseSize(s string) (int, int, error) {
	ws, hs, ok := strings.Cut(strings.ToLower(s), "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || w < 64 || h < 64 || w > 3840 || h > 2160 || w%2 != 0 || h%2 != 0 {
		return 0, 0, usagef("--size %q: want WIDTHxHEIGHT, even numbers from 64x64 to 3840x2160", s)
	}
	return w, h, nil
}

// callArgs are parley-cli call's checked arguments.
type callArgs struct {
	link     string
	src      call.Sources
	duration time.Duration
	stats    bool
	wait     time.Duration
}

func parseCallArgs(e *cliEnv, args []string) (callArgs, error) {
	fs := newFlagSet("call", e)
	videoSrc := fs.String("video", "", "what to send as video: `testsrc` (colour bars), testsrc-busy (camera-like detail and noise), screen (screen 0 of the X11 display in DISPLAY, at its own size, at most 15 fps), screen:N (screen N of that display), window:0xID (one window of that display, at its size; 'parley-cli screens' lists them), a camera id, none, or empty for the default camera")
	cameraSrc := fs.String("camera", "", "with --video screen[:N] or window:0xID: also send this camera (`testsrc`, testsrc-busy, a camera id) beside the screen, as a small tile (at most 320 wide, 15 fps)")
	audioSrc := fs.String("audio", "", "what to send as sound: `sine` (440 Hz), a microphone id, none, or empty for the default microphone")
	duration := fs.Duration("duration", 0, "hang up this long after the call became active (0: until interrupted or the peer hangs up)")
	stats := fs.Bool("stats", false, "while the call is active print 'call receiving: N video frames decoded, M audio packets' on stderr every second; at the end print one JSON line on stdout: videoFramesReceived, videoFramesDecoded, audioPacketsReceived, avgFps, rttMs, freezes; and on stderr the call stats line, 'call video: WIDTHxHEIGHT' (the size of the last frame received; the screen's while the peer shares) and, when the peer sent its camera beside its screen, 'call tile: WIDTHxHEIGHT, N frames, F fps'")
	size := fs.String("size", "640x480", "video size `WIDTHxHEIGHT`")
	fps := fs.Int("fps", 30, "video frames per second (1-60)")
	wait := fs.Duration("wait", 5*time.Minute, "how long to wait for the peer and for the call to be answered")
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return callArgs{}, err
	}
	if err := positional("call", pos, "LINK"); err != nil {
		return callArgs{}, err
	}
	w, h, err := parseSize(*size)
	if err != nil {
		return callArgs{}, err
	}
	if *fps < 1 || *fps > 60 {
		return callArgs{}, usagef("--fps must be from 1 to 60")
	}
	if *duration < 0 {
		return callArgs{}, usagef("--duration must not be negative")
	}
	if _, _, err := call.ParseScreenSource(*videoSrc); err != nil {
		return callArgs{}, usagef("--video: %v", err)
	}
	if _, screen, _ := call.ParseScreenSource(*videoSrc); *cameraSrc != "" && !screen {
		return callArgs{}, usagef("--camera goes with --video screen or window:0xID (the camera is then a tile beside the screen)")
	}
	src := call.Sources{Video: *videoSrc, Audio: *audioSrc, Width: w, Height: h, FPS: *fps, Camera: *cameraSrc}
	if err := call.CheckSources(src); err != nil {
		return callArgs{}, newCallError(err) // say so now, not after waiting for the peer
	}
	return callArgs{link: pos[0], src: src, duration: *duration, stats: *stats, wait: *wait}, nil
}

// printCallStats writes --stats' lines (checked from outside).
func printCallStats(e *cliEnv, m *call.Manager) {
	st := m.Stats()
	fmt.Fprintf(e.stderr, "call stats: latency p50 %.0f ms p95 %.0f ms, frames lost %d, freezes %d (longest %.0f ms), keyframe requests %d, %dx%d\n",
		st.LatencyP50Ms, st.LatencyP95Ms, st.FramesLost, st.Freezes, st.MaxFreezeMs, st.KeyframeRequests, st.Width, st.Height)
	fmt.Fprintf(e.stderr, "call video: %dx%d\n", st.Width, st.Height)
	if st.TileFramesDecoded > 0 {
		// The peer's camera beside its shared screen.
		fmt.Fprintf(e.stderr, "call tile: %dx%d, %d frames, %.1f fps\n", st.TileWidth, st.TileHeight, st.TileFramesDecoded, st.TileFps)
	}
	b, _ := json.Marshal(callStatsLine{st.VideoFramesReceived, st.VideoFramesDecoded, st.AudioPacketsReceived, st.AvgFps, st.RttMs, st.Freezes})
	fmt.Fprintln(e.stdout, string(b))
}

func cmdCall(ctx context.Context, e *cliEnv, args []string) error {
	a, err := parseCallArgs(e, args)
	if err != nil {
		return err
	}
	wantVideo := a.src.Video != call.SourceNone
	wctx, cancel := waitContext(ctx, a.wait)
	defer cancel()
	p, sess, err := e.joinRoom(wctx, a.link, "", &session.CallConfig{
		Sources: func() call.Sources { return a.src },
		Decode:  true,
	})
	if err != nil {
		return err
	}
	defer p.Close()
	defer sess.Close()

	var (
		m         *call.Manager // the manager of the call (its stats stay after it ended)
		hangupAt  <-chan time.Time
		progress  <-chan time.Time // --stats: a line a second while active
		answered  bool
		started   bool
		lastState call.State
		notice    string
	)
	finish := func(reason string) error {
		if m != nil && a.stats {
			printCallStats(e, m)
		}
		if reason != "" {
			return callError{code: reason}
		}
		return nil
	}
	hangUp := func() {
		if c := sess.Call(); c != nil {
			c.HangUp()
		}
	}
	for {
		var timeout <-chan struct{}
		if !answered {
			timeout = wctx.Done()
		}
		select {
		case <-ctx.Done():
			// Interrupted: a normal way to end a call.
			hangUp()
			return finish("")
		case <-timeout:
			hangUp()
			return errTimeout
		case <-progress:
			if m != nil {
				st := m.Stats()
				fmt.Fprintf(e.stderr, "call receiving: %d video frames decoded, %d audio packets\n", st.VideoFramesDecoded, st.AudioPacketsReceived)
			}
		case <-hangupAt:
			hangUp()
			hangupAt = nil
		case ev, ok := <-sess.Events():
			if !ok {
				return errors.New("the session ended")
			}
			switch ev := ev.(type) {
			case session.StatusChanged:
				printStatus(e.stderr, ev)
			case session.CallReady:
				// A verified connection's call side is open (a new
				// connection's replaces the old one, whose call ended).
				m = sess.Call()
				if m == nil || started {
					continue
				}
				started = true
				v, err := m.Start(wantVideo)
				if err != nil && !errors.Is(err, call.ErrBusy) {
					return newCallError(err)
				}
				if v.Error != "" {
					notice = v.Error
					fmt.Fprintf(e.stderr, "call notice: %s\n", v.Error)
				}
			case session.CallChanged:
				v := ev.View
				if v.Error != notice && v.State != call.StateEnded {
					// A change within the call (a shared window closed).
					if notice = v.Error; notice != "" {
						fmt.Fprintf(e.stderr, "call notice: %s\n", notice)
					}
				}
				if v.State == lastState {
					continue // a change within the state (mute, camera)
				}
				lastState = v.State
				switch v.State {
				case call.StateOutgoing:
					fmt.Fprintln(e.stderr, "call ringing")
				case call.StateIncoming:
					fmt.Fprintln(e.stderr, "call incoming")
					if m = sess.Call(); m == nil {
						continue
					}
					// Our own Start may have answered it already (both
					// called at once): not ringing any more is fine.
					if _, err := m.Answer(true, wantVideo); err != nil && !errors.Is(err, call.ErrNotRinging) {
						return newCallError(err)
					}
				case call.StateConnecting:
					answered = true
					fmt.Fprintln(e.stderr, "call connecting")
				case call.StateActive:
					answered = true
					fmt.Fprintln(e.stderr, "call active")
					if a.duration > 0 && hangupAt == nil {
						hangupAt = time.After(a.duration)
					}
					if a.stats && progress == nil {
						t := time.NewTicker(time.Second)
						defer t.Stop()
						progress = t.C
					}
				case call.StateEnded:
					if v.Error == "" {
						fmt.Fprintln(e.stderr, "call ended")
					} else {
						fmt.Fprintf(e.stderr, "call ended: %s\n", v.Error)
					}
					return finish(v.Error)
				}
			case session.Closed:
				return closedErr(ev.Err)
			}
		}
	}
}

// cmdScreens lists the screens and windows of $DISPLAY that --video can
// share.
func cmdScreens(_ context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("screens", e)
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("screens", pos); err != nil {
		return err
	}
	list, err := call.ListScreenSources("")
	if err != nil {
		return newCallError(err)
	}
	for _, s := range list {
		fmt.Fprintf(e.stdout, "%s %dx%d %s\n", s.ID, s.Width, s.Height, s.Title)
	}
	return nil
}
