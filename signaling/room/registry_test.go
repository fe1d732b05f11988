package room_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/room/roomtest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeConn records what the registry tells a connection.
type fakeConn struct {
	mu     sync.Mutex
	name   string
	joined []room.JoinResult
	msgs   []protocol.Message
	closed string
}

func (c *fakeConn) Joined(r room.JoinResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.joined = append(c.joined, r)
}

func (c *fakeConn) Send(m protocol.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
}

func (c *fakeConn) Close(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed == "" {
		c.closed = code
	}
}

func (c *fakeConn) events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.msgs {
		if m.Type == protocol.TypePeer {
			out = append(out, m.Event+":"+m.PublicKey)
		} else {
			out = append(out, m.Type)
		}
	}
	return out
}

func newReg(t *testing.T, cfg room.Config) (*room.Registry, *roomtest.Clock) {
	t.Helper()
	clk := roomtest.NewClock(t0)
	reg := room.NewRegistry(clk, cfg)
	t.Cleanup(func() { _ = reg.Close() })
	return reg, clk
}

func mustCreate(t *testing.T, reg *room.Registry, sd time.Duration) room.Info {
	t.Helper()
	info, err := reg.Create(context.Background(), sd, "")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return info
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCreateAndGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg, _ := newReg(t, room.Config{})
	tests := []struct {
		name string
		sd   time.Duration
	}{
		{"no timer", 0},
		{"timer", 90 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info := mustCreate(t, reg, tc.sd)
			if !protocol.ValidRoomID(info.ID) {
				t.Fatalf("id %q has the wrong shape", info.ID)
			}
			if !info.CreatedAt.Equal(t0) {
				t.Errorf("CreatedAt = %v, want %v", info.CreatedAt, t0)
			}
			if tc.sd == 0 && !info.ExpiresAt.IsZero() {
				t.Errorf("ExpiresAt = %v, want zero", info.ExpiresAt)
			}
			if tc.sd > 0 && !info.ExpiresAt.Equal(t0.Add(tc.sd)) {
				t.Errorf("ExpiresAt = %v, want %v", info.ExpiresAt, t0.Add(tc.sd))
			}
			got, err := reg.Get(ctx, info.ID)
			if err != nil || got != info {
				t.Fatalf("Get = %+v, %v; want %+v", got, err, info)
			}
		})
	}
	if _, err := reg.Get(ctx, "AAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, room.ErrNotFound) {
		t.Errorf("Get unknown: %v, want ErrNotFound", err)
	}
	if _, err := reg.Create(ctx, -time.Second, ""); err == nil {
		t.Error("Create with a negative timer succeeded")
	}
}

func TestJoinSequence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg, _ := newReg(t, room.Config{})
	id := mustCreate(t, reg, 0).ID

	a1, b1, a2, c1 := &fakeConn{name: "a1"}, &fakeConn{name: "b1"}, &fakeConn{name: "a2"}, &fakeConn{name: "c1"}

	res, err := reg.Join(ctx, id, "A", "", a1)
	if err != nil || res.Peer != "" || res.PeerOnline || res.Rejoin || res.Room.Connected != 1 {
		t.Fatalf("first join = %+v, %v", res, err)
	}
	res, err = reg.Join(ctx, id, "B", "", b1)
	if err != nil || res.Peer != "A" || !res.PeerOnline || res.Rejoin || res.Room.Connected != 2 {
		t.Fatalf("second join = %+v, %v", res, err)
	}
	if got := a1.events(); !equal(got, []string{"joined:B"}) {
		t.Fatalf("a1 events %v", got)
	}
	if len(b1.joined) != 1 || len(a1.joined) != 1 {
		t.Fatalf("Joined callbacks: a1 %d b1 %d", len(a1.joined), len(b1.joined))
	}

	// Relay both ways.
	sig := protocol.Message{Type: protocol.TypeSignal, Signal: &protocol.Signal{App: []byte(`"hi"`)}}
	if err := reg.Relay(ctx, id, a1, sig); err != nil {
		t.Fatal(err)
	}
	if err := reg.Relay(ctx, id, b1, sig); err != nil {
		t.Fatal(err)
	}
	if got := b1.events(); !equal(got, []string{"signal"}) {
		t.Fatalf("b1 events %v", got)
	}

	// A third key is refused.
	if _, err := reg.Join(ctx, id, "C", "", c1); !errors.Is(err, room.ErrFull) {
		t.Fatalf("third key: %v, want ErrFull", err)
	}

	// Same key on a new connection replaces the old one.
	res, err = reg.Join(ctx, id, "A", "", a2)
	if err != nil || !res.Rejoin || res.Peer != "B" || !res.PeerOnline {
		t.Fatalf("replace join = %+v, %v", res, err)
	}
	if a1.closed != protocol.CodeReplaced {
		t.Fatalf("a1 closed with %q, want REPLACED", a1.closed)
	}
	// The replaced connection ending must not tell B "left".
	if err := reg.Leave(ctx, id, a1); err != nil {
		t.Fatal(err)
	}
	if err := reg.Relay(ctx, id, a1, sig); !errors.Is(err, room.ErrNotMember) {
		t.Fatalf("relay from replaced conn: %v", err)
	}
	if got := b1.events(); !equal(got, []string{"signal", "rejoined:A"}) {
		t.Fatalf("b1 events after replace %v", got)
	}

	// B leaves, A's relay finds nobody, B comes back: A hears left then rejoined.
	if err := reg.Leave(ctx, id, b1); err != nil {
		t.Fatal(err)
	}
	if err := reg.Relay(ctx, id, a2, sig); !errors.Is(err, room.ErrPeerOffline) {
		t.Fatalf("relay to absent peer: %v", err)
	}
	b2 := &fakeConn{}
	res, err = reg.Join(ctx, id, "B", "", b2)
	if err != nil || !res.Rejoin || !res.PeerOnline {
		t.Fatalf("B rejoin = %+v, %v", res, err)
	}
	if got := a2.events(); !equal(got, []string{"left:B", "rejoined:B"}) {
		t.Fatalf("a2 events %v", got)
	}
	if info, _ := reg.Get(ctx, id); info.Connected != 2 {
		t.Fatalf("Connected = %d", info.Connected)
	}
	// Both offline: the peer key is still reported on the next join.
	_ = reg.Leave(ctx, id, a2)
	_ = reg.Leave(ctx, id, b2)
	res, err = reg.Join(ctx, id, "A", "", &fakeConn{})
	if err != nil || res.Peer != "B" || res.PeerOnline {
		t.Fatalf("join with offline peer = %+v, %v", res, err)
	}
}

