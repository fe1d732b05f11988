package turnserver

import (
	"net"
	"net/netip"
	"testing"
)

func TestPeerFilter(t *testing.T) {
	t.Parallel()
	relays := newRelaySet()
	relays.add(&relayConn{port: 50001})
	pub := netip.MustParseAddr("203.0.113.10")
	lan := netip.MustParseAddr("10.0.0.5") // an interface address of the server
	f := &peerFilter{
		relayIPs: map[netip.Addr]bool{pub: true},
		self:     map[netip.Addr]bool{pub: true, lan: true},
		relays:   relays,
	}
	allowLAN := &peerFilter{
		allow:    []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")},
		relayIPs: f.relayIPs, self: f.self, relays: relays,
	}
	tests := []struct {
		name   string
		f      *peerFilter
		ip     string
		port   int
		permit bool // may a permission name ip
		send   bool // may a relay send to ip:port
	}{
		{"public", f, "8.8.8.8", 53, true, true},
		{"public v6", f, "2606:4700::1111", 53, true, true},
		{"loopback", f, "127.0.0.1", 6379, false, false},
		{"loopback other", f, "127.1.2.3", 80, false, false},
		{"loopback v6", f, "::1", 6379, false, false},
		{"mapped loopback", f, "::ffff:127.0.0.1", 6379, false, false},
		{"unspecified", f, "0.0.0.0", 8787, false, false},
		{"this network", f, "0.1.2.3", 1, false, false},
		{"rfc1918 10", f, "10.9.8.7", 22, false, false},
		{"rfc1918 172", f, "172.31.255.1", 22, false, false},
		{"rfc1918 192", f, "192.168.1.1", 80, false, false},
		{"cgnat", f, "100.64.0.1", 80, false, false},
		{"metadata", f, "169.254.169.254", 80, false, false},
		{"link-local v6", f, "fe80::1", 80, false, false},
		{"ula", f, "fd12:3456::1", 80, false, false},
		{"multicast", f, "239.1.1.1", 5353, false, false},
		{"multicast v6", f, "ff02::fb", 5353, false, false},
		{"broadcast", f, "255.255.255.255", 67, false, false},
		{"benchmark", f, "198.18.0.1", 80, false, false},
		{"nat64 of private", f, "64:ff9b::a00:1", 80, false, false},
		{"nat64 of public", f, "64:ff9b::808:808", 53, true, true},
		{"6to4 of loopback", f, "2002:7f00:1::1", 80, false, false},
		{"own public IP, relay port", f, "203.0.113.10", 50001, true, true},
		{"own public IP, other port", f, "203.0.113.10", 8787, true, false},
		{"own LAN address", f, "10.0.0.5", 50001, false, true},
		{"allowed LAN", allowLAN, "192.168.4.4", 80, true, true},
		{"allowed LAN keeps the rest closed", allowLAN, "10.1.1.1", 80, false, false},
		{"allowed LAN keeps own ports closed", allowLAN, "203.0.113.10", 22, true, false},
	}
	for _, tc := range tests {
		ip := net.ParseIP(tc.ip)
		if got := tc.f.permit(ip); got != tc.permit {
			t.Errorf("%s: permit(%s) = %v, want %v", tc.name, tc.ip, got, tc.permit)
		}
		if got := tc.f.send(&net.UDPAddr{IP: ip, Port: tc.port}); got != tc.send {
			t.Errorf("%s: send(%s:%d) = %v, want %v", tc.name, tc.ip, tc.port, got, tc.send)
		}
	}
	if f.send(&net.TCPAddr{IP: net.IPv4(8, 8, 8, 8), Port: 53}) {
		t.Error("send to a TCP address allowed")
	}
}
