package session

import (
	"context"
	"sync"
	"time"

	"github.com/parley-chat/parley/app/call"
	"github.com/parley-chat/parley/app/mediahub"
)

// Calls in a session: every verified connection gets its call.Manager
// (both sides open the negotiated control channel), and the session
// closes it with its connection, which ends a live call with PEER_LEFT.
// The manager's views arrive as CallChanged events, in order.

// CallConfig turns calls on for a session.
type CallConfig struct {
	// Sources returns what a call captures when it starts (the user's
	// device choice may change between calls).
	Sources func() call.Sources
	// Hub, when it returns one, receives the peer's media for the UI.
	Hub func() *mediahub.Hub
	// Decode decodes received video in Go (CLI statistics); Play plays
	// the peer's voice from Go (the app).
	Decode, Play bool
}

// CallReady says the verified connection's call manager is open:
// Session.Call returns it until CallChanged reports it closed or the
// next CallReady.
type CallReady struct{}

// CallChanged is the call's view after a change.
type CallChanged struct{ View call.View }

func (CallReady) isEvent()   {}
func (CallChanged) isEvent() {}

// callOpenTimeout bounds how long a new verified connection may take to
// open its call control channel.
const callOpenTimeout = 15 * time.Second

// calls is the session's call side.
type calls struct {
	mu      sync.Mutex
	m       *call.Manager // the current connection's, once open
	run     *peerRun      // the connection m (or the one opening) is for
	changed chan struct{} // closed (and replaced) when m changes
	// closing counts managers being closed: finish waits for them, so
	// their last views go out before Closed.
	closing sync.WaitGroup

	// views carries the manager's views to the event stream in order: a
	// manager reports with its own lock held, so it only queues.
	viewMu sync.Mutex
	views  []call.View
	notify chan struct{}
}

func (c *calls) pushView(v call.View) {
	c.viewMu.Lock()
	c.views = append(c.views, v)
	c.viewMu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *calls) takeViews() []call.View {
	c.viewMu.Lock()
	defer c.viewMu.Unlock()
	v := c.views
	c.views = nil
	return v
}

// setLocked installs m for run and wakes WaitCall; c.mu must be held.
func (c *calls) setLocked(run *peerRun, m *call.Manager) {
	c.run, c.m = run, m
	if c.changed != nil {
		close(c.changed)
	}
	c.changed = make(chan struct{})
}

// forwardViews emits the queued views until the session ends (finish
// emits what is left).
func (s *Session) forwardViews() {
	for {
		select {
		case <-s.calls.notify:
		case <-s.ctx.Done():
			return
		}
		for _, v := range s.calls.takeViews() {
			s.emit(CallChanged{View: v})
		}
	}
}

// startCall marks run's call manager as opening (WaitCall waits for it
// from now on, before the session reports the connection verified) and
// opens it in the background. Calls must be on.
func (s *Session) startCall(ctx context.Context, run *peerRun) {
	s.calls.mu.Lock()
	s.calls.setLocked(run, nil)
	s.calls.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.openCall(ctx, run)
	}()
}

// openCall opens run's call manager and installs it, unless run was
// replaced meanwhile.
func (s *Session) openCall(ctx context.Context, run *peerRun) {
	cc := s.cfg.Calls
	var hub *mediahub.Hub
	if cc.Hub != nil {
		hub = cc.Hub()
	}
	octx, cancel := context.WithTimeout(ctx, callOpenTimeout)
	defer cancel()
	m, err := call.New(octx, call.Config{
		RoomID:   s.key,
		Conn:     run.pc,
		Sources:  cc.Sources,
		Hub:      hub,
		Decode:   cc.Decode,
		Play:     cc.Play,
		OnChange: s.calls.pushView,
		Logger:   s.log.With("component", "call"),
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("calls unavailable on this connection", "err", err)
		}
		s.closeCall(run) // WaitCall stops waiting for it
		return
	}
	s.calls.mu.Lock()
	current := s.calls.run == run && ctx.Err() == nil
	if current {
		s.calls.setLocked(run, m)
	}
	s.calls.mu.Unlock()
	if !current {
		m.Close()
		return
	}
	s.emit(CallReady{})
}

// closeCall closes the manager of run (any run, with nil), if it is the
// current one.
func (s *Session) closeCall(run *peerRun) {
	s.calls.mu.Lock()
	if s.calls.run == nil || run != nil && s.calls.run != run {
		s.calls.mu.Unlock()
		return
	}
	m := s.calls.m
	s.calls.setLocked(nil, nil)
	if m != nil {
		s.calls.closing.Add(1)
	}
	s.calls.mu.Unlock()
	if m != nil {
		m.Close()
		s.calls.closing.Done()
	}
}

// Call returns the call manager of the current verified connection, or
// nil while there is none (or it is still opening, or calls are off).
func (s *Session) Call() *call.Manager {
	s.calls.mu.Lock()
	defer s.calls.mu.Unlock()
	return s.calls.m
}

// WaitCall returns the call manager of the current verified connection,
// waiting for one that is still opening until ctx ends. Without a
// verified connection it returns ErrPeerOffline at once.
func (s *Session) WaitCall(ctx context.Context) (*call.Manager, error) {
	for {
		s.calls.mu.Lock()
		m, opening, changed := s.calls.m, s.calls.run != nil, s.calls.changed
		s.calls.mu.Unlock()
		if m != nil {
			return m, nil
		}
		if !opening || changed == nil {
			return nil, ErrPeerOffline
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ErrPeerOffline
		}
	}
}
