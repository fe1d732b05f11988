package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley/app/call"
	"github.com/parley-chat/parley/app/peer"
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

// viewQueue hands call views from the manager (which holds its lock while
// reporting) to the command's loop without blocking and without losing
// any.
type viewQueue struct {
	mu     sync.Mutex
	views  []call.View
	notify chan struct{}
}

func newViewQueue() *viewQueue { return &viewQueue{notify: make(chan struct{}, 1)} }

func (q *viewQueue) push(v call.View) {
	q.mu.Lock()
	q.views = append(q.views, v)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *viewQueue) take() []call.View {
	q.mu.Lock()
	defer q.mu.Unlock()
	v := q.views
	q.views = nil
	return v
}

func cmdCall(ctx context.Context, e *cliEnv, args []string) error {
	fs := newFlagSet("call", e)
	videoSrc := fs.String("video", "", "what to send as video: `testsrc` (colour bars), testsrc-busy (camera-like detail and noise), screen (screen 0 of the X11 display in DISPLAY, at its own size, at most 15 fps), screen:N (screen N of that display), a camera id, none, or empty for the default camera")
	audioSrc := fs.String("audio", "", "what to send as sound: `sine` (440 Hz), a microphone id, none, or empty for the default microphone")
	duration := fs.Duration("duration", 0, "hang up this long after the call became active (0: until interrupted or the peer hangs up)")
	stats := fs.Bool("stats", false, "at the end print one JSON line on stdout: videoFramesReceived, videoFramesDecoded, audioPacketsReceived, avgFps, rttMs, freezes; and on stderr the call stats line and 'call video: WIDTHxHEIGHT' (the size of the last frame received)")
	size := fs.String("size", "640x480", "video size `WIDTHxHEIGHT`")
	fps := fs.Int("fps", 30, "video frames per second (1-60)")
	wait := fs.Duration("wait", 5*time.Minute, "how long to wait for the peer and for the call to be answered")
	pos, err := parseInterspersed(fs, args, false)
	if err != nil {
		return err
	}
	if err := positional("call", pos, "LINK"); err != nil {
		return err
	}
	w, h, err := parseSize(*size)
	if err != nil {
		return err
	}
	if *fps < 1 || *fps > 60 {
		return usagef("--fps must be from 1 to 60")
	}
	if *duration < 0 {
		return usagef("--duration must not be negative")
	}
	if _, _, err := call.ParseScreenSource(*videoSrc); err != nil {
		return usagef("--video: %v", err)
	}
	src := call.Sources{Video: *videoSrc, Audio: *audioSrc, Width: w, Height: h, FPS: *fps}
	wantVideo := src.Video != call.SourceNone
	if err := call.CheckSources(src); err != nil {
		return newCallError(err) // say so now, not after waiting for the peer
	}

	wctx, cancel := waitContext(ctx, *wait)
	defer cancel()
	p, sess, err := e.joinRoom(wctx, pos[0], "")
	if err != nil {
		return err
	}
	defer p.Close()
	defer sess.Close()

	views := newViewQueue()
	type ready struct {
		m    *call.Manager
		conn *peer.Conn
		err  error
	}
	readyc := make(chan ready, 1)
	var (
		m         *call.Manager
		mconn     *peer.Conn
		opening   bool
		hangupAt  <-chan time.Time
		answered  bool
		started   bool
		lastState call.State
	)
	defer func() {
		if m != nil {
			m.Close()
		}
	}()
	finish := func(reason string) error {
		if m != nil && *stats {
			st := m.Stats()
			fmt.Fprintf(e.stderr, "call stats: latency p50 %.0f ms p95 %.0f ms, frames lost %d, freezes %d (longest %.0f ms), keyframe requests %d, %dx%d\n",
				st.LatencyP50Ms, st.LatencyP95Ms, st.FramesLost, st.Freezes, st.MaxFreezeMs, st.KeyframeRequests, st.Width, st.Height)
			fmt.Fprintf(e.stderr, "call video: %dx%d\n", st.Width, st.Height)
			b, _ := json.Marshal(callStatsLine{st.VideoFramesReceived, st.VideoFramesDecoded, st.AudioPacketsReceived, st.AvgFps, st.RttMs, st.Freezes})
			fmt.Fprintln(e.stdout, string(b))
		}
		if reason != "" {
			return callError{code: reason}
		}
		return nil
	}
	for {
		var timeout <-chan struct{}
		if !answered {
			timeout = wctx.Done()
		}
		select {
		case <-ctx.Done():
			// Interrupted: a normal way to end a call.
			if m != nil {
				m.HangUp()
			}
			return finish("")
		case <-timeout:
			if m != nil {
				m.HangUp()
			}
			return errTimeout
		case <-hangupAt:
			m.HangUp()
			hangupAt = nil
		case r := <-readyc:
			opening = false
			if r.err != nil {
				if r.conn == sess.Peer() {
					return fmt.Errorf("call: %w", r.err)
				}
				continue // that connection is gone; the next one will do
			}
			m, mconn = r.m, r.conn
			if !started {
				started = true
				v, err := m.Start(wantVideo)
				if err != nil && !errors.Is(err, call.ErrBusy) {
					return newCallError(err)
				}
				if v.Error != "" {
					fmt.Fprintf(e.stderr, "call notice: %s\n", v.Error)
				}
			}
		case <-views.notify:
			for _, v := range views.take() {
				if v.State == lastState {
					continue // a change within the state (mute, camera)
				}
				lastState = v.State
				switch v.State {
				case call.StateOutgoing:
					fmt.Fprintln(e.stderr, "call ringing")
				case call.StateIncoming:
					fmt.Fprintln(e.stderr, "call incoming")
					if _, err := m.Answer(true, wantVideo); err != nil {
						return newCallError(err)
					}
				case call.StateConnecting:
					answered = true
					fmt.Fprintln(e.stderr, "call connecting")
				case call.StateActive:
					answered = true
					fmt.Fprintln(e.stderr, "call active")
					if *duration > 0 && hangupAt == nil {
						hangupAt = time.After(*duration)
					}
				case call.StateEnded:
					if v.Error == "" {
						fmt.Fprintln(e.stderr, "call ended")
					} else {
						fmt.Fprintf(e.stderr, "call ended: %s\n", v.Error)
					}
					return finish(v.Error)
				}
			}
		case ev, ok := <-sess.Events():
			if !ok {
				return errors.New("the session ended")
			}
			st, isStatus := ev.(session.StatusChanged)
			if !isStatus {
				continue
			}
			printStatus(e.stderr, st)
			if st.Status != session.StatusVerified || opening {
				continue
			}
			conn := sess.Peer()
			if conn == nil || conn == mconn {
				continue
			}
			if m != nil {
				// A new peer connection replaced the call's: that call
				// is over.
				m.Close()
				m = nil
			}
			opening = true
			go func() {
				octx, ocancel := context.WithTimeout(ctx, 20*time.Second)
				defer ocancel()
				cm, err := call.New(octx, call.Config{
					RoomID: sess.Link().RoomID, Conn: conn, Decode: true,
					Sources:  func() call.Sources { return src },
					OnChange: views.push,
					Logger:   p.logger.With("component", "call"),
				})
				readyc <- ready{cm, conn, err}
			}()
		}
	}
}
