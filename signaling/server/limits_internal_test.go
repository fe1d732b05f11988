package server

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/room/roomtest"
)

func TestCapKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		want []string // prefixes, scope ip first
	}{
		{"203.0.113.7", []string{"203.0.113.7/32"}},
		{"::ffff:203.0.113.7", []string{"203.0.113.7/32"}},
		{"2001:db8:aa:bb:1:2:3:4", []string{"2001:db8:aa:bb::/64", "2001:db8:aa::/48"}},
		{"fe80::1%eth0", []string{"fe80::/64", "fe80::/48"}},
	}
	for _, tc := range tests {
		keys := capKeys(netip.MustParseAddr(tc.addr))
		if len(keys) != len(tc.want) {
			t.Fatalf("%s: %v", tc.addr, keys)
		}
		for i, k := range keys {
			wantScope := scopeIP
			if i == 1 {
				wantScope = scopeNet48
			}
			if k.prefix.String() != tc.want[i] || k.scope != wantScope {
				t.Errorf("%s: key %d = %v %s, want %s %s", tc.addr, i, k.prefix, k.scope, tc.want[i], wantScope)
			}
		}
	}
	if keys := capKeys(netip.Addr{}); len(keys) != 1 || keys[0].scope != scopeIP {
		t.Errorf("invalid address: %v", keys)
	}
}

// roomCapsEnv is a roomCaps over an in-memory registry with a manual clock.
type roomCapsEnv struct {
	clk  *roomtest.Clock
	reg  *room.Registry
	caps *roomCaps
}

func newRoomCapsEnv(t *testing.T, perIP int) *roomCapsEnv {
	clk := roomtest.NewClock(time.Now())
	reg := room.NewRegistry(clk, room.Config{})
	t.Cleanup(func() { _ = reg.Close() })
	return &roomCapsEnv{clk: clk, reg: reg, caps: newRoomCaps(perIP, 0, reg)}
}

// create reserves a slot for ip and creates a room with selfDestruct;
// it returns false when the cap refused.
func (e *roomCapsEnv) create(t *testing.T, ip string, selfDestruct time.Duration) bool {
	t.Helper()
	ctx := context.Background()
	slot, ok, _ := e.caps.reserve(ctx, netip.MustParseAddr(ip))
	if !ok {
		return false
	}
	info, err := e.reg.Create(ctx, selfDestruct, "")
	if err != nil {
		t.Fatal(err)
	}
	e.caps.commit(slot, info.ID)
	return true
}

// TestRoomCapsChecksOwnRoomsAtCap: a client at its cap is admitted as soon
// as one of its rooms has ended, even when the general sweep has not got
// to that room yet.
func TestRoomCapsChecksOwnRoomsAtCap(t *testing.T) {
	t.Parallel()
	e := newRoomCapsEnv(t, 1)
	for i := range 20 { // older, live rooms of others: first in the sweep's queue
		if !e.create(t, fmt.Sprintf("198.51.100.%d", i), 0) {
			t.Fatal("refused")
		}
	}
	if !e.create(t, "203.0.113.1", time.Minute) {
		t.Fatal("first room refused")
	}
	if e.create(t, "203.0.113.1", 0) {
		t.Fatal("second live room admitted")
	}
	e.clk.Advance(time.Minute) // the first room self-destructs
	if !e.create(t, "203.0.113.1", 0) {
		t.Fatal("refused after its room ended")
	}
}

// TestRoomCapsForgetsEndedRooms: rooms that ended are dropped from the
// tables as creations go on, so memory follows the live rooms, not every
// room ever created.
func TestRoomCapsForgetsEndedRooms(t *testing.T) {
	t.Parallel()
	e := newRoomCapsEnv(t, 1000)
	for i := range 50 {
		e.create(t, fmt.Sprintf("2001:db8:%x::1", i), time.Minute)
	}
	e.clk.Advance(time.Minute) // all 50 self-destruct
	if rooms, clients := e.caps.counts(); rooms != 50 || clients != 100 {
		t.Fatalf("before: %d rooms, %d clients tracked", rooms, clients)
	}
	for range 30 {
		if !e.create(t, "203.0.113.1", 0) {
			t.Fatal("refused")
		}
	}
	if rooms, clients := e.caps.counts(); rooms != 30 || clients != 1 {
		t.Fatalf("after: %d rooms, %d clients tracked, want 30 and 1", rooms, clients)
	}
	e.caps.mu.Lock()
	defer e.caps.mu.Unlock()
	if len(e.caps.queue) > 2*len(e.caps.rooms) {
		t.Fatalf("sweep queue holds %d ids for %d rooms", len(e.caps.queue), len(e.caps.rooms))
	}
}

// TestIPLimiterGroupsIPv6By48: the /64s of one IPv6 /48 share a bucket of
// rate48Factor times the rate, so many /64s do not multiply the limit;
// IPv4 addresses and other /48s are not affected, and a refused request
// takes no token from the /64 it came from.
func TestIPLimiterGroupsIPv6By48(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := newIPLimiter(1, 1000, func() time.Time { return now })
	for i := range rate48Factor {
		if ok, _ := l.allow(netip.MustParseAddr(fmt.Sprintf("2001:db8:1:%x::1", i))); !ok {
			t.Fatalf("/64 number %d of the /48 refused", i)
		}
	}
	fresh := netip.MustParseAddr("2001:db8:1:ff::1") // its /64 has a full bucket
	ok, retry := l.allow(fresh)
	if ok || retry <= 0 || retry > time.Minute {
		t.Fatalf("one /64 more in a spent /48: ok=%v retry=%v", ok, retry)
	}
	for _, other := range []string{"2001:db8:2::1", "192.0.2.1"} {
		if ok, _ := l.allow(netip.MustParseAddr(other)); !ok {
			t.Fatalf("%s refused", other)
		}
	}
	// The /48 earns a token every minute/rate48Factor; the /64 refused
	// above kept its own token (it would take a minute to earn it back).
	now = now.Add(time.Minute/rate48Factor + time.Second)
	if ok, _ := l.allow(fresh); !ok {
		t.Fatal("refused after the /48 earned a token: the refusal took the /64's token")
	}
}
