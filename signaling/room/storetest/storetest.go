// Package storetest is the contract every room.Store must meet: the same
// cases run against the in-memory room.Registry and the Redis store. A
// factory returns two views of one set of rooms ("node A" and "node B");
// for a single-node store both are the same Store, for Redis they are two
// Stores on one Redis, so every case also covers participants on
// different nodes.
//
// Timing cases use real (short) durations, because a shared store's TTLs
// run on the backend's clock; waits poll with a deadline.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room"
)

// Factory returns two views (nodes) of one fresh, empty store configured
// with cfg. It registers its own cleanup.
type Factory func(t *testing.T, cfg room.Config) (a, b room.Store)

// IdleTTL is the idle expiry the timing cases configure.
const IdleTTL = 400 * time.Millisecond

// waitTimeout bounds every wait for an asynchronous delivery.
const waitTimeout = 5 * time.Second

// Conn is a room.Conn that records, in order, everything a store tells it:
// "joined", "peer:<event>:<key>", "signal:<session>", "close:<code>".
type Conn struct {
	Name string

	mu     sync.Mutex
	log    []string
	joined []room.JoinResult
}

var _ room.Conn = (*Conn)(nil)

// Joined implements room.Conn.
func (c *Conn) Joined(r room.JoinResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, "joined")
	c.joined = append(c.joined, r)
}

// Send implements room.Conn.
func (c *Conn) Send(m protocol.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m.Type {
	case protocol.TypePeer:
		c.log = append(c.log, "peer:"+m.Event+":"+m.PublicKey)
	case protocol.TypeSignal:
		s := ""
		if m.Signal != nil {
			s = m.Signal.Session
		}
		c.log = append(c.log, "signal:"+s)
	default:
		c.log = append(c.log, m.Type)
	}
}

// Close implements room.Conn.
func (c *Conn) Close(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, "close:"+code)
}

// Log returns what the connection has been told so far.
func (c *Conn) Log() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.log)
}

// WaitFor waits until the connection's log ends with want (after
// whatever came before), failing the test after a deadline.
func (c *Conn) WaitFor(t testing.TB, want ...string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got := c.Log()
		if len(got) >= len(want) && slices.Equal(got[len(got)-len(want):], want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: log %q, want it to end with %q", c.Name, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Quiet checks that nothing more arrives for a moment.
func (c *Conn) Quiet(t testing.TB, want ...string) {
	t.Helper()
	time.Sleep(100 * time.Millisecond)
	if got := c.Log(); !slices.Equal(got, want) {
		t.Fatalf("%s: log %q, want exactly %q", c.Name, got, want)
	}
}

func signal(session string) protocol.Message {
	return protocol.Message{Type: protocol.TypeSignal, Signal: &protocol.Signal{Session: session}}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// eventually polls f until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

func create(t *testing.T, s room.Store, sd time.Duration) room.Info {
	t.Helper()
	info, err := s.Create(ctx(t), sd, "")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return info
}

func join(t *testing.T, s room.Store, id, key string, c room.Conn) room.JoinResult {
	t.Helper()
	res, err := s.Join(ctx(t), id, key, "", c)
	if err != nil {
		t.Fatalf("Join %s: %v", key, err)
	}
	return res
}

// Run runs the contract against the store newStore makes.
func Run(t *testing.T, newStore Factory) {
	cfg := room.Config{IdleTTL: IdleTTL}
	cases := []struct {
		name string
		f    func(t *testing.T, a, b room.Store)
		cfg  room.Config
	}{
		{"CreateGet", testCreateGet, cfg},
		{"JoinFullRelay", testJoinFullRelay, cfg},
		{"Leave", testLeave, cfg},
		{"ReplaceAcrossNodes", testReplace, cfg},
		{"DestroyFromEither", testDestroy, cfg},
		{"SelfDestruct", testSelfDestruct, cfg},
		{"IdleExpiry", testIdleExpiry, cfg},
		{"MaxRooms", testMaxRooms, room.Config{IdleTTL: time.Hour, MaxRooms: 2}},
		{"Restore", testRestore, cfg},
		{"JoinedFirst", testJoinedFirst, cfg},
		{"Verifier", testVerifier, cfg},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := newStore(t, tc.cfg)
			tc.f(t, a, b)
		})
	}
}

func testCreateGet(t *testing.T, a, b room.Store) {
	for _, sd := range []time.Duration{0, 90 * time.Second} {
		info := create(t, a, sd)
		if !protocol.ValidRoomID(info.ID) {
			t.Fatalf("id %q has the wrong shape", info.ID)
		}
		if d := time.Since(info.CreatedAt); d < -time.Second || d > 5*time.Second {
			t.Errorf("CreatedAt %v is not now", info.CreatedAt)
		}
		if sd == 0 && !info.ExpiresAt.IsZero() {
			t.Errorf("ExpiresAt = %v, want zero", info.ExpiresAt)
		}
		if sd > 0 && info.ExpiresAt.Sub(info.CreatedAt) != sd {
			t.Errorf("ExpiresAt - CreatedAt = %v, want %v", info.ExpiresAt.Sub(info.CreatedAt), sd)
		}
		for _, s := range []room.Store{a, b} {
			got, err := s.Get(ctx(t), info.ID)
			if err != nil || !got.CreatedAt.Equal(info.CreatedAt) || !got.ExpiresAt.Equal(info.ExpiresAt) || got.ID != info.ID || got.Connected != 0 {
				t.Fatalf("Get = %+v, %v; want %+v", got, err, info)
			}
		}
	}
	_, err := b.Get(ctx(t), "AAAAAAAAAAAAAAAAAAAAA")
	wantErr(t, "Get unknown", err, room.ErrNotFound)
	if _, err := a.Create(ctx(t), -time.Second, ""); err == nil {
		t.Error("Create with a negative timer succeeded")
	}
	if n := a.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}
}

