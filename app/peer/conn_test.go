package peer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
)

func TestComputeTagKnownAnswer(t *testing.T) {
	t.Parallel()
	// Computed independently with Python's hmac module from the spec.
	secret := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	key, sfp, rfp := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	got, err := computeTag(secret, testRoom, key, sfp, rfp)
	if err != nil {
		t.Fatal(err)
	}
	const want = "cbac7ee974acd137db29fa63e21fb5137ba214b4b6916b7b3cfc9ac46a6bebd6"
	if hex.EncodeToString(got) != want {
		t.Fatalf("tag %x, want %s", got, want)
	}

	// Every input is bound: changing any one changes the tag.
	other := bytes.Repeat([]byte{9}, 32)
	variants := []struct {
		name string
		tag  func() ([]byte, error)
	}{
		{"secret", func() ([]byte, error) { return computeTag(testSecret(1), testRoom, key, sfp, rfp) }},
		{"room", func() ([]byte, error) { return computeTag(secret, "otherroom", key, sfp, rfp) }},
		{"sender key", func() ([]byte, error) { return computeTag(secret, testRoom, other, sfp, rfp) }},
		{"sender fp", func() ([]byte, error) { return computeTag(secret, testRoom, key, other, rfp) }},
		{"receiver fp", func() ([]byte, error) { return computeTag(secret, testRoom, key, sfp, other) }},
		{"swapped fps", func() ([]byte, error) { return computeTag(secret, testRoom, key, rfp, sfp) }},
	}
	for _, v := range variants {
		tag, err := v.tag()
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if bytes.Equal(tag, got) {
			t.Errorf("%s: tag unchanged", v.name)
		}
	}
	if _, err := computeTag(secret, testRoom, key[:31], sfp, rfp); err == nil {
		t.Error("short key accepted")
	}
}

func TestCheckTagFrame(t *testing.T) {
	t.Parallel()
	want := bytes.Repeat([]byte{5}, 32)
	tests := []struct {
		name  string
		frame []byte
		ok    bool
	}{
		{"good", tagFrame(want), true},
		{"wrong tag", tagFrame(bytes.Repeat([]byte{6}, 32)), false},
		{"wrong version", append([]byte{2}, want...), false},
		{"short", tagFrame(want)[:32], false},
		{"long", append(tagFrame(want), 0), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		err := checkTagFrame(tt.frame, want)
		if tt.ok != (err == nil) {
			t.Errorf("%s: err=%v", tt.name, err)
		}
		if err != nil && !errors.Is(err, ErrVerifyFailed) {
			t.Errorf("%s: error does not wrap ErrVerifyFailed: %v", tt.name, err)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	good := Config{RoomID: testRoom, Secret: testSecret(1), LocalKey: newKey(t), PeerKey: newKey(t),
		SendSignal: func(protocol.Signal) error { return nil }}
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"short secret", func(c *Config) { c.Secret = c.Secret[:15] }},
		{"no peer key", func(c *Config) { c.PeerKey = nil }},
		{"no room", func(c *Config) { c.RoomID = "" }},
		{"no sender", func(c *Config) { c.SendSignal = nil }},
	}
	for _, tt := range tests {
		cfg := good
		tt.mutate(&cfg)
		if c, err := New(cfg); err == nil {
			_ = c.Close()
			t.Errorf("%s: New accepted it", tt.name)
		}
	}
}

func TestHandleSignalValidatesAndCloses(t *testing.T) {
	t.Parallel()
	c, err := New(Config{RoomID: testRoom, Secret: testSecret(1), LocalKey: newKey(t), PeerKey: newKey(t),
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
	if err := c.HandleSignal(protocol.Signal{Candidate: &protocol.ICECandidate{}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("HandleSignal after Close: %v", err)
	}
	if _, err := c.WaitVerified(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitVerified after Close: %v", err)
	}
	var last State
	for s := range c.States() { // closed by Close
		last = s
	}
	if last != StateClosed {
		t.Fatalf("last state %q, want closed", last)
	}
}

// verifyBoth waits for both sides and returns their streams.
func verifyBoth(t *testing.T, a, b *Conn) (io.ReadWriteCloser, io.ReadWriteCloser) {
	t.Helper()
	ctx := waitCtx(t, 20*time.Second)
	var sa, sb io.ReadWriteCloser
	var ea, eb error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); sa, ea = a.WaitVerified(ctx) }()
	go func() { defer wg.Done(); sb, eb = b.WaitVerified(ctx) }()
	wg.Wait()
	if ea != nil || eb != nil {
		t.Fatalf("WaitVerified: a=%v b=%v", ea, eb)
	}
	return sa, sb
}

func TestConnectVerifyAndStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		udpBuffer int
		hold      bool
	}{
		{"default sockets", 0, false},
		{"own UDP mux with big buffers", 1 << 20, false},
		{"offer collision", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sa, sb := keyedPair(t)
			sa.udpBuffer, sb.udpBuffer = tt.udpBuffer, tt.udpBuffer
			a, b := newPair(t, sa, sb, pairOpts{hold: tt.hold})
			ra, rb := verifyBoth(t, a, b)
			for _, c := range []*Conn{a, b} {
				if r := c.Route(); r != RouteDirect {
					t.Errorf("Route() = %q, want direct", r)
				}
			}
			exchange(t, ra, rb, 300<<10)
			exchange(t, rb, ra, 100)
		})
	}
}

