package peer

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// filesStreams calls FilesStream on both sides at once, as the session
// does, and returns what each got.
func filesStreams(t *testing.T, a, b *Conn) (io.ReadWriteCloser, io.ReadWriteCloser) {
	t.Helper()
	ctx := waitCtx(t, 30*time.Second)
	var fa, fb io.ReadWriteCloser
	var ea, eb error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); fa, ea = a.FilesStream(ctx) }()
	go func() { defer wg.Done(); fb, eb = b.FilesStream(ctx) }()
	wg.Wait()
	if ea != nil || eb != nil {
		t.Fatalf("FilesStream: a=%v b=%v", ea, eb)
	}
	return fa, fb
}

// pumpBoth moves n random bytes each way at once and checks them.
func pumpBoth(t *testing.T, fa, fb io.ReadWriter, n int) {
	t.Helper()
	errs := make(chan error, 2)
	for _, p := range [][2]io.ReadWriter{{fa, fb}, {fb, fa}} {
		go func() { errs <- pump(p[0], p[1], n) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestFilesStreamUsesLaneOnThisHost checks that two Conns on loopback get
// a files lane with the biggest packets, that it carries data both ways
// intact, and that closing the Conn closes the lane.
func TestFilesStreamUsesLaneOnThisHost(t *testing.T) {
	t.Parallel()
	sa, sb := keyedPair(t)
	a, b := newPair(t, sa, sb, pairOpts{})
	verifyBoth(t, a, b)
	fa, fb := filesStreams(t, a, b)
	for i, f := range []io.ReadWriteCloser{fa, fb} {
		l, ok := f.(*laneStream)
		if !ok {
			t.Fatalf("side %d: FilesStream = %T, want a lane", i, f)
		}
		if l.MTU() != laneMaxMTU {
			t.Fatalf("side %d: lane MTU %d, want %d", i, l.MTU(), laneMaxMTU)
		}
	}
	pumpBoth(t, fa, fb, 16<<20)

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-fa.(*laneStream).closed:
	default:
		t.Fatal("Conn.Close left its lane open")
	}
	if _, err := fa.Write([]byte("x")); err == nil {
		t.Fatal("Write on a closed lane succeeded")
	}
}

// TestFilesStreamFallsBack checks that both sides use the files channel
// when one side offers no lane or offers a certificate fingerprint that
// does not match (a lane someone else answers must not be used).
func TestFilesStreamFallsBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hook func(*laneOffer)
	}{
		{"refused", func(o *laneOffer) { *o = laneOffer{} }},
		{"wrong fingerprint", func(o *laneOffer) { o.Fingerprint[0] ^= 1 }},
		{"bad port", func(o *laneOffer) { o.Port = 70000 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sa, sb := keyedPair(t)
			a, b := newPair(t, sa, sb, pairOpts{})
			a.laneOfferHook = tt.hook
			verifyBoth(t, a, b)
			fa, fb := filesStreams(t, a, b)
			for i, f := range []io.ReadWriteCloser{fa, fb} {
				if _, ok := f.(*laneStream); ok {
					t.Fatalf("side %d got a lane", i)
				}
			}
			pumpBoth(t, fa, fb, 1<<20)
		})
	}
}

func TestLaneMTU(t *testing.T) {
	lo := net.ParseIP("127.0.0.1")
	if got := laneMTU(lo, lo); got != laneMaxMTU {
		t.Fatalf("loopback: %d, want %d", got, laneMaxMTU)
	}
	// A documentation address is neither ours nor on any link here.
	if got := laneMTU(lo, net.ParseIP("192.0.2.7")); got != 0 {
		t.Fatalf("unknown path: %d, want 0", got)
	}
	if got := laneMTU(nil, lo); got != 0 {
		t.Fatalf("no address: %d, want 0", got)
	}
	// Any address of this host, reached from itself, is this host.
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLinkLocalUnicast() {
			if got := laneMTU(ipn.IP, ipn.IP); got != laneMaxMTU {
				t.Fatalf("own address %s: %d, want %d", ipn.IP, got, laneMaxMTU)
			}
		}
	}
}

// TestReadQueue checks the lane socket's queue: datagrams from the peer
// arrive in order, others are dropped, nothing beyond the limit is kept,
// and deadlines and Close end a blocked read.
func TestReadQueue(t *testing.T) {
	t.Parallel()
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	sock, peer, stranger := listen(), listen(), listen()
	q := newReadQueue(sock, peer.LocalAddr().(*net.UDPAddr).AddrPort(), 3*100)
	t.Cleanup(func() { _ = q.Close() })
	to := sock.LocalAddr()

	if _, err := stranger.WriteTo(make([]byte, 100), to); err != nil {
		t.Fatal(err)
	}
	for i := range 5 { // only 3 fit while nobody reads
		b := make([]byte, 100)
		b[0] = byte(i)
		if _, err := peer.WriteTo(b, to); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the reader take all six
	buf := make([]byte, 200)
	for i := range 3 {
		_ = q.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := q.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if n != 100 || buf[0] != byte(i) {
			t.Fatalf("read %d: %d bytes starting %d, want 100 starting %d", i, n, buf[0], i)
		}
		if from.String() != peer.LocalAddr().String() {
			t.Fatalf("read %d from %s", i, from)
		}
	}
	_ = q.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, _, err := q.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the queue = %v, want a deadline error", err)
	}

	_ = q.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, _, err := q.ReadFrom(buf); done <- err }()
	time.Sleep(50 * time.Millisecond)
	_ = q.SetReadDeadline(time.Now()) // wakes the blocked read
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read woken by a deadline = %v", err)
	}
	_ = q.SetReadDeadline(time.Time{})
	go func() { _, _, err := q.ReadFrom(buf); done <- err }()
	time.Sleep(50 * time.Millisecond)
	_ = q.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("read after Close returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a blocked read")
	}
}
