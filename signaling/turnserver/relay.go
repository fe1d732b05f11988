package turnserver

import (
	"errors"
	"net"
	"sync"

	"github.com/pion/turn/v5"
)

var (
	errNoTCPRelay  = errors.New("turn: TCP relay allocations are not offered")
	errPeerRefused = errors.New("turn: peer address refused")
)

// relaySet tracks the live relay sockets: their ports, so the filter can
// let relays reach each other, and the room each serves, so they can be
// closed when it ends.
type relaySet struct {
	mu    sync.Mutex
	conns map[*relayConn]struct{}
	ports map[uint16]int
}

func newRelaySet() *relaySet {
	return &relaySet{conns: map[*relayConn]struct{}{}, ports: map[uint16]int{}}
}

func (r *relaySet) has(port uint16) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ports[port] > 0
}

func (r *relaySet) add(c *relayConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns[c] = struct{}{}
	r.ports[c.port]++
}

func (r *relaySet) remove(c *relayConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.conns[c]; !ok {
		return
	}
	delete(r.conns, c)
	if r.ports[c.port]--; r.ports[c.port] <= 0 {
		delete(r.ports, c.port)
	}
}

// rooms returns the distinct rooms live relays serve.
func (r *relaySet) rooms() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for c := range r.conns {
		if !seen[c.room] {
			seen[c.room] = true
			out = append(out, c.room)
		}
	}
	return out
}

// closeRoom closes every relay socket of room; pion then drops their
// allocations' traffic, and the allocations themselves at their next
// (refused) refresh or lifetime end.
func (r *relaySet) closeRoom(room string) int {
	r.mu.Lock()
	var doomed []*relayConn
	for c := range r.conns {
		if c.room == room {
			doomed = append(doomed, c)
		}
	}
	r.mu.Unlock()
	for _, c := range doomed {
		_ = c.Close()
	}
	return len(doomed)
}

// relayConn is one allocation's relay socket; every datagram it sends
// passes the peer filter.
type relayConn struct {
	net.PacketConn
	s    *Server
	room string
	port uint16
	once sync.Once
}

// WriteTo sends b to addr unless the filter refuses it (a datagram to one
// of the server's own ports that is not a relay).
func (c *relayConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if !c.s.filter.send(addr) {
		c.s.refuse(ReasonPeerPort)
		return 0, errPeerRefused
	}
	return c.PacketConn.WriteTo(b, addr)
}

// Close closes the socket and forgets it.
func (c *relayConn) Close() error {
	c.once.Do(func() { c.s.relays.remove(c) })
	return c.PacketConn.Close()
}

// relayGenerator hands out UDP relays from a port range and refuses TCP
// relays (RFC 6062): the app never asks for them, and an outgoing TCP
// connection from the server is the most useful thing an open proxy
// offers.
type relayGenerator struct {
	inner *turn.RelayAddressGeneratorPortRange
	s     *Server
}

func (g relayGenerator) Validate() error { return g.inner.Validate() }

func (g relayGenerator) AllocatePacketConn(conf turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	conn, addr, err := g.inner.AllocatePacketConn(conf)
	if err != nil {
		return nil, nil, err
	}
	local, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok {
		_ = conn.Close()
		return nil, nil, errors.New("turn: relay socket is not UDP")
	}
	c := &relayConn{PacketConn: conn, s: g.s, room: g.s.roomOf(conf.UserID), port: uint16(local.Port)}
	g.s.relays.add(c)
	return c, addr, nil
}

func (g relayGenerator) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	g.s.refuse(ReasonTCPAllocation)
	return nil, nil, errNoTCPRelay
}

func (g relayGenerator) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	g.s.refuse(ReasonTCPAllocation)
	return nil, errNoTCPRelay
}