func testJoinFullRelay(t *testing.T, a, b room.Store) {
	id := create(t, a, 0).ID
	a1, b1 := &Conn{Name: "a1"}, &Conn{Name: "b1"}
	res := join(t, a, id, "A", a1)
	if res.Peer != "" || res.PeerOnline || res.Rejoin || res.Room.Connected != 1 || res.Room.ID != id {
		t.Fatalf("first join = %+v", res)
	}
	res = join(t, b, id, "B", b1)
	if res.Peer != "A" || !res.PeerOnline || res.Rejoin || res.Room.Connected != 2 {
		t.Fatalf("second join = %+v", res)
	}
	a1.WaitFor(t, "joined", "peer:joined:B")
	for i, s := range []room.Store{a, b} {
		_, err := s.Join(ctx(t), id, "C", "", &Conn{Name: "c"})
		wantErr(t, fmt.Sprintf("third key on node %d", i+1), err, room.ErrFull)
	}
	if info, err := b.Get(ctx(t), id); err != nil || info.Connected != 2 {
		t.Fatalf("Get = %+v, %v; want 2 connected", info, err)
	}
	if err := a.Relay(ctx(t), id, a1, signal("1")); err != nil {
		t.Fatalf("relay a→b: %v", err)
	}
	b1.WaitFor(t, "joined", "signal:1")
	if err := b.Relay(ctx(t), id, b1, signal("2")); err != nil {
		t.Fatalf("relay b→a: %v", err)
	}
	a1.WaitFor(t, "joined", "peer:joined:B", "signal:2")
	// Order is kept for a burst from one side.
	for i := range 20 {
		if err := a.Relay(ctx(t), id, a1, signal(fmt.Sprint(i))); err != nil {
			t.Fatalf("relay %d: %v", i, err)
		}
	}
	want := []string{"joined", "signal:1"}
	for i := range 20 {
		want = append(want, fmt.Sprintf("signal:%d", i))
	}
	b1.WaitFor(t, want...)
	err := a.Relay(ctx(t), id, &Conn{Name: "stranger"}, signal("x"))
	wantErr(t, "relay from a stranger", err, room.ErrNotMember)
	err = b.Relay(ctx(t), "AAAAAAAAAAAAAAAAAAAAA", b1, signal("x"))
	wantErr(t, "relay into an unknown room", err, room.ErrNotFound)
}

func testLeave(t *testing.T, a, b room.Store) {
	id := create(t, a, 0).ID
	a1, b1 := &Conn{Name: "a1"}, &Conn{Name: "b1"}
	join(t, a, id, "A", a1)
	err := a.Relay(ctx(t), id, a1, signal("x"))
	wantErr(t, "relay alone", err, room.ErrPeerOffline)
	join(t, b, id, "B", b1)
	if err := b.Leave(ctx(t), id, b1); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	a1.WaitFor(t, "joined", "peer:joined:B", "peer:left:B")
	err = a.Relay(ctx(t), id, a1, signal("x"))
	wantErr(t, "relay to a peer that left", err, room.ErrPeerOffline)
	if info, err := a.Get(ctx(t), id); err != nil || info.Connected != 1 {
		t.Fatalf("Get = %+v, %v; want 1 connected", info, err)
	}
	if err := b.Leave(ctx(t), id, b1); err != nil {
		t.Fatalf("second Leave: %v", err)
	}
	// B comes back: the same key is a rejoin, the peer hears "rejoined".
	b2 := &Conn{Name: "b2"}
	res := join(t, b, id, "B", b2)
	if !res.Rejoin || res.Peer != "A" || !res.PeerOnline {
		t.Fatalf("rejoin = %+v", res)
	}
	a1.WaitFor(t, "peer:left:B", "peer:rejoined:B")
	// A leaves; B, alone, sees A as known but offline.
	if err := a.Leave(ctx(t), id, a1); err != nil {
		t.Fatal(err)
	}
	b2.WaitFor(t, "joined", "peer:left:A")
	b.Leave(ctx(t), id, b2)
	b3 := &Conn{Name: "b3"}
	res = join(t, a, id, "B", b3)
	if !res.Rejoin || res.Peer != "A" || res.PeerOnline || res.Room.Connected != 1 {
		t.Fatalf("rejoin with the peer away = %+v", res)
	}
	b2.Quiet(t, "joined", "peer:left:A")
}