func TestDestroy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg, clk := newReg(t, room.Config{})
	id := mustCreate(t, reg, 0).ID
	a, b := &fakeConn{}, &fakeConn{}
	if _, err := reg.Join(ctx, id, "A", "", a); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Join(ctx, id, "B", "", b); err != nil {
		t.Fatal(err)
	}
	if err := reg.Destroy(ctx, id, &fakeConn{}); !errors.Is(err, room.ErrNotMember) {
		t.Fatalf("destroy by stranger: %v", err)
	}
	if err := reg.Destroy(ctx, id, b); err != nil {
		t.Fatal(err)
	}
	if a.closed != protocol.CodeRoomDestroyed || b.closed != protocol.CodeRoomDestroyed {
		t.Fatalf("closed codes %q %q", a.closed, b.closed)
	}
	if _, err := reg.Get(ctx, id); !errors.Is(err, room.ErrDestroyed) {
		t.Fatalf("Get after destroy: %v", err)
	}
	if _, err := reg.Join(ctx, id, "A", "", &fakeConn{}); !errors.Is(err, room.ErrDestroyed) {
		t.Fatalf("Join after destroy: %v", err)
	}
	if reg.Len() != 0 {
		t.Fatalf("Len = %d", reg.Len())
	}
	// The tombstone is kept for an hour, then forgotten.
	clk.Advance(59 * time.Minute)
	if _, err := reg.Get(ctx, id); !errors.Is(err, room.ErrDestroyed) {
		t.Fatalf("Get after 59m: %v", err)
	}
	clk.Advance(time.Minute)
	if _, err := reg.Get(ctx, id); !errors.Is(err, room.ErrNotFound) {
		t.Fatalf("Get after tombstone TTL: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	const idle = 10 * time.Minute
	tests := []struct {
		name    string
		sd      time.Duration
		join    bool // someone joins and stays
		leaveAt time.Duration
		advance time.Duration
		want    error
	}{
		{name: "never joined, before idle TTL", advance: idle - time.Second, want: nil},
		{name: "never joined, idle TTL", advance: idle, want: room.ErrNotFound},
		{name: "in use outlives idle TTL", join: true, advance: 3 * idle, want: nil},
		{name: "idle TTL counts from the last leave", join: true, leaveAt: idle, advance: idle + idle - time.Second, want: nil},
		{name: "idle after last leave expires", join: true, leaveAt: idle, advance: 2 * idle, want: room.ErrNotFound},
		{name: "self-destruct in use", sd: time.Minute, join: true, advance: time.Minute, want: room.ErrExpired},
		{name: "self-destruct not yet", sd: time.Minute, join: true, advance: time.Minute - time.Millisecond, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			reg, clk := newReg(t, room.Config{IdleTTL: idle})
			id := mustCreate(t, reg, tc.sd).ID
			a := &fakeConn{}
			if tc.join {
				if _, err := reg.Join(ctx, id, "A", "", a); err != nil {
					t.Fatal(err)
				}
			}
			spent := time.Duration(0)
			if tc.leaveAt > 0 {
				clk.Advance(tc.leaveAt)
				spent = tc.leaveAt
				if err := reg.Leave(ctx, id, a); err != nil {
					t.Fatal(err)
				}
			}
			clk.Advance(tc.advance - spent)
			if tc.want == room.ErrExpired && a.closed != protocol.CodeTimerExpired {
				t.Errorf("participant closed with %q, want TIMER_EXPIRED", a.closed)
			}
			_, err := reg.Get(ctx, id)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Get: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDeadlinesWithoutTimers(t *testing.T) {
	t.Parallel()
	// Answers must honour deadlines even when a timer has not run yet.
	ctx := context.Background()
	clk := roomtest.NewClock(t0)
	reg := room.NewRegistry(frozenTimers{clk}, room.Config{IdleTTL: time.Hour})
	t.Cleanup(func() { _ = reg.Close() })
	sd := mustCreate(t, reg, time.Second)
	idle := mustCreate(t, reg, 0)
	a := &fakeConn{}
	if _, err := reg.Join(ctx, sd.ID, "A", "", a); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if _, err := reg.Get(ctx, sd.ID); !errors.Is(err, room.ErrExpired) {
		t.Fatalf("Get self-destructed: %v", err)
	}
	if a.closed != protocol.CodeTimerExpired {
		t.Fatalf("participant closed with %q", a.closed)
	}
	clk.Advance(time.Hour)
	if _, err := reg.Join(ctx, idle.ID, "A", "", &fakeConn{}); !errors.Is(err, room.ErrNotFound) {
		t.Fatalf("Join idle-expired: %v", err)
	}
}

// frozenTimers wraps a Clock so that no timer ever fires.
type frozenTimers struct{ *roomtest.Clock }

type nopTimer struct{}

func (nopTimer) Stop() bool { return true }

func (frozenTimers) AfterFunc(time.Duration, func()) room.Timer { return nopTimer{} }

func TestMaxRooms(t *testing.T) {
	t.Parallel()
	reg, _ := newReg(t, room.Config{MaxRooms: 3})
	for range 3 {
		mustCreate(t, reg, 0)
	}
	if _, err := reg.Create(context.Background(), 0, ""); !errors.Is(err, room.ErrTooManyRooms) {
		t.Fatalf("4th room: %v, want ErrTooManyRooms", err)
	}
	if got := room.Code(room.ErrTooManyRooms); got != protocol.CodeServerBusy {
		t.Fatalf("Code = %s", got)
	}
}

func TestCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{room.ErrNotFound, protocol.CodeRoomNotFound},
		{room.ErrFull, protocol.CodeRoomFull},
		{room.ErrDestroyed, protocol.CodeRoomDestroyed},
		{room.ErrExpired, protocol.CodeTimerExpired},
		{room.ErrTooManyRooms, protocol.CodeServerBusy},
		{room.ErrUnauthorized, protocol.CodeUnauthorized},
		{errors.New("boom"), protocol.CodeInternal},
	}
	for _, tc := range tests {
		if got := room.Code(tc.err); got != tc.want {
			t.Errorf("Code(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	counts := make(map[byte]int)
	const n = 5000
	for range n {
		id, err := room.NewID(nil, protocol.RoomIDLength)
		if err != nil {
			t.Fatal(err)
		}
		if !protocol.ValidRoomID(id) {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		for i := 0; i < len(id); i++ {
			counts[id[i]]++
		}
	}
	// 105,000 symbols over 64 letters: each near 1640. A biased generator
	// (e.g. modulo over a non-power-of-two) would stand out; allow ±20%.
	if len(counts) != len(protocol.RoomIDAlphabet) {
		t.Fatalf("saw %d distinct symbols, want %d", len(counts), len(protocol.RoomIDAlphabet))
	}
	want := float64(n*protocol.RoomIDLength) / float64(len(protocol.RoomIDAlphabet))
	for c, k := range counts {
		if f := float64(k); f < want*0.8 || f > want*1.2 {
			t.Errorf("symbol %q seen %d times, want about %.0f", c, k, want)
		}
	}
	// Deterministic source: 6 bits per symbol.
	id, err := room.NewID(bytes.NewReader([]byte{0xFF, 0x00, 0x41, 0x80}), 4)
	a := protocol.RoomIDAlphabet
	if want := string([]byte{a[63], a[0], a[1], a[0]}); err != nil || id != want {
		t.Fatalf("NewID = %q, %v; want %q", id, err, want)
	}
	if _, err := room.NewID(bytes.NewReader(nil), 4); err == nil {
		t.Fatal("NewID on an empty reader succeeded")
	}
}
