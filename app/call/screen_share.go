package call

import "errors"

// ErrNotInCall is returned when sharing the screen without a call that
// is connecting or active.
var ErrNotInCall = errors.New("call: no call under way")

// ShareScreen shares a screen or one window (target) of an X11 display
// ("" is $DISPLAY) in the current call: the screen replaces our camera as the call's video (the
// camera comes back when sharing stops) and the peer is told the video is
// a screen (View.RemoteScreen on their side). A screen that cannot be
// captured leaves the call as it was and returns ErrScreenUnavailable.
func (m *Manager) ShareScreen(display string, target ScreenTarget) (View, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.id == "" || (m.view.State != StateConnecting && m.view.State != StateActive) {
		return m.view, ErrNotInCall
	}
	if m.video != nil && m.video.screen {
		return m.view, nil
	}
	src := m.cfg.Sources()
	src.Display = display
	v, err := openScreenVideo(src, target)
	if err != nil {
		return m.view, err
	}
	m.cameraBeforeScreen = m.video != nil
	if m.video != nil {
		m.removeVideoLocked()
	}
	m.video = v
	if err := m.addVideoLocked(); err != nil {
		m.log.Warn("call: add screen", "err", err)
	}
	m.view.Screen, m.view.LocalVideo, m.view.Video = true, true, true
	m.view.Error = ""
	_ = m.sendMediaLocked()
	m.emitLocked()
	return m.view, nil
}

// StopScreenShare stops sharing the screen and turns the camera back on
// if it was on before; a no-op when not sharing.
func (m *Manager) StopScreenShare() View {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.video == nil || !m.video.screen {
		return m.view
	}
	m.removeVideoLocked()
	m.view.Screen, m.view.Error = false, ""
	if m.cameraBeforeScreen {
		v, err := openVideo(m.cfg.Sources())
		switch {
		case err != nil:
			m.view.Error = Reason(err)
		case v != nil:
			m.video = v
			if err := m.addVideoLocked(); err != nil {
				m.log.Warn("call: add camera", "err", err)
			}
		}
	}
	m.cameraBeforeScreen = false
	m.view.LocalVideo = m.video != nil
	_ = m.sendMediaLocked()
	m.emitLocked()
	return m.view
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
		err := ss.failure()
		m.mu.Lock()
		current := m.video == v
		m.mu.Unlock()
		if !current {
			return
		}
		m.log.Info("call: screen share ended", "reason", screenEndReason(err))
		// StopScreenShare's own steps (not a locked copy of them): the
		// share may change shape (a second video track) without this.
		m.StopScreenShare()
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.id != "" && !m.view.Screen && m.view.Error == "" {
			m.view.Error = screenEndReason(err)
			m.emitLocked()
		}
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
