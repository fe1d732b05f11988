package call

import "errors"

// ErrNotInCall is returned when sharing the screen without a call that
// is connecting or active.
var ErrNotInCall = errors.New("call: no call under way")

// ShareScreen shares screen n of an X11 display ("" is $DISPLAY) in the
// current call, as a second video track beside our camera: the peer shows
// the screen large and our camera (if on) as a small tile (View.Screen
// here, View.RemoteScreen there). To an older peer that shows one video
// only, the screen replaces the camera until sharing stops. A screen that
// cannot be captured leaves the call as it was and returns
// ErrScreenUnavailable.
func (m *Manager) ShareScreen(display string, n int) (View, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.id == "" || !m.liveLocked() {
		return m.view, ErrNotInCall
	}
	if m.screen != nil {
		return m.view, nil
	}
	src := m.cfg.Sources()
	src.Display = display
	v, err := openScreenVideo(src, n)
	if err != nil {
		return m.view, err
	}
	m.screen = v
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
	if m.screen == nil {
		return m.view
	}
	v := m.screen
	m.screen = nil
	m.feedLocked(slotScreen, v.local.kind, nil)
	_ = v.track.Close()
	m.view.Error = ""
	m.applyVideoLocked()
	_ = m.sendMediaLocked()
	m.emitLocked()
	return m.view
}
