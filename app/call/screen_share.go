package call

import "errors"

// ErrNotInCall is returned when sharing the screen without a call that
// is connecting or active.
var ErrNotInCall = errors.New("call: no call under way")

// ShareScreen shares a screen or one window (target) of an X11 display
// ("" is $DISPLAY) in the current call, as a second video track beside our camera: the peer shows
// the screen large and our camera (if on) as a small tile (View.Screen
// here, View.RemoteScreen there). To an older peer that shows one video
// only, the screen replaces the camera until sharing stops. A screen that
// cannot be captured leaves the call as it was and returns
// ErrScreenUnavailable. The screen is opened without holding the call:
// a call that ends meanwhile withdraws the desktop's picker, if one is up,
// and gets ErrNotInCall, and nothing is shared; a second ShareScreen
// meanwhile is a no-op.
func (m *Manager) ShareScreen(display string, target ScreenTarget) (View, error) {
	m.mu.Lock()
	if m.id == "" || !m.liveLocked() {
		defer m.mu.Unlock()
		return m.view, ErrNotInCall
	}
	if m.screen != nil || m.opening == m.id {
		defer m.mu.Unlock()
		return m.view, nil
	}
	id, ctx := m.id, m.callCtx
	src := m.cfg.Sources()
	src.Display = display
	m.opening = id
	m.mu.Unlock()
	// Without the lock: on Wayland the desktop's picker is up until the
	// user chooses, and the call's controls (hang up, mute) must not
	// wait for it. A call that ends withdraws the picker (ctx).
	v, err := openScreenVideo(ctx, src, target)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.opening == id {
		m.opening = ""
	}
	if m.id != id || !m.liveLocked() || m.closed {
		// The call ended (or another began) while the screen opened.
		if err == nil {
			_ = v.track.Close()
		}
		return m.view, ErrNotInCall
	}
	if err != nil {
		return m.view, err
	}
	m.screen = v
	m.watchScreenLocked(v)
	m.view.Error = ""
	m.applyVideoLocked()
	_ = m.sendMediaLocked()
	m.emitLocked()
	return m.view, nil
}

// StopScreenShare stops sharing the screen; our camera, if on, is full
// size again (or, with an older peer, comes back). A no-op when not
// sharing.
func (m *Manager) StopScreenShare() View {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.screen != nil {
		m.stopScreenLocked(m.screen, "")
	}
	return m.view
}

// stopScreenLocked stops sharing v, if it is still what we share, with
// notice as the call's notice ("" for none).
func (m *Manager) stopScreenLocked(v *localVideo, notice string) {
	if m.screen != v {
		return
	}
	m.screen = nil
	m.feedLocked(slotScreen, v.local.kind, nil)
	_ = v.track.Close()
	m.view.Error = notice
	m.applyVideoLocked()
	_ = m.sendMediaLocked()
	m.emitLocked()
}

// watchScreenLocked ends the share of v when its capture fails for good
// (a shared window closed or was unmapped, the X server went away): as
// StopScreenShare, with the reason as the notice, so the peer sees our
// camera again (or no video) rather than the last picture for ever.
func (m *Manager) watchScreenLocked(v *localVideo) {
	ss, ok := v.shaper.(*screenSource)
	if !ok {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		select {
		case <-ss.failed:
		case <-ss.closed:
			return
		case <-m.ctx.Done():
			return
		}
		reason := screenEndReason(ss.failure())
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.screen != v { // stopped, or another share since
			return
		}
		m.log.Info("call: screen share ended", "reason", reason)
		m.stopScreenLocked(v, reason)
	}()
}

// screenEndReason is the code of why a share ended: WINDOW_CLOSED, else
// SCREEN_UNAVAILABLE.
func screenEndReason(err error) string {
	if errors.Is(err, ErrWindowClosed) {
		return ReasonWindowClosed
	}
	return Reason(err)
}
