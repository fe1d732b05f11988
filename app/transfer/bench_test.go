package transfer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/signaling/protocol"
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

// pionPair connects two peer.Conns on loopback and returns their file
// streams once both verified.
func pionPair(b *testing.B) (io.ReadWriteCloser, io.ReadWriteCloser) {
	b.Helper()
	ka, _, _ := ed25519.GenerateKey(nil)
	kb, _, _ := ed25519.GenerateKey(nil)
	secret := bytes.Repeat([]byte{3}, 16)
	toA, toB := make(chan protocol.Signal, 1024), make(chan protocol.Signal, 1024)
	mk := func(local, remote ed25519.PublicKey, polite bool, out chan protocol.Signal) *peer.Conn {
		c, err := peer.New(peer.Config{
			Polite: polite, RoomID: "benchroom", Secret: secret, LocalKey: local, PeerKey: remote,
			SendSignal:   func(s protocol.Signal) error { out <- s; return nil },
			LoopbackOnly: true, UDPBufferBytes: 4 << 20,
		})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	a := mk(ka, kb, false, toB)
	c := mk(kb, ka, true, toA)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, r := range []struct {
		in  chan protocol.Signal
		dst *peer.Conn
	}{{toA, a}, {toB, c}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case s := <-r.in:
					_ = r.dst.HandleSignal(s)
				case <-stop:
					return
				}
			}
		}()
	}
	b.Cleanup(func() {
		_ = a.Close()
		_ = c.Close()
		close(stop)
		wg.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, p := range []*peer.Conn{a, c} {
		if _, err := p.WaitVerified(ctx); err != nil {
			b.Fatal(err)
		}
	}
	fa, err := a.FileStream()
	if err != nil {
		b.Fatal(err)
	}
	fc, err := c.FileStream()
	if err != nil {
		b.Fatal(err)
	}
	return fa, fc
}
