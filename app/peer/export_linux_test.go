//go:build linux

package peer

// BatchedTotal counts datagrams sent in GSO batches by every fastUDPConn
// of the process.
func BatchedTotal() int64 { return batchedTotal.Load() }