func testReplace(t *testing.T, a, b room.Store) {
	id := create(t, a, 0).ID
	a1, b1, a2 := &Conn{Name: "a1"}, &Conn{Name: "b1"}, &Conn{Name: "a2"}
	join(t, a, id, "A", a1)
	join(t, a, id, "B", b1)
	// A's key comes back on the other node: the old connection goes.
	res := join(t, b, id, "A", a2)
	if !res.Rejoin || res.Peer != "B" || !res.PeerOnline || res.Room.Connected != 2 {
		t.Fatalf("replacing join = %+v", res)
	}
	a1.WaitFor(t, "joined", "peer:joined:B", "close:"+protocol.CodeReplaced)
	b1.WaitFor(t, "joined", "peer:rejoined:A")
	err := a.Relay(ctx(t), id, a1, signal("x"))
	wantErr(t, "relay from the replaced conn", err, room.ErrNotMember)
	if err := a.Leave(ctx(t), id, a1); err != nil {
		t.Fatalf("Leave of the replaced conn: %v", err)
	}
	err = a.Destroy(ctx(t), id, a1)
	wantErr(t, "destroy by the replaced conn", err, room.ErrNotMember)
	if err := b.Relay(ctx(t), id, a2, signal("1")); err != nil {
		t.Fatalf("relay from the new conn: %v", err)
	}
	b1.WaitFor(t, "peer:rejoined:A", "signal:1")
	if err := a.Relay(ctx(t), id, b1, signal("2")); err != nil {
		t.Fatalf("relay to the new conn: %v", err)
	}
	a2.WaitFor(t, "joined", "signal:2")
	b1.Quiet(t, "joined", "peer:rejoined:A", "signal:1") // no "left" for the replaced conn
}

func testDestroy(t *testing.T, a, b room.Store) {
	for i, destroyer := range []string{"a", "b"} {
		id := create(t, a, 0).ID
		a1, b1 := &Conn{Name: "a1"}, &Conn{Name: "b1"}
		join(t, a, id, "A", a1)
		join(t, b, id, "B", b1)
		a1.WaitFor(t, "peer:joined:B")
		err := a.Destroy(ctx(t), id, &Conn{Name: "stranger"})
		wantErr(t, "destroy by a stranger", err, room.ErrNotMember)
		if destroyer == "a" {
			err = a.Destroy(ctx(t), id, a1)
		} else {
			err = b.Destroy(ctx(t), id, b1)
		}
		if err != nil {
			t.Fatalf("destroy %d: %v", i, err)
		}
		a1.WaitFor(t, "close:"+protocol.CodeRoomDestroyed)
		b1.WaitFor(t, "close:"+protocol.CodeRoomDestroyed)
		for _, s := range []room.Store{a, b} {
			_, err := s.Get(ctx(t), id)
			wantErr(t, "Get after destroy", err, room.ErrDestroyed)
			_, err = s.Join(ctx(t), id, "A", "", &Conn{})
			wantErr(t, "Join after destroy", err, room.ErrDestroyed)
			_, err = s.Restore(ctx(t), room.Info{ID: id, CreatedAt: time.Now()})
			wantErr(t, "Restore after destroy", err, room.ErrDestroyed)
		}
		err = b.Destroy(ctx(t), id, b1)
		wantErr(t, "destroy twice", err, room.ErrDestroyed)
		if err := a.Leave(ctx(t), id, a1); err != nil {
			t.Fatalf("Leave after destroy: %v", err)
		}
	}
}

