//go:build linux

package peer

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/pion/transport/v5"
	"golang.org/x/sys/unix"
)

// Batched UDP for the ICE mux sockets (Linux). pion sends every SCTP
// packet (at most 1,200 bytes) with its own sendto, and the kernel walks
// its whole UDP path once per packet on both sides: on a fast transfer
// that was a quarter of each process's CPU. fastUDPConn queues writes and
// a flusher goroutine sends what queued while it was busy as one UDP GSO
// send (UDP_SEGMENT: one syscall and one trip through the stack for up to
// 64 equal datagrams; the peer still receives ordinary datagrams).
// Reads use UDP GRO, so a burst arrives in one recvmsg and is handed to
// the mux one datagram at a time. When idle a write goes out at once: the
// flusher is woken by it, so batching adds no delay to chat or media.
const (
	gsoMaxSegments = 64    // UDP_MAX_SEGMENTS on older kernels
	gsoMaxBytes    = 65000 // below the 65,507-byte UDP payload limit
	queueMaxBytes  = 1 << 20
	// queueMaxBatches bounds the queue when datagrams cannot be batched
	// (changing sizes or addresses), and freeMaxBatches the buffers kept
	// for reuse, so memory stays bounded whatever the traffic.
	queueMaxBatches = 1024
	freeMaxBatches  = 64
	groBufferBytes  = 65536
)

// batchedTotal counts datagrams sent in GSO batches by every fastUDPConn
// of the process (tests).
var batchedTotal atomic.Int64

// fastUDPConn is a *net.UDPConn whose writes are batched with GSO and
// whose reads are split from GRO. The ICE mux uses it through
// ReadFromAddrPort and WriteToAddrPort (ice.AddrPortReaderWriter).
type fastUDPConn struct {
	*net.UDPConn
	gso atomic.Bool // cleared if the kernel or device refuses UDP_SEGMENT
	// batched counts datagrams that went out in a GSO send (tests).
	batched atomic.Int64

	mu      sync.Mutex
	drained *sync.Cond // queued fell below queueMaxBytes, or closed
	pending []*udpBatch
	spare   []*udpBatch
	free    []*udpBatch
	queued  int
	waiting int  // writers blocked on drained (tests)
	idle    bool // the flusher waits on wake
	closed  bool
	wake    chan struct{}
	done    chan struct{}

	rmu  sync.Mutex // one reader (the mux); the lock only keeps it safe
	rbuf []byte
	oob  []byte
	roff int
	rend int
	rseg int
	from netip.AddrPort
}

// udpBatch is datagrams for one address: equal-sized ones back to back
// (a GSO send), where only the last may be shorter.
type udpBatch struct {
	buf  []byte
	seg  int
	n    int
	addr netip.AddrPort
}

// newFastUDPConn wraps conn when the kernel has UDP GSO; otherwise it
// returns conn itself.
func newFastUDPConn(conn *net.UDPConn) transport.UDPConn {
	raw, err := conn.SyscallConn()
	if err != nil {
		return conn
	}
	gsoOK, groOK := false, false
	_ = raw.Control(func(fd uintptr) {
		_, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		gsoOK = err == nil
		groOK = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
	})
	if !gsoOK {
		return conn
	}
	c := &fastUDPConn{UDPConn: conn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.gso.Store(true)
	c.drained = sync.NewCond(&c.mu)
	if groOK {
		c.rbuf = make([]byte, groBufferBytes)
		c.oob = make([]byte, unix.CmsgSpace(4))
	}
	go c.flush()
	return c
}

// setSocketBuffers asks for size-byte kernel buffers, first past
// net.core.rmem_max/wmem_max (allowed with CAP_NET_ADMIN), then within
// them. It returns the receive buffer the kernel granted.
func setSocketBuffers(conn *net.UDPConn, size int) int {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0
	}
	got := 0
	_ = raw.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
		}
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, size)
		}
		got, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	return got
}

// WriteToAddrPort queues b for addr and returns at once; it blocks only
// while more than queueMaxBytes wait to be sent.
func (c *fastUDPConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if len(b) > gsoMaxBytes {
		return c.UDPConn.WriteToUDPAddrPort(b, addr)
	}
	c.mu.Lock()
	for (c.queued >= queueMaxBytes || len(c.pending) >= queueMaxBatches) && !c.closed {
		c.waiting++
		c.drained.Wait()
		c.waiting--
	}
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	var last *udpBatch
	if k := len(c.pending); k > 0 {
		last = c.pending[k-1]
	}
	if last != nil && last.addr == addr && len(last.buf) == last.n*last.seg && len(b) <= last.seg &&
		last.n < gsoMaxSegments && len(last.buf)+len(b) <= gsoMaxBytes && c.gso.Load() {
		last.buf = append(last.buf, b...)
		last.n++
	} else {
		nb := c.batch()
		nb.buf = append(nb.buf[:0], b...)
		nb.seg, nb.n, nb.addr = len(b), 1, addr
		c.pending = append(c.pending, nb)
	}
	c.queued += len(b)
	wake := c.idle
	c.idle = false
	c.mu.Unlock()
	if wake {
		c.wake <- struct{}{}
	}
	return len(b), nil
}

