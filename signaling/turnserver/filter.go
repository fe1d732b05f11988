package turnserver

import (
	"net"
	"net/netip"
)

// Ranges never relayed to (beyond what netip's predicates cover): without
// this filter a TURN relay is an open proxy into the server's own network.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64 (RFC 8215)
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("::/128"),         // unspecified (also IsUnspecified)
	netip.MustParsePrefix("::ffff:0:0/96"),  // mapped (unmapped before the checks; kept for safety)
	netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated)
	netip.MustParsePrefix("ff00::/8"),       // multicast (also IsMulticast)
	netip.MustParsePrefix("255.255.255.255/32"),
}

// Prefixes that embed an IPv4 address a router would translate to: the
// embedded address is filtered like any other.
var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96") // well-known NAT64 (RFC 6052)
	sixToFour   = netip.MustParsePrefix("2002::/16")    // 6to4 (RFC 3056)
)

// peerFilter decides which peers a relay may reach.
//
// Permissions (CreatePermission, ChannelBind, Connect) are per IP: they
// are refused for loopback, private, CGNAT, link-local, multicast,
// unspecified and reserved addresses unless the operator allowed the
// range. The server's own addresses pass this check (two relay-only
// peers talk relay to relay, through the server's public IP), so every
// datagram a relay sends is checked again with its port: to an address
// of the server itself only the relay ports of live allocations are
// reachable, never the HTTP port, Redis, SSH or anything else listening
// there.
type peerFilter struct {
	allow []netip.Prefix
	// relayIPs are the addresses relayed addresses are announced with and
	// bound to: the only server addresses a permission may name.
	relayIPs map[netip.Addr]bool
	// self are all addresses of this machine (relayIPs and its
	// interfaces): datagrams to them reach only relay ports.
	self   map[netip.Addr]bool
	relays *relaySet
}

// unmap returns a as a 4-byte address when it is an IPv4-mapped IPv6
// address, and with any zone removed.
func unmap(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

func (f *peerFilter) allowed(a netip.Addr) bool {
	for _, p := range f.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// isLocal reports whether a datagram to a ends up on this machine: one of
// its addresses, any loopback address, or the unspecified address (which
// Linux delivers to loopback).
func (f *peerFilter) isLocal(a netip.Addr) bool {
	return f.self[a] || a.IsLoopback() || a.IsUnspecified()
}

// blocked reports whether a is in a range never relayed to by default.
func blocked(a netip.Addr) bool {
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || !a.IsValid() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	if nat64Prefix.Contains(a) {
		b := a.As16()
		return blocked(netip.AddrFrom4([4]byte(b[12:16])))
	}
	if sixToFour.Contains(a) {
		b := a.As16()
		return blocked(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return false
}

// permit is the pion PermissionHandler: may the client install a
// permission for peer IP ip?
func (f *peerFilter) permit(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = unmap(a)
	if f.allowed(a) {
		return true
	}
	if f.relayIPs[a] {
		return true // relay to relay; datagrams are checked per port in send
	}
	return !blocked(a)
}

// send reports whether a relay may send a datagram to addr.
func (f *peerFilter) send(addr net.Addr) bool {
	u, ok := addr.(*net.UDPAddr)
	if !ok {
		return false
	}
	a, ok := netip.AddrFromSlice(u.IP)
	if !ok {
		return false
	}
	a = unmap(a)
	if f.allowed(a) {
		return true
	}
	if f.isLocal(a) {
		return u.Port > 0 && u.Port <= 0xffff && f.relays.has(uint16(u.Port))
	}
	return !blocked(a)
}

// localAddrs returns the addresses of this machine's interfaces (best
// effort: none when they cannot be listed).
func localAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, unmap(p.Addr()))
		}
	}
	return out
}
