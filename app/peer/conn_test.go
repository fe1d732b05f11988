package peer_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/app/peer/peertest"
	"github.com/parley-chat/parley/signaling/protocol"
)

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	good := peer.Config{RoomID: peertest.Room, Secret: peertest.Secret(1), LocalKey: peertest.Key(t), PeerKey: peertest.Key(t),
		SendSignal: func(protocol.Signal) error { return nil }}
	tests := []struct {
		name   string
		mutate func(*peer.Config)
	}{
		{"short secret", func(c *peer.Config) { c.Secret = c.Secret[:15] }},
		{"no peer key", func(c *peer.Config) { c.PeerKey = nil }},
		{"no room", func(c *peer.Config) { c.RoomID = "" }},
		{"no sender", func(c *peer.Config) { c.SendSignal = nil }},
	}
	for _, tt := range tests {
		cfg := good
		tt.mutate(&cfg)
		if c, err := peer.New(cfg); err == nil {
			_ = c.Close()
			t.Errorf("%s: New accepted it", tt.name)
		}
	}
}

func TestHandleSignalValidatesAndCloses(t *testing.T) {
	t.Parallel()
	c, err := peer.New(peer.Config{RoomID: peertest.Room, Secret: peertest.Secret(1), LocalKey: peertest.Key(t), PeerKey: peertest.Key(t),
		SendSignal: func(protocol.Signal) error { return nil }, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		s    protocol.Signal
		ok   bool
	}{
		{"empty", protocol.Signal{}, false},
		{"both", protocol.Signal{Description: &protocol.SessionDescription{Type: "offer"}, Candidate: &protocol.ICECandidate{}}, false},
		{"rollback", protocol.Signal{Description: &protocol.SessionDescription{Type: "rollback"}}, false},
		{"app", protocol.Signal{App: []byte(`"bye"`)}, true},
		{"garbage offer is queued, then fails quietly", protocol.Signal{Description: &protocol.SessionDescription{Type: "offer", SDP: "junk"}}, true},
	}
	for _, tt := range tests {
		if err := c.HandleSignal(tt.s); tt.ok != (err == nil) {
			t.Errorf("%s: err=%v", tt.name, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.HandleSignal(protocol.Signal{Candidate: &protocol.ICECandidate{}}); !errors.Is(err, peer.ErrClosed) {
		t.Fatalf("HandleSignal after Close: %v", err)
	}
	for _, id := range []peer.ChannelID{peer.ChannelChat, peer.ChannelFiles, peer.ChannelCall} {
		if _, err := c.Stream(context.Background(), id); !errors.Is(err, peer.ErrClosed) {
			t.Fatalf("Stream(%s) after Close: %v", id, err)
		}
	}
	var last peer.State
	for s := range c.States() { // closed by Close
		last = s
	}
	if last != peer.StateClosed {
		t.Fatalf("last state %q, want closed", last)
	}
}

func TestConnectVerifyAndStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []peertest.Option
	}{
		{"default sockets", nil},
		{"own UDP mux with big buffers", []peertest.Option{peertest.WithUDPBuffer(1 << 20)}},
		{"offer collision", []peertest.Option{peertest.WithCollision()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, ra, rb := verifiedPair(t, tt.opts...)
			for _, c := range []*peer.Conn{p.A, p.B} {
				if r := c.Route(); r != peer.RouteDirect {
					t.Errorf("Route() = %q, want direct", r)
				}
			}
			exchange(t, ra, rb, 300<<10)
			exchange(t, rb, ra, 100)
		})
	}
}

// TestStream: every stream channel works both ways once verified, and
// repeated calls (also concurrent ones) hand out the same stream; the
// negotiate channel and unknown ids are refused.
func TestStream(t *testing.T) {
	t.Parallel()
	p, _, _ := verifiedPair(t)
	for _, id := range []peer.ChannelID{peer.ChannelChat, peer.ChannelFiles, peer.ChannelCall} {
		t.Run(id.String(), func(t *testing.T) {
			got := make(chan io.ReadWriteCloser, 2)
			for range 2 {
				go func() {
					s, err := p.A.Stream(waitCtx(t, 10*time.Second), id)
					if err != nil {
						t.Error(err)
					}
					got <- s
				}()
			}
			sa1, sa2 := <-got, <-got
			if sa1 == nil || sa1 != sa2 {
				t.Fatalf("two Stream(%s) calls gave different streams", id)
			}
			sb, err := p.B.Stream(waitCtx(t, 10*time.Second), id)
			if err != nil {
				t.Fatal(err)
			}
			exchange(t, sa1, sb, 100<<10)
			exchange(t, sb, sa1, 10)
		})
	}
	for _, id := range []peer.ChannelID{peer.ChannelNegotiate, 1, 8} {
		if s, err := p.A.Stream(waitCtx(t, time.Second), id); err == nil || s != nil {
			t.Errorf("Stream(%s) = %v, %v; want it refused", id, s, err)
		}
	}
}

// TestStreamWaitsForTheVerdict: Stream blocks while verification is
// pending (ctx ends the wait) and then returns the verdict.
func TestStreamWaitsForTheVerdict(t *testing.T) {
	t.Parallel()
	sa, _ := keyedSide(t)
	c, _ := connectRaw(t, sa, 300*time.Millisecond) // the raw peer never sends a tag
	for _, id := range []peer.ChannelID{peer.ChannelFiles, peer.ChannelCall} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Stream(ctx, id); !errors.Is(err, context.Canceled) {
			t.Fatalf("Stream(%s) before verification = %v, want to wait (context canceled)", id, err)
		}
	}
	for _, id := range []peer.ChannelID{peer.ChannelChat, peer.ChannelFiles, peer.ChannelCall} {
		if _, err := c.Stream(waitCtx(t, 10*time.Second), id); !errors.Is(err, peer.ErrVerifyFailed) {
			t.Fatalf("Stream(%s) = %v, want ErrVerifyFailed", id, err)
		}
	}
	// The verdict outlives Close: a caller cut short still learns it.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stream(context.Background(), peer.ChannelChat); !errors.Is(err, peer.ErrVerifyFailed) {
		t.Fatalf("Stream after Close = %v, want the verdict ErrVerifyFailed", err)
	}
}

