package turnserver

import (
	"net"
	"testing"
	"time"
)

// A slot reserved for an allocation pion never created (it failed after
// the quota check) is freed after pendingHold; IPv6 clients are counted
// per /64; a live allocation keeps its slot until deleted.
func TestQuotaSlots(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	q := newQuotas(10, 2)
	q.now = func() time.Time { return now }
	udp := func(ip string, port int) net.Addr { return &net.UDPAddr{IP: net.ParseIP(ip), Port: port} }

	if ok, _ := q.reserve("a", udp("2001:db8:1:2::1", 1)); !ok {
		t.Fatal("first v6 slot refused")
	}
	q.created(udp("2001:db8:1:2::1", 1))
	if ok, _ := q.reserve("b", udp("2001:db8:1:2::ffff", 2)); !ok {
		t.Fatal("second v6 slot refused")
	}
	if ok, reason := q.reserve("c", udp("2001:db8:1:2:abcd::9", 3)); ok || reason != ReasonQuotaIP {
		t.Fatalf("third address of one /64: ok=%v reason=%q", ok, reason)
	}
	if ok, _ := q.reserve("c", udp("2001:db8:1:3::1", 3)); !ok {
		t.Fatal("another /64 refused")
	}
	// The second slot was never created: after pendingHold it is free.
	now = now.Add(pendingHold + time.Second)
	if ok, _ := q.reserve("d", udp("2001:db8:1:2::5", 4)); !ok {
		t.Fatal("stale pending slot not freed")
	}
	// The live one stays until deleted.
	if ok, _ := q.reserve("e", udp("2001:db8:1:2::6", 5)); ok {
		t.Fatal("live slot lost")
	}
	q.deleted(udp("2001:db8:1:2::1", 1))
	if ok, _ := q.reserve("e", udp("2001:db8:1:2::6", 5)); !ok {
		t.Fatal("deleted slot not freed")
	}
}