func testSelfDestruct(t *testing.T, a, b room.Store) {
	sd := 300 * time.Millisecond
	id := create(t, a, sd).ID
	a1, b1 := &Conn{Name: "a1"}, &Conn{Name: "b1"}
	join(t, a, id, "A", a1)
	res := join(t, b, id, "B", b1)
	if res.Room.ExpiresAt.IsZero() {
		t.Fatalf("join result has no self-destruct time: %+v", res)
	}
	a1.WaitFor(t, "peer:joined:B", "close:"+protocol.CodeTimerExpired)
	b1.WaitFor(t, "joined", "close:"+protocol.CodeTimerExpired)
	for _, s := range []room.Store{a, b} {
		_, err := s.Get(ctx(t), id)
		wantErr(t, "Get after expiry", err, room.ErrExpired)
	}
	// A timer runs out even when nobody is connected.
	id2 := create(t, b, sd).ID
	eventually(t, "unvisited room expires", func() error {
		_, err := a.Get(ctx(t), id2)
		if errors.Is(err, room.ErrExpired) {
			return nil
		}
		return fmt.Errorf("get = %v, want ErrExpired", err)
	})
	_, err := b.Restore(ctx(t), room.Info{ID: "BBBBBBBBBBBBBBBBBBBBB", CreatedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().Add(-time.Second)})
	wantErr(t, "Restore past its timer", err, room.ErrExpired)
}

func testIdleExpiry(t *testing.T, a, b room.Store) {
	idle := create(t, a, 0).ID
	used := create(t, a, 0).ID
	a1 := &Conn{Name: "a1"}
	join(t, b, used, "A", a1)
	time.Sleep(IdleTTL + 200*time.Millisecond)
	_, err := b.Get(ctx(t), idle)
	wantErr(t, "Get of an idle room", err, room.ErrNotFound)
	if _, err := a.Get(ctx(t), used); err != nil {
		t.Fatalf("room in use expired: %v", err)
	}
	// The idle countdown starts when the last participant leaves.
	if err := b.Leave(ctx(t), used, a1); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx(t), used); err != nil {
		t.Fatalf("room expired right after the last leave: %v", err)
	}
	time.Sleep(IdleTTL + 200*time.Millisecond)
	_, err = a.Get(ctx(t), used)
	wantErr(t, "Get after idle since leave", err, room.ErrNotFound)
	_, err = b.Join(ctx(t), used, "A", "", &Conn{})
	wantErr(t, "Join after idle", err, room.ErrNotFound)
	if n := a.Len(); n != 0 {
		t.Errorf("Len = %d after expiry, want 0", n)
	}
}

func testMaxRooms(t *testing.T, a, b room.Store) {
	create(t, a, 0)
	create(t, b, 0)
	for _, s := range []room.Store{a, b} {
		_, err := s.Create(ctx(t), 0, "")
		wantErr(t, "Create beyond MaxRooms", err, room.ErrTooManyRooms)
		if n := s.Len(); n != 2 {
			t.Errorf("Len = %d, want 2", n)
		}
	}
	_, err := a.Restore(ctx(t), room.Info{ID: "CCCCCCCCCCCCCCCCCCCCC", CreatedAt: time.Now()})
	wantErr(t, "Restore beyond MaxRooms", err, room.ErrTooManyRooms)
}

func testRestore(t *testing.T, a, b room.Store) {
	created := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	expires := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	id := "DDDDDDDDDDDDDDDDDDDDD"
	info, err := a.Restore(ctx(t), room.Info{ID: id, CreatedAt: created, ExpiresAt: expires})
	if err != nil || info.ID != id || !info.CreatedAt.Equal(created) || !info.ExpiresAt.Equal(expires) {
		t.Fatalf("Restore = %+v, %v", info, err)
	}
	a1 := &Conn{Name: "a1"}
	join(t, b, id, "A", a1)
	// A live room comes back unchanged, whatever the ticket says.
	again, err := b.Restore(ctx(t), room.Info{ID: id, CreatedAt: time.Now()})
	if err != nil || !again.CreatedAt.Equal(created) || again.Connected != 1 {
		t.Fatalf("Restore of a live room = %+v, %v", again, err)
	}
	_, err = a.Restore(ctx(t), room.Info{ID: "short", CreatedAt: created})
	wantErr(t, "Restore with a bad id", err, room.ErrNotFound)
}

