package peer

import (
	"net"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// udpNet is the network the ICE mux opens its host sockets on: the
// standard one, except that each UDP socket gets the requested kernel
// buffers and, on Linux, batched writes and reads (udp_linux.go).
type udpNet struct {
	*stdnet.Net
	buffer int
}

func newUDPNet(buffer int) (*udpNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &udpNet{Net: n, buffer: buffer}, nil
}

// ListenUDP opens a UDP socket for the mux.
func (n *udpNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	conn, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	if n.buffer > 0 {
		setSocketBuffers(conn, n.buffer)
	}
	return newFastUDPConn(conn), nil
}

// relayNet is the network of the ICE agent: the standard one, except that
// the sockets of TURN relay candidates (the only ones ice opens with
// ListenPacket) get the requested kernel buffers. Without them a relayed
// transfer lost datagrams to the client socket's default 208 KiB.
type relayNet struct {
	*stdnet.Net
	buffer int
}

// ListenPacket opens a socket with big buffers when it is UDP.
func (n *relayNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	if u, ok := c.(*net.UDPConn); ok {
		setSocketBuffers(u, n.buffer)
	}
	return c, nil
}
