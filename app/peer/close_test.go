package peer_test

import (
	"io"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/peer"
)

// TestCloseWhileThePeerCloses: the peer reads our last message and both
// close at once; the peer's (delayed) SACK for it never goes out. Our
// Close must see that the association ended and return, not wait the
// whole drain for an acknowledgement that never comes (it did: transfers
// ended with one process sitting 2 s in its close drain).
func TestCloseWhileThePeerCloses(t *testing.T) {
	t.Parallel()
	p, ra, rb := verifiedPair(t)
	a, b := p.A, p.B
	if _, err := rb.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if _, err := io.ReadAtLeast(ra, buf, len("last words")); err != nil {
		t.Fatal(err)
	}
	// Both close at once, as two processes do once a transfer is
	// verified: b's last write is not acknowledged yet.
	start := time.Now()
	aDone := make(chan error, 1)
	go func() { aDone <- a.Close() }()
	_ = b.Close()
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	// Well under closeDrainWait (2 s); the ABORT crosses loopback in
	// microseconds.
	if took > peer.CloseDrainWait/2 {
		t.Fatalf("closing both took %v, want the drain to stop once the peer has closed", took)
	}
}
