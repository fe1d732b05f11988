package redisstore

// Crash stops the node as if its process died: no more heartbeats or
// deliveries, and its seats are left for other nodes to reap.
func (s *Store) Crash() {
	s.closeOnce.Do(func() { s.closeErr = s.stop(false) })
}
