//go:build !linux

package peer

import (
	"net"

	"github.com/pion/transport/v5"
)

// newFastUDPConn batches only on Linux (udp_linux.go); elsewhere the
// socket is used as it is.
func newFastUDPConn(conn *net.UDPConn) transport.UDPConn { return conn }

// setSocketBuffers asks for size-byte kernel buffers and returns size.
func setSocketBuffers(conn *net.UDPConn, size int) int {
	_ = conn.SetReadBuffer(size)
	_ = conn.SetWriteBuffer(size)
	return size
}
