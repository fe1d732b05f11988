package transfer

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"testing"

	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/app/peer/peertest"
)

// benchTransfer sends a file of size bytes b.N times from a to b.
func benchTransfer(b *testing.B, ra, rb io.ReadWriteCloser, size int) {
	path, _ := writeFile(b, b.TempDir(), "bench.bin", size, 1)
	dir := b.TempDir()
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	recv := NewConn(rb, Config{DownloadDir: dir, AutoAcceptMax: 1 << 40, OnReceived: func(_ Offer, p string) { _ = os.Remove(p) }})
	send := NewConn(ra, Config{})
	for _, c := range []*Conn{send, recv} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Run(ctx) }()
	}
	b.Cleanup(func() { cancel(); wg.Wait() })
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		if _, err := send.Send(ctx, path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransferPipe measures the protocol alone (hashing on both
// sides, disk writes, fsync) over net.Pipe.
func BenchmarkTransferPipe(b *testing.B) {
	ra, rb := net.Pipe()
	benchTransfer(b, ra, rb, 64<<20)
}

// BenchmarkTransferPion measures a transfer through the files channel of
// two verified in-process pion peers on 127.0.0.1.
func BenchmarkTransferPion(b *testing.B) {
	fa, fb := pionPair(b)
	benchTransfer(b, fa, fb, 128<<20)
}

// pionPair connects two peer.Conns on loopback, each with its own UDP
// sockets with 4 MiB buffers, and returns their file streams once both
// verified.
func pionPair(b *testing.B) (io.ReadWriteCloser, io.ReadWriteCloser) {
	b.Helper()
	return peertest.New(b, peertest.WithUDPBuffer(4<<20)).Streams(b, peer.ChannelFiles)
}
