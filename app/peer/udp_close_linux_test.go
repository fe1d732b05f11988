//go:build linux

package peer

import (
	"bytes"
	"testing"
	"time"
)

// Close sends what was queued: a write that returned is on its way, as on
// a kernel socket. The last datagrams of a closing PeerConnection (its
// SCTP ABORT and DTLS close_notify) used to be dropped here, and the peer
// then sat 2 s in its close drain waiting for acknowledgements.
func TestFastUDPConnCloseSendsWhatWasQueued(t *testing.T) {
	s, r, to := fastPair(t, false)
	const n = 300
	for i := range n {
		if _, err := s.WriteToAddrPort(datagram(i), to); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 8192)
	for i := range n {
		k, _, err := r.ReadFrom(buf)
		if err != nil {
			t.Fatalf("got %d of the %d datagrams written before Close: %v", i, n, err)
		}
		if !bytes.Equal(buf[:k], datagram(i)) {
			t.Fatalf("datagram %d changed", i)
		}
	}
}
