package redisstore

// Crash stops the node as if its process died: no more heartbeats or
// deliveries, and its seats are left for other nodes to reap.
func (s *Store) Crash() {
	s.closeOnce.Do(func() { s.closeErr = s.stop(false) })
}

// SetBeforeJoined installs a hook run just before a joiner's Joined call.
func (s *Store) SetBeforeJoined(f func()) { s.beforeJoined = f }

// Pending counts the deliveries waiting for their connection's Joined
// call on this node.
func (s *Store) Pending() int {
	s.mu.Lock()
	locals := make([]*local, 0, len(s.byID))
	for _, lc := range s.byID {
		locals = append(locals, lc)
	}
	s.mu.Unlock()
	n := 0
	for _, lc := range locals {
		lc.mu.Lock()
		n += len(lc.pending)
		lc.mu.Unlock()
	}
	return n
}