func TestSimultaneousStartLoop(t *testing.T) {
	t.Parallel()
	for i := 0; i < 10; i++ {
		var opts []peertest.Option
		// Alternate which side is polite and whether both offers collide.
		if i%2 == 1 {
			opts = append(opts, peertest.Configure(func(side int, c *peer.Config) { c.Polite = side == 0 }))
		}
		if i%3 != 2 {
			opts = append(opts, peertest.WithCollision())
		}
		p, ra, rb := verifiedPair(t, opts...)
		exchange(t, ra, rb, 10)
		exchange(t, rb, ra, 10)
		if err := p.A.Close(); err != nil {
			t.Fatal(err)
		}
		if err := p.B.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCollisionRebuildsPoliteSide(t *testing.T) {
	t.Parallel()
	p, _, _ := verifiedPair(t, peertest.WithCollision()) // B is polite
	if ga, gb := p.A.Generation(), p.B.Generation(); ga != 1 || gb != 2 {
		t.Fatalf("generations a=%d b=%d, want impolite 1 and polite 2 after the collision", ga, gb)
	}
}

func expectVerifyFailed(t *testing.T, cs ...*peer.Conn) {
	t.Helper()
	ctx := waitCtx(t, 20*time.Second)
	for i, c := range cs {
		s, err := c.Stream(ctx, peer.ChannelChat)
		if !errors.Is(err, peer.ErrVerifyFailed) {
			t.Errorf("side %d: Stream = %v, want ErrVerifyFailed", i, err)
		}
		if s != nil {
			t.Errorf("side %d: got a stream despite failed verification", i)
		}
	}
}

func TestVerificationFailures(t *testing.T) {
	t.Parallel()
	other := peertest.Key(t)
	tests := []struct {
		name   string
		mutate func(side int, c *peer.Config)
		fail   []int // sides (0=a, 1=b) that must fail with ErrVerifyFailed
	}{
		{"wrong secret on one side", func(side int, c *peer.Config) {
			if side == 1 {
				c.Secret = peertest.Secret(8)
			}
		}, []int{0, 1}},
		{"swapped peer keys", func(_ int, c *peer.Config) { c.PeerKey = c.LocalKey }, []int{0, 1}},
		{"one side expects another key", func(side int, c *peer.Config) {
			if side == 0 {
				c.PeerKey = other
			}
		}, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := startPair(t, peertest.Configure(tt.mutate))
			cs := []*peer.Conn{p.A, p.B}
			var must []*peer.Conn
			for _, i := range tt.fail {
				must = append(must, cs[i])
			}
			expectVerifyFailed(t, must...)
			if len(tt.fail) == 1 {
				// The other side may have verified the honest tag, but the
				// failing side closed the connection: no data can flow.
				other := cs[1-tt.fail[0]]
				s, err := other.Stream(waitCtx(t, 20*time.Second), peer.ChannelChat)
				if err == nil {
					buf := make([]byte, 1)
					if _, rerr := s.Read(buf); rerr == nil {
						t.Fatal("read data from a peer that failed verification")
					}
				}
			}
		})
	}
}
