// Package peertest is the test kit of package peer: two real pion
// peer.Conns on 127.0.0.1, wired through an in-test signaling relay,
// verified with a shared room secret, optionally through a lossy UDP
// proxy. Tests of app/call, app/transfer and app/session build their
// connections here instead of each keeping a copy of the wiring.
//
// Layout: peertest imports peer and uses only its exported API, so it
// cannot be imported by peer's own internal tests (package peer) without
// an import cycle. The tests of package peer that need a connected pair
// therefore live in the external test package peer_test and reach the
// few internals they assert on through app/peer/export_test.go (the Go
// convention for test-only access: it is compiled into peer's test binary
// only). Unit tests of unexported functions stay in package peer.
package peertest

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/signaling/protocol"
)

// Room is the room id both sides of a pair use unless an option changes it.
const Room = "useandom26T198340PX75"

// verifyWait bounds how long New waits for both sides to verify.
const verifyWait = 30 * time.Second

// Secret returns a 16-byte room secret filled with b.
func Secret(b byte) []byte {
	s := make([]byte, 16)
	for i := range s {
		s[i] = b
	}
	return s
}

// Key returns a fresh Ed25519 identity key.
func Key(t testing.TB) ed25519.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// Pair is two peer.Conns wired to each other: A is impolite, B polite
// (unless Configure swaps them).
type Pair struct {
	A, B *peer.Conn
	// Config is what A (0) and B (1) were created with.
	Config [2]peer.Config
	// Proxy is the lossy UDP proxy between them, with WithLoss.
	Proxy *LossyProxy
}

type options struct {
	loss          float64
	udpBuffer     int
	logger        *slog.Logger
	collision     bool
	verifyTimeout time.Duration
	onTrack       [2]func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
	configure     []func(side int, c *peer.Config)
}

// Option changes how a pair is built.
type Option func(*options)

// WithLoss puts a UDP proxy between the two that drops each packet with
// probability p, both ways (netem without a network namespace).
func WithLoss(p float64) Option { return func(o *options) { o.loss = p } }

// WithUDPBuffer gives both sides their own UDP sockets with n-byte kernel
// buffers (peer.Config.UDPBufferBytes).
func WithUDPBuffer(n int) Option { return func(o *options) { o.udpBuffer = n } }

// WithLogger sets both sides' logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithCollision holds every signal until both sides made their offer, so
// the offers collide and perfect negotiation must resolve it.
func WithCollision() Option { return func(o *options) { o.collision = true } }

// WithVerifyTimeout sets peer.Config.VerifyTimeout on both sides.
func WithVerifyTimeout(d time.Duration) Option {
	return func(o *options) { o.verifyTimeout = d }
}

// WithOnTrack sets peer.Config.OnTrack of A and B (either may be nil).
func WithOnTrack(a, b func(*webrtc.TrackRemote, *webrtc.RTPReceiver)) Option {
	return func(o *options) { o.onTrack = [2]func(*webrtc.TrackRemote, *webrtc.RTPReceiver){a, b} }
}

// Configure changes side's config (0 is A, 1 is B) after the defaults and
// the other options: a wrong secret, swapped keys, swapped roles.
func Configure(fn func(side int, c *peer.Config)) Option {
	return func(o *options) { o.configure = append(o.configure, fn) }
}

// New builds a pair and waits until both sides verified; it fails the test
// otherwise. Both Conns, the relays and the proxy are closed in cleanup.
func New(t testing.TB, opts ...Option) *Pair {
	t.Helper()
	p := Start(t, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), verifyWait)
	defer cancel()
	for _, c := range []*peer.Conn{p.A, p.B} {
		if _, err := c.Stream(ctx, peer.ChannelChat); err != nil {
			t.Fatalf("peertest: verification: %v", err)
		}
	}
	return p
}

