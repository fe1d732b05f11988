package peer

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v5"
)

// readQueue is the lane's UDP socket as seen by DTLS: a packet conn to
// one remote address. A goroutine drains the socket into a queue of up to
// limit bytes that ReadFrom serves in order, and drops datagrams from any
// other address. DTLS and SCTP decode in bursts, and while they do
// nothing reads the socket: a kernel buffer (or pion's ICE agent buffer,
// 1 MB) overflowed on a fast lane, and each drop halved SCTP's congestion
// window. The queue holds a whole SCTP window, so data the receiver
// advertised room for is not dropped here.
type readQueue struct {
	transport.UDPConn
	remote  netip.AddrPort
	limit   int64
	queued  atomic.Int64
	packets chan []byte
	pool    sync.Pool

	done   chan struct{} // closed when the reader stops
	errMu  sync.Mutex
	err    error
	closed chan struct{}
	once   sync.Once

	dmu      sync.Mutex
	deadline time.Time
	changed  chan struct{} // closed and replaced when the deadline changes
}

// readQueuePacket is the biggest packet the queue keeps (pion's own
// receive buffers are this size).
const readQueuePacket = 8192

func newReadQueue(conn transport.UDPConn, remote netip.AddrPort, limit int) *readQueue {
	q := &readQueue{
		UDPConn: conn,
		remote:  netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port()),
		limit:   int64(limit),
		packets: make(chan []byte, limit/512+64), // the byte limit binds first
		done:    make(chan struct{}),
		closed:  make(chan struct{}),
		changed: make(chan struct{}),
	}
	q.pool.New = func() any { b := make([]byte, readQueuePacket); return &b }
	go q.readLoop()
	return q
}

func (q *readQueue) readLoop() {
	defer close(q.done)
	for {
		bp := q.pool.Get().(*[]byte)
		n, from, err := q.UDPConn.ReadFrom(*bp)
		if err == nil && !q.fromRemote(from) {
			q.pool.Put(bp)
			continue
		}
		if err != nil {
			q.errMu.Lock()
			q.err = err
			q.errMu.Unlock()
			return
		}
		if q.queued.Load()+int64(n) > q.limit {
			q.pool.Put(bp) // beyond a whole window: drop, as pion would
			continue
		}
		q.queued.Add(int64(n))
		select {
		case q.packets <- (*bp)[:n]:
		default:
			q.queued.Add(-int64(n))
			q.pool.Put(bp)
		}
	}
}

func (q *readQueue) fromRemote(from net.Addr) bool {
	u, ok := from.(*net.UDPAddr)
	if !ok {
		return false
	}
	ap := u.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) == q.remote
}

// ReadFrom returns the next datagram from the remote address (truncated
// to p, like a UDP read).
func (q *readQueue) ReadFrom(p []byte) (int, net.Addr, error) {
	n, err := q.read(p)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(q.remote), nil
}

func (q *readQueue) read(p []byte) (int, error) {
	for {
		q.dmu.Lock()
		deadline, changed := q.deadline, q.changed
		q.dmu.Unlock()
		if deadline.IsZero() {
			// The common case: no timer.
			select {
			case b := <-q.packets:
				return q.serve(p, b), nil
			case <-changed:
				continue
			case <-q.closed:
				return 0, net.ErrClosed
			case <-q.done:
				return q.drained(p)
			}
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return 0, os.ErrDeadlineExceeded
		}
		t := time.NewTimer(wait)
		select {
		case b := <-q.packets:
			t.Stop()
			return q.serve(p, b), nil
		case <-changed:
			t.Stop()
			continue
		case <-t.C:
			return 0, os.ErrDeadlineExceeded
		case <-q.closed:
			t.Stop()
			return 0, net.ErrClosed
		case <-q.done:
			t.Stop()
			return q.drained(p)
		}
	}
}

// drained serves what is left after the reader stopped, then its error.
func (q *readQueue) drained(p []byte) (int, error) {
	select {
	case b := <-q.packets:
		return q.serve(p, b), nil
	default:
	}
	q.errMu.Lock()
	defer q.errMu.Unlock()
	return 0, q.err
}

func (q *readQueue) serve(p, b []byte) int {
	n := copy(p, b)
	q.queued.Add(-int64(len(b)))
	b = b[:cap(b)]
	q.pool.Put(&b)
	return n
}

// SetReadDeadline implements net.Conn; it wakes a Read in progress.
func (q *readQueue) SetReadDeadline(t time.Time) error {
	q.dmu.Lock()
	q.deadline = t
	close(q.changed)
	q.changed = make(chan struct{})
	q.dmu.Unlock()
	return nil
}

// SetDeadline implements net.Conn.
func (q *readQueue) SetDeadline(t time.Time) error {
	_ = q.SetReadDeadline(t)
	return q.UDPConn.SetWriteDeadline(t)
}

// Close closes the conn, which ends the reader.
func (q *readQueue) Close() error {
	var err error
	q.once.Do(func() {
		close(q.closed)
		err = q.UDPConn.Close()
	})
	return err
}
