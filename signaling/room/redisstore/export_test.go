package redisstore

// Crash stops the node as if its process died: no more heartbeats or
// deliveries, and its seats are left for other nodes to reap.
func (s *Store) Crash() {
	s.closeOnce.Do(func() { s.closeErr = s.stop(false) })
}

// SetBeforeJoined installs a hook run just before a joiner's Joined call.
func (s *Store) SetBeforeJoined(f func()) { s.beforeJoined = f }