// exchange writes n random bytes on w in one Write and checks r reads them
// intact, using a small read buffer to exercise partial reads.
func exchange(t *testing.T, w io.Writer, r io.Reader, n int) {
	t.Helper()
	data := make([]byte, n)
	_, _ = rand.Read(data)
	errc := make(chan error, 1)
	go func() {
		_, err := w.Write(data)
		errc <- err
	}()
	got := make([]byte, 0, n)
	buf := make([]byte, 1000)
	deadline := time.Now().Add(15 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		k, err := r.Read(buf)
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:k]...)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("stream corrupted: got %d bytes, want %d", len(got), n)
	}
}

func TestSimultaneousStartLoop(t *testing.T) {
	t.Parallel()
	for i := 0; i < 10; i++ {
		sa, sb := keyedPair(t)
		// Alternate which side is polite and whether both offers collide.
		if i%2 == 1 {
			sa.polite, sb.polite = true, false
		}
		a, b := newPair(t, sa, sb, pairOpts{hold: i%3 != 2})
		ra, rb := verifyBoth(t, a, b)
		exchange(t, ra, rb, 10)
		exchange(t, rb, ra, 10)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCollisionRebuildsPoliteSide(t *testing.T) {
	t.Parallel()
	sa, sb := keyedPair(t) // b is polite
	a, b := newPair(t, sa, sb, pairOpts{hold: true})
	verifyBoth(t, a, b)
	a.mu.Lock()
	ga := a.gen
	a.mu.Unlock()
	b.mu.Lock()
	gb := b.gen
	b.mu.Unlock()
	if ga != 1 || gb != 2 {
		t.Fatalf("generations a=%d b=%d, want impolite 1 and polite 2 after the collision", ga, gb)
	}
}

func expectVerifyFailed(t *testing.T, cs ...*Conn) {
	t.Helper()
	ctx := waitCtx(t, 20*time.Second)
	for i, c := range cs {
		s, err := c.WaitVerified(ctx)
		if !errors.Is(err, ErrVerifyFailed) {
			t.Errorf("side %d: WaitVerified = %v, want ErrVerifyFailed", i, err)
		}
		if s != nil {
			t.Errorf("side %d: got a stream despite failed verification", i)
		}
	}
}

func TestVerificationFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(a, b *side)
		fail   []int // sides (0=a, 1=b) that must fail with ErrVerifyFailed
	}{
		{"wrong secret on one side", func(_, b *side) { b.secret = testSecret(8) }, []int{0, 1}},
		{"swapped peer keys", func(a, b *side) { a.peerKey, b.peerKey = a.key, b.key }, []int{0, 1}},
		{"one side expects another key", func(a, _ *side) { a.peerKey = newKey(t) }, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sa, sb := keyedPair(t)
			tt.mutate(&sa, &sb)
			a, b := newPair(t, sa, sb, pairOpts{})
			cs := []*Conn{a, b}
			var must []*Conn
			for _, i := range tt.fail {
				must = append(must, cs[i])
			}
			expectVerifyFailed(t, must...)
			if len(tt.fail) == 1 {
				// The other side may have verified the honest tag, but the
				// failing side closed the connection: no data can flow.
				other := cs[1-tt.fail[0]]
				s, err := other.WaitVerified(waitCtx(t, 20*time.Second))
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