// Start builds a pair and returns at once, before verification (for tests
// of verification itself: use Stream to get each side's verdict).
func Start(t testing.TB, opts ...Option) *Pair {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	logger := o.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Pair{}
	if o.loss > 0 {
		p.Proxy = NewLossyProxy(t, o.loss)
	}
	ka, kb := Key(t), Key(t)
	toB, toA := NewRelay(t), NewRelay(t)
	for i, out := range []*Relay{toB, toA} {
		local, remote := ka, kb
		if i == 1 {
			local, remote = kb, ka
		}
		cfg := peer.Config{
			Polite:         i == 1,
			RoomID:         Room,
			Secret:         Secret(7),
			LocalKey:       local,
			PeerKey:        remote,
			SendSignal:     out.Send,
			Logger:         logger,
			LoopbackOnly:   true,
			UDPBufferBytes: o.udpBuffer,
			VerifyTimeout:  o.verifyTimeout,
			OnTrack:        o.onTrack[i],
		}
		if p.Proxy != nil {
			cfg.SendSignal = p.Proxy.Rewrite(out.Send)
		}
		for _, fn := range o.configure {
			fn(i, &cfg)
		}
		p.Config[i] = cfg
	}
	if !o.collision {
		toB.Open()
		toA.Open()
	}
	var err error
	if p.A, err = peer.New(p.Config[0]); err != nil {
		t.Fatalf("peertest: New A: %v", err)
	}
	t.Cleanup(func() { _ = p.A.Close() })
	if p.B, err = peer.New(p.Config[1]); err != nil {
		t.Fatalf("peertest: New B: %v", err)
	}
	t.Cleanup(func() { _ = p.B.Close() })
	toB.Connect(p.B)
	toA.Connect(p.A)
	if o.collision {
		// Both offers are out (each side set its local description)
		// before either side sees the other's.
		for _, r := range []*Relay{toB, toA} {
			select {
			case <-r.SawOffer():
			case <-time.After(10 * time.Second):
				t.Fatal("peertest: no offer within 10s")
			}
		}
		toB.Open()
		toA.Open()
	}
	return p
}

// Streams returns the stream id of both sides (A's first); they must be
// verified.
func (p *Pair) Streams(t testing.TB, id peer.ChannelID) (io.ReadWriteCloser, io.ReadWriteCloser) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), verifyWait)
	defer cancel()
	var s [2]io.ReadWriteCloser
	var errs [2]error
	var wg sync.WaitGroup
	for i, c := range []*peer.Conn{p.A, p.B} {
		wg.Add(1)
		go func() { defer wg.Done(); s[i], errs[i] = c.Stream(ctx, id) }()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("peertest: Stream(%s): A: %v, B: %v", id, errs[0], errs[1])
	}
	return s[0], s[1]
}

// Endpoint takes signals: a *peer.Conn or a test's own bare pion peer.
type Endpoint interface {
	HandleSignal(protocol.Signal) error
}

// Relay is an in-test signaling server for one direction: it queues
// signals, and forwards them in order to its endpoint once Connect and
// Open were called.
type Relay struct {
	ch        chan protocol.Signal
	target    chan Endpoint
	release   chan struct{}
	stop      chan struct{}
	offer     chan struct{}
	offerOnce sync.Once
	wg        sync.WaitGroup
}

// NewRelay starts a relay; it stops in cleanup.
func NewRelay(t testing.TB) *Relay {
	t.Helper()
	r := &Relay{
		ch:      make(chan protocol.Signal, 4096),
		target:  make(chan Endpoint, 1),
		release: make(chan struct{}),
		stop:    make(chan struct{}),
		offer:   make(chan struct{}),
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		var dst Endpoint
		select {
		case dst = <-r.target:
		case <-r.stop:
			return
		}
		select {
		case <-r.release:
		case <-r.stop:
			return
		}
		for {
			select {
			case s := <-r.ch:
				_ = dst.HandleSignal(s)
			case <-r.stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(r.stop)
		r.wg.Wait()
	})
	return r
}

// Send queues s; it is a peer.Config.SendSignal.
func (r *Relay) Send(s protocol.Signal) error {
	if s.Description != nil && s.Description.Type == "offer" {
		r.offerOnce.Do(func() { close(r.offer) })
	}
	select {
	case r.ch <- s:
	case <-r.stop:
	}
	return nil
}

// SawOffer is closed once an offer was sent through the relay.
func (r *Relay) SawOffer() <-chan struct{} { return r.offer }

// Connect sets where signals go; call it once.
func (r *Relay) Connect(dst Endpoint) { r.target <- dst }

// Open lets signals flow; call it once.
func (r *Relay) Open() { close(r.release) }

// Eventually polls cond every 5 ms until it holds, or fails the test
// after d, naming what it waited for: the way to wait on a condition
// instead of sleeping before an assertion.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s", d, what)
		case <-tick.C:
		}
	}
}
