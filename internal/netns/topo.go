package netns

import "fmt"

// Bed is three namespaces, "a" and "b" for the two peers and "srv" for
// the servers, with the addresses each side uses to reach the others.
type Bed struct {
	*Set
	A, B     string // the peers' addresses
	SrvFromA string // srv's address as a reaches it
	SrvFromB string // srv's address as b reaches it
	Emulated bool   // a reaches srv (and b) over the emulated link
}

// tunTxQueue is the emulated link's TUN devices' transmit queue, in
// packets: deep enough that only the emulator drops.
const tunTxQueue = 20000

// Routed builds a =[link]= srv =[veth]= b: tunA and tunB are the two ends
// of an emulated link (TUN devices in the caller's namespace, e.g. from
// linkem.Open); tunA goes to a, tunB to srv, and srv routes between the
// link and a plain veth to b. Everything between a and b (directly, or
// through a relay in srv) crosses the emulated link once.
//
//	a 10.1.0.1 =[link]= 10.1.0.2 srv 10.2.0.2 =[veth]= 10.2.0.1 b
func Routed(kind, tunA, tunB string, mtu int) (*Bed, error) {
	s, err := New(kind, "a", "srv", "b")
	if err != nil {
		return nil, err
	}
	bed := &Bed{Set: s, A: "10.1.0.1", B: "10.2.0.1", SrvFromA: "10.1.0.2", SrvFromB: "10.2.0.2", Emulated: true}
	steps := []func() error{
		func() error { return s.MoveLink(tunA, "a", "link0", "10.1.0.1/24", mtu) },
		func() error { return s.MoveLink(tunB, "srv", "link0", "10.1.0.2/24", mtu) },
		func() error { return s.Veth("srv", "vb", "10.2.0.2/24", "b", "eth0", "10.2.0.1/24", mtu) },
		func() error { return s.Run("a", "ip", "route", "add", "10.2.0.0/24", "dev", "link0") },
		func() error { return s.Run("b", "ip", "route", "add", "10.1.0.0/24", "via", "10.2.0.2") },
		func() error { return s.Run("srv", "sysctl", "-qw", "net.ipv4.ip_forward=1") },
		// The emulator's queue is the link's only queue: the TUN devices'
		// own transmit queue (500 packets) overflowed when a UDP sender's
		// GSO bursts met an emulator briefly off the CPU, dropping packets
		// outside the emulated link (TCP is held back before that queue,
		// UDP is not).
		func() error { return s.Run("a", "ip", "link", "set", "link0", "txqueuelen", fmt.Sprint(tunTxQueue)) },
		func() error { return s.Run("srv", "ip", "link", "set", "link0", "txqueuelen", fmt.Sprint(tunTxQueue)) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			s.Close()
			return nil, fmt.Errorf("netns: routed testbed: %w", err)
		}
	}
	return bed, nil
}

// LAN builds a, srv and b on one bridged segment of veth links with the
// given MTU, no emulated link (a LAN as fast as the machine):
//
//	a 10.0.0.1, srv 10.0.0.2 (the bridge), b 10.0.0.3
func LAN(kind string, mtu int) (*Bed, error) {
	s, err := New(kind, "a", "srv", "b")
	if err != nil {
		return nil, err
	}
	bed := &Bed{Set: s, A: "10.0.0.1", B: "10.0.0.3", SrvFromA: "10.0.0.2", SrvFromB: "10.0.0.2"}
	steps := []func() error{
		func() error { return s.Run("srv", "ip", "link", "add", "br0", "type", "bridge") },
		func() error { return s.Run("srv", "ip", "link", "set", "br0", "mtu", fmt.Sprint(mtu)) },
		func() error { return s.Run("srv", "ip", "addr", "add", "10.0.0.2/24", "dev", "br0") },
		func() error { return s.Run("srv", "ip", "link", "set", "br0", "up") },
		func() error { return s.Veth("a", "eth0", "10.0.0.1/24", "srv", "pa", "", mtu) },
		func() error { return s.Veth("b", "eth0", "10.0.0.3/24", "srv", "pb", "", mtu) },
		func() error { return s.Run("srv", "ip", "link", "set", "pa", "master", "br0") },
		func() error { return s.Run("srv", "ip", "link", "set", "pb", "master", "br0") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			s.Close()
			return nil, fmt.Errorf("netns: LAN testbed: %w", err)
		}
	}
	return bed, nil
}
