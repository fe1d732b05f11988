//go:build linux

package peer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// fastPair opens a fastUDPConn sender and a receiver on 127.0.0.1; with
// fastReceiver the receiver is a fastUDPConn too (GRO reads).
func fastPair(t *testing.T, fastReceiver bool) (*fastUDPConn, net.PacketConn, netip.AddrPort) {
	t.Helper()
	open := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		setSocketBuffers(c, 4<<20)
		return c
	}
	sc := newFastUDPConn(open())
	s, ok := sc.(*fastUDPConn)
	if !ok {
		t.Fatalf("this kernel has no UDP GSO (got %T); the fast path is not being tested", sc)
	}
	rc := open()
	to := rc.LocalAddr().(*net.UDPAddr).AddrPort()
	var r net.PacketConn = rc
	if fastReceiver {
		r = newFastUDPConn(rc)
		if r.(*fastUDPConn).rbuf == nil {
			t.Fatal("UDP_GRO was refused on this kernel")
		}
	}
	t.Cleanup(func() { _ = s.Close(); _ = r.Close() })
	return s, r, to
}

// datagram i: its index, then filler; sizes follow the pattern pion
// produces (full packets, a short one ending a message, tiny acks).
func datagram(i int) []byte {
	size := 1200
	switch {
	case i%57 == 56:
		size = 300
	case i%97 == 0:
		size = 28
	}
	b := bytes.Repeat([]byte{byte(i)}, size)
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

// sendAndCheck writes count datagrams at full speed, at most window ahead
// of the reader (so the receive buffer cannot overflow: UDP would drop),
// and checks each one arrives whole, in order, from the sender.
func sendAndCheck(t *testing.T, s *fastUDPConn, r net.PacketConn, to netip.AddrPort, count int) {
	t.Helper()
	const window = 512
	read := make(chan int, count)
	werr := make(chan error, 1)
	go func() {
		acked := 0
		for i := range count {
			for i-acked >= window {
				acked = <-read
			}
			if _, err := s.WriteToAddrPort(datagram(i), to); err != nil {
				werr <- fmt.Errorf("write %d: %w", i, err)
				return
			}
		}
		werr <- nil
	}()
	_ = r.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 8192)
	for i := range count {
		n, from, err := r.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read datagram %d of %d: %v", i, count, err)
		}
		if got := from.(*net.UDPAddr).AddrPort(); got != s.LocalAddr().(*net.UDPAddr).AddrPort() {
			t.Fatalf("datagram %d from %v, want %v", i, got, s.LocalAddr())
		}
		if want := datagram(i); !bytes.Equal(buf[:n], want) {
			t.Fatalf("datagram %d: got %d bytes (index %d), want %d bytes", i, n, binary.BigEndian.Uint32(buf), len(want))
		}
		read <- i + 1
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
}

// Batched sends arrive as the same datagrams, in order, at a plain socket
// (the kernel segments) and at a GRO socket (fastUDPConn splits).
func TestFastUDPConnKeepsDatagrams(t *testing.T) {
	for _, fast := range []bool{false, true} {
		name := map[bool]string{false: "plain receiver", true: "GRO receiver"}[fast]
		t.Run(name, func(t *testing.T) {
			s, r, to := fastPair(t, fast)
			sendAndCheck(t, s, r, to, 20000)
			if s.batched.Load() == 0 {
				t.Fatal("no datagram went out in a GSO batch")
			}
			t.Logf("%d of 20000 datagrams went out in GSO batches", s.batched.Load())
		})
	}
}

// With GSO refused (as on a device without checksum offload) the same
// bytes go out one datagram at a time.
func TestFastUDPConnWithoutGSO(t *testing.T) {
	s, r, to := fastPair(t, true)
	s.gso.Store(false)
	sendAndCheck(t, s, r, to, 3000)
	if n := s.batched.Load(); n != 0 {
		t.Fatalf("%d datagrams went out in GSO batches with GSO off", n)
	}
}

// A batch is cut where the address changes, so each peer gets only its
// own datagrams; the buffers kept for reuse stay bounded.
func TestFastUDPConnTwoAddresses(t *testing.T) {
	s, r1, to1 := fastPair(t, true)
	_, r2, to2 := fastPair(t, true)
	const count = 2000
	for i := range count {
		to := to1
		if i%3 == 0 {
			to = to2
		}
		if _, err := s.WriteToAddrPort(datagram(i), to); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 8192)
	for _, c := range []struct {
		r     net.PacketConn
		first int
	}{{r1, 1}, {r2, 0}} {
		_ = c.r.SetReadDeadline(time.Now().Add(5 * time.Second))
		for i := c.first; i < count; i++ {
			if (i%3 == 0) != (c.first == 0) {
				continue
			}
			n, _, err := c.r.ReadFrom(buf)
			if err != nil {
				t.Fatalf("read %d: %v", i, err)
			}
			if !bytes.Equal(buf[:n], datagram(i)) {
				t.Fatalf("got datagram %d, want %d", binary.BigEndian.Uint32(buf), i)
			}
		}
	}
	s.mu.Lock()
	kept := len(s.free)
	s.mu.Unlock()
	if kept > freeMaxBatches {
		t.Fatalf("%d batch buffers kept for reuse, want at most %d", kept, freeMaxBatches)
	}
}

// Close stops the flusher, also while a writer waits for queue space, and
// later writes fail instead of vanishing.
func TestFastUDPConnClose(t *testing.T) {
	s, _, to := fastPair(t, false)
	// A full queue with nothing pending: the flusher has nothing to send,
	// so the writer below waits for room until Close.
	s.mu.Lock()
	s.queued = queueMaxBytes
	s.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := s.WriteToAddrPort(datagram(1), to)
		done <- err
	}()
	waitUntil(t, "the writer to wait for queue space", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.waiting == 1
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked write ended with %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a writer stayed blocked after Close")
	}
	select {
	case <-s.done:
	default:
		t.Fatal("the flusher is still running after Close")
	}
	if _, err := s.WriteToAddrPort(datagram(1), to); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v, want net.ErrClosed", err)
	}
	if err := s.Close(); err == nil {
		t.Fatal("second Close: want the socket's already-closed error")
	}
}

// The mux keeps only addresses it can bind: one failed bind (an IPv6
// address still in duplicate address detection, as in a fresh network
// namespace) would otherwise fail the whole PeerConnection.
func TestCanBind(t *testing.T) {
	for _, c := range []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", true},
		{"192.0.2.1", false}, // TEST-NET-1: not ours
		{"fe80::1", false},   // link-local needs a zone
	} {
		if got := canBind(net.ParseIP(c.ip)); got != c.want {
			t.Errorf("canBind(%s) = %v, want %v", c.ip, got, c.want)
		}
	}
}
