//go:build linux

package peer_test

import (
	"testing"

	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/app/peer/peertest"
)

// A PeerConnection with its own sockets sends bulk data in GSO batches:
// the mux really uses fastUDPConn. Not parallel, so the process-wide
// count is this test's alone.
func TestPeerConnectionBatchesBulkData(t *testing.T) {
	p := startPair(t, peertest.WithUDPBuffer(4<<20))
	fa, fb := p.Streams(t, peer.ChannelFiles)
	before := peer.BatchedTotal()
	exchange(t, fa, fb, 8<<20)
	if n := peer.BatchedTotal() - before; n == 0 {
		t.Fatal("8 MiB went through the files channel without a single GSO batch")
	} else {
		t.Logf("%d datagrams (both ways) went out in GSO batches", n)
	}
}
