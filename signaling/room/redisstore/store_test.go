package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/signaling/internal/redistest"
	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/room/redisstore"
	"github.com/parley-chat/parley/signaling/room/storetest"
)

func TestMain(m *testing.M) {
	// After a failed dial (TestRedisDown kills Redis) go-redis retries in
	// a goroutine that notices the closed client only after its 1 s sleep.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}

// liveness is short so node-death cases are fast.
const liveness = 300 * time.Millisecond

var prefixes atomic.Int64

// env is one Redis shared by the stores of one test, under a fresh prefix.
type env struct {
	srv    *redistest.Server
	prefix string
	down   atomic.Bool // Redis was killed on purpose: Close may fail
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{srv: redistest.Start(t), prefix: fmt.Sprintf("t%d:", prefixes.Add(1))}
}

func (e *env) client(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: e.srv.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// node starts one Store (a "parley-signal node") with its own client.
func (e *env) node(t *testing.T, cfg room.Config) *redisstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	s, err := redisstore.New(ctx, e.client(t), cfg, redisstore.WithPrefix(e.prefix), redisstore.WithLivenessTTL(liveness))
	if err != nil {
		t.Fatalf("redisstore.New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !e.down.Load() {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, cfg room.Config) (room.Store, room.Store) {
		e := newEnv(t)
		return e.node(t, cfg), e.node(t, cfg)
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNodeDeath(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.node(t, room.Config{IdleTTL: 400 * time.Millisecond}), e.node(t, room.Config{IdleTTL: 400 * time.Millisecond})
	info, err := a.Create(ctxT(t), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	a1, b1 := &storetest.Conn{Name: "a1"}, &storetest.Conn{Name: "b1"}
	if _, err := a.Join(ctxT(t), info.ID, "A", "", a1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join(ctxT(t), info.ID, "B", "", b1); err != nil {
		t.Fatal(err)
	}
	a1.WaitFor(t, "joined", "peer:joined:B")

	start := time.Now()
	a.Crash()
	// Within the liveness TTL A still counts as online...
	if got, err := b.Get(ctxT(t), info.ID); err != nil || got.Connected != 2 {
		t.Fatalf("Get right after the crash = %+v, %v; want 2 connected", got, err)
	}
	// ...then B's peer hears A left, and relays say offline.
	b1.WaitFor(t, "joined", "peer:left:A")
	if d := time.Since(start); d < liveness/2 {
		t.Errorf("peer left after %v, before the liveness TTL %v", d, liveness)
	}
	err = b.Relay(ctxT(t), info.ID, b1, protocol.Message{Type: protocol.TypeSignal, Signal: &protocol.Signal{Session: "1"}})
	if !errors.Is(err, room.ErrPeerOffline) {
		t.Fatalf("relay to the dead node's member: %v, want ErrPeerOffline", err)
	}
	got, err := b.Get(ctxT(t), info.ID)
	if err != nil || got.Connected != 1 {
		t.Fatalf("Get = %+v, %v; want 1 connected", got, err)
	}
	// A's participant comes back through B: a rejoin, no replace to send.
	a2 := &storetest.Conn{Name: "a2"}
	res, err := b.Join(ctxT(t), info.ID, "A", "", a2)
	if err != nil || !res.Rejoin || !res.PeerOnline {
		t.Fatalf("rejoin on B = %+v, %v", res, err)
	}
	b1.WaitFor(t, "peer:left:A", "peer:rejoined:A")
	a1.Quiet(t, "joined", "peer:joined:B") // the dead node delivered nothing
}

func TestNodeDeathIdle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := room.Config{IdleTTL: 300 * time.Millisecond}
	a, b := e.node(t, cfg), e.node(t, cfg)
	info, err := a.Create(ctxT(t), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Join(ctxT(t), info.ID, "A", "", &storetest.Conn{}); err != nil {
		t.Fatal(err)
	}
	a.Crash()
	// Once the dead node is reaped the room is idle and expires.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := b.Get(ctxT(t), info.ID)
		if errors.Is(err, room.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("room of a dead node never expired: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := b.Len(); n != 0 {
		t.Errorf("Len = %d, want 0", n)
	}
}

func TestCloseMarksOffline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.node(t, room.Config{}), e.node(t, room.Config{})
	info, err := a.Create(ctxT(t), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	b1 := &storetest.Conn{Name: "b1"}
	if _, err := a.Join(ctxT(t), info.ID, "A", "", &storetest.Conn{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join(ctxT(t), info.ID, "B", "", b1); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b1.WaitFor(t, "joined", "peer:left:A") // at once, not after the liveness TTL
	if got, err := b.Get(ctxT(t), info.ID); err != nil || got.Connected != 1 {
		t.Fatalf("Get = %+v, %v; want 1 connected", got, err)
	}
}

func TestSharedKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.node(t, room.Config{}), e.node(t, room.Config{})
	ka, err := a.SharedKey(ctxT(t), "ticket", 32)
	if err != nil || len(ka) != 32 {
		t.Fatalf("SharedKey = %x, %v", ka, err)
	}
	kb, err := b.SharedKey(ctxT(t), "ticket", 32)
	if err != nil || !bytes.Equal(ka, kb) {
		t.Fatalf("second node's key differs: %x, %v", kb, err)
	}
	if other, _ := a.SharedKey(ctxT(t), "other", 32); bytes.Equal(other, ka) {
		t.Fatal("two names share a key")
	}
	if _, err := a.SharedKey(ctxT(t), "ticket", 16); err == nil || !strings.Contains(err.Error(), "want 16") {
		t.Fatalf("SharedKey with another size: %v, want a size error", err)
	}
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.node(t, room.Config{})
	e.down.Store(true)
	e.srv.Kill()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err := a.Create(ctx, 0, "")
	if err == nil || room.Code(err) != protocol.CodeInternal {
		t.Fatalf("Create with Redis gone: %v, want an internal error", err)
	}
}

// TestDeliveryBeforeJoined: a relay that reaches the joiner's node before
// the joiner's Joined call (the seat is taken, Joined not yet called)
// waits, so the joiner still hears "joined" first.
func TestDeliveryBeforeJoined(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.node(t, room.Config{}), e.node(t, room.Config{})
	// B's Joined call waits until the relay below sits in B's pending
	// queue: the delivery reached B's node before Joined.
	b.SetBeforeJoined(func() {
		for deadline := time.Now().Add(5 * time.Second); b.Pending() == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond) // polling a condition with a deadline
		}
	})
	info, err := a.Create(ctxT(t), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	a1, b1 := &storetest.Conn{Name: "a1"}, &storetest.Conn{Name: "b1"}
	if _, err := a.Join(ctxT(t), info.ID, "A", "", a1); err != nil {
		t.Fatal(err)
	}
	relayed := make(chan struct{})
	go func() {
		defer close(relayed)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			// Offline until B's seat is taken; then it goes to B's node.
			err := a.Relay(context.Background(), info.ID, a1, protocol.Message{Type: protocol.TypeSignal, Signal: &protocol.Signal{Session: "early"}})
			if err == nil {
				return
			}
			time.Sleep(time.Millisecond) // polling for the seat, with a deadline
		}
	}()
	if _, err := b.Join(ctxT(t), info.ID, "B", "", b1); err != nil {
		t.Fatal(err)
	}
	<-relayed
	b1.WaitFor(t, "joined", "signal:early")
}