// WriteTo implements net.PacketConn.
func (c *fastUDPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: addr, Err: syscall.EINVAL}
	}
	return c.WriteToAddrPort(b, ua.AddrPort())
}

// batch returns an empty batch from the free list (c.mu held).
func (c *fastUDPConn) batch() *udpBatch {
	if k := len(c.free); k > 0 {
		b := c.free[k-1]
		c.free = c.free[:k-1]
		return b
	}
	return &udpBatch{buf: make([]byte, 0, 2048)} // grows as datagrams join
}

// flush sends whatever queued while the previous round was being sent.
func (c *fastUDPConn) flush() {
	defer close(c.done)
	for {
		c.mu.Lock()
		for len(c.pending) == 0 {
			if c.closed {
				c.mu.Unlock()
				return
			}
			c.idle = true
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		round := c.pending
		c.pending = c.spare[:0]
		c.mu.Unlock()

		sent := 0
		if len(round) == 1 && round[0].n < 4 {
			// A lone datagram: let the writer run first, so the next
			// round is a batch. Measured on a 512 MiB loopback transfer:
			// about 1 s less system CPU on each side.
			runtime.Gosched()
		}
		for _, b := range round {
			c.send(b)
			sent += len(b.buf)
		}

		c.mu.Lock()
		c.queued -= sent
		if room := freeMaxBatches - len(c.free); room > 0 {
			c.free = append(c.free, round[:min(room, len(round))]...)
		}
		clear(round)
		c.spare = round[:0]
		c.drained.Broadcast()
		c.mu.Unlock()
	}
}

// send writes one batch. Errors are dropped as the network drops
// datagrams (SCTP and RTP recover), except a refused GSO, which turns
// GSO off and resends the datagrams one by one.
func (c *fastUDPConn) send(b *udpBatch) {
	if b.n > 1 && c.gso.Load() {
		var oob [unix.SizeofCmsghdr + 8]byte
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		h.Level, h.Type = unix.IPPROTO_UDP, unix.UDP_SEGMENT
		h.SetLen(unix.CmsgLen(2))
		binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], uint16(b.seg))
		_, _, err := c.UDPConn.WriteMsgUDPAddrPort(b.buf, oob[:unix.CmsgSpace(2)], b.addr)
		if err == nil || !gsoRefused(err) {
			c.batched.Add(int64(b.n))
			batchedTotal.Add(int64(b.n))
			return
		}
		c.gso.Store(false)
	}
	for off := 0; off < len(b.buf); off += b.seg {
		_, _ = c.UDPConn.WriteToUDPAddrPort(b.buf[off:min(off+b.seg, len(b.buf))], b.addr)
	}
}

// gsoRefused reports an error that means this socket or device cannot
// segment (EIO: no checksum offload; EINVAL: GSO unsupported here).
func gsoRefused(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP)
}

// ReadFromAddrPort returns one datagram, splitting a GRO read.
func (c *fastUDPConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	if c.rbuf == nil {
		return c.UDPConn.ReadFromUDPAddrPort(b)
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.roff >= c.rend {
		n, oobn, _, from, err := c.UDPConn.ReadMsgUDPAddrPort(c.rbuf, c.oob)
		if err != nil {
			return 0, from, err
		}
		c.roff, c.rend, c.rseg, c.from = 0, n, groSegment(c.oob[:oobn]), from
		if c.rseg <= 0 || c.rseg > n {
			c.rseg = n
		}
	}
	end := min(c.roff+c.rseg, c.rend)
	n := copy(b, c.rbuf[c.roff:end])
	c.roff = end
	return n, c.from, nil
}

// ReadFrom implements net.PacketConn.
func (c *fastUDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// groSegment returns the segment size of a GRO read, or 0.
func groSegment(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if m.Header.Level == unix.IPPROTO_UDP && m.Header.Type == unix.UDP_GRO && len(m.Data) >= 4 {
			return int(binary.NativeEndian.Uint32(m.Data))
		}
	}
	return 0
}

// flushOnCloseWait bounds how long Close keeps sending what was queued.
const flushOnCloseWait = 100 * time.Millisecond

// Close sends what is still queued (as a kernel socket would: a write
// that returned is on its way), for at most flushOnCloseWait, then stops
// the flusher and closes the socket. The last datagrams of a closing
// PeerConnection are its SCTP ABORT and DTLS close_notify: dropping them
// left the peer waiting for acknowledgements until its own timers ran
// out (2 s in its close drain).
func (c *fastUDPConn) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.drained.Broadcast()
	c.mu.Unlock()
	if !already {
		// A flusher stuck in a write gives up at the deadline.
		_ = c.UDPConn.SetWriteDeadline(time.Now().Add(flushOnCloseWait))
		select {
		case c.wake <- struct{}{}:
		default:
		}
		<-c.done
	}
	return c.UDPConn.Close()
}