func testJoinedFirst(t *testing.T, a, b room.Store) {
	// Many rounds: the peer event must never overtake the joiner's own
	// "joined", nor a relay the peer sends right after hearing of it.
	for i := range 10 {
		id := create(t, a, 0).ID
		a1, b1 := &Conn{Name: "a1"}, &Conn{Name: "b1"}
		join(t, a, id, "A", a1)
		done := make(chan error, 1)
		go func() {
			// A answers as soon as it hears B.
			deadline := time.Now().Add(waitTimeout)
			for time.Now().Before(deadline) {
				if slices.Contains(a1.Log(), "peer:joined:B") {
					done <- a.Relay(context.Background(), id, a1, signal("hi"))
					return
				}
				time.Sleep(time.Millisecond)
			}
			done <- errors.New("a1 never heard of B")
		}()
		join(t, b, id, "B", b1)
		if err := <-done; err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		b1.WaitFor(t, "joined", "signal:hi")
	}
}

// Verifiers as the server's canonical encodings; the store only compares
// them.
const (
	verifierV = "VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVV"
	verifierW = "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW"
)

func testVerifier(t *testing.T, a, b room.Store) {
	info, err := a.Create(ctx(t), 0, verifierV)
	if err != nil || info.Verifier != verifierV {
		t.Fatalf("Create = %+v, %v; want verifier kept", info, err)
	}
	id := info.ID
	for _, s := range []room.Store{a, b} {
		if got, err := s.Get(ctx(t), id); err != nil || got.Verifier != verifierV {
			t.Fatalf("Get = %+v, %v; want the verifier", got, err)
		}
	}
	// A joiner that proved no verifier, or another one, is refused on
	// either node and takes no seat: two proven keys still fit.
	var strangers []*Conn
	for i, s := range []room.Store{a, b} {
		for _, v := range []string{"", verifierW} {
			c := &Conn{Name: "stranger"}
			strangers = append(strangers, c)
			_, err := s.Join(ctx(t), id, fmt.Sprintf("S%d%s", i, v), v, c)
			wantErr(t, fmt.Sprintf("join with verifier %q on node %d", v, i+1), err, room.ErrUnauthorized)
		}
	}
	time.Sleep(100 * time.Millisecond) // nothing may arrive late either
	for _, c := range strangers {
		if got := c.Log(); len(got) != 0 {
			t.Fatalf("a refused joiner was told %q", got)
		}
	}
	if got, err := b.Get(ctx(t), id); err != nil || got.Connected != 0 {
		t.Fatalf("Get after refused joins = %+v, %v; want nobody connected", got, err)
	}
	a1, b1 := &Conn{Name: "a1"}, &Conn{Name: "b1"}
	res, err := a.Join(ctx(t), id, "A", verifierV, a1)
	if err != nil || res.Room.Verifier != verifierV {
		t.Fatalf("Join with the verifier = %+v, %v", res, err)
	}
	if _, err := b.Join(ctx(t), id, "B", verifierV, b1); err != nil {
		t.Fatalf("second Join with the verifier: %v", err)
	}
	a1.WaitFor(t, "joined", "peer:joined:B")
	// Even a key that holds a seat gets back in only with the proof.
	_, err = b.Join(ctx(t), id, "A", "", &Conn{})
	wantErr(t, "rejoin of a member without the verifier", err, room.ErrUnauthorized)
	a1.Quiet(t, "joined", "peer:joined:B")

	// A room without a verifier admits anyone, proven or not (rooms of
	// older apps).
	open := create(t, b, 0)
	if open.Verifier != "" {
		t.Fatalf("Create without a verifier = %+v", open)
	}
	join(t, a, open.ID, "A", &Conn{})
	if _, err := b.Join(ctx(t), open.ID, "B", verifierW, &Conn{}); err != nil {
		t.Fatalf("proven join to a room without a verifier: %v", err)
	}

	// Restore keeps the verifier of the ticket.
	rid := "EEEEEEEEEEEEEEEEEEEEE"
	got, err := b.Restore(ctx(t), room.Info{ID: rid, CreatedAt: time.Now().Add(-time.Minute).Truncate(time.Millisecond), Verifier: verifierV})
	if err != nil || got.Verifier != verifierV {
		t.Fatalf("Restore = %+v, %v; want the verifier", got, err)
	}
	_, err = a.Join(ctx(t), rid, "S", "", &Conn{})
	wantErr(t, "join of a restored room without the verifier", err, room.ErrUnauthorized)
	if res, err := a.Join(ctx(t), rid, "A", verifierV, &Conn{}); err != nil || res.Room.Verifier != verifierV {
		t.Fatalf("join of a restored room = %+v, %v", res, err)
	}
	// A live room comes back unchanged: a ticket cannot swap its verifier.
	again, err := a.Restore(ctx(t), room.Info{ID: rid, CreatedAt: time.Now(), Verifier: verifierW})
	if err != nil || again.Verifier != verifierV {
		t.Fatalf("Restore of a live room = %+v, %v; want its own verifier", again, err)
	}
}
