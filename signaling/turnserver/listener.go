package turnserver

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// limitedListener is the TURN TCP listener: at most maxPerIP connections
// per client IP (more are closed at once), a deadline for the first bytes,
// and an idle deadline after them, longer while the connection holds an
// allocation (pion's client refreshes one every 5 minutes).
type limitedListener struct {
	net.Listener
	s *Server

	mu    sync.Mutex
	perIP map[netip.Addr]int
}

func newLimitedListener(ln net.Listener, s *Server) *limitedListener {
	return &limitedListener{Listener: ln, s: s, perIP: map[netip.Addr]int{}}
}

// Accept returns the next connection within the per-IP cap. It returns an
// error only when the listener is closed: pion stops serving TCP on the
// first Accept error, so transient ones (EMFILE) are waited out here.
func (l *limitedListener) Accept() (net.Conn, error) {
	backoff := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		ip := clientKey(c.RemoteAddr())
		l.mu.Lock()
		full := l.perIP[ip] >= l.s.cfg.MaxTCPConnsPerIP
		if !full {
			l.perIP[ip]++
		}
		l.mu.Unlock()
		if full {
			l.s.refuse(ReasonTCPConnLimit)
			_ = c.Close()
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(l.s.cfg.TCPFirstMessageTimeout))
		return &limitedConn{Conn: c, l: l, ip: ip}, nil
	}
}

func (l *limitedListener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

// limitedConn is one TURN TCP connection.
type limitedConn struct {
	net.Conn
	l    *limitedListener
	ip   netip.Addr
	once sync.Once
	last time.Time // last bytes read; only the read loop touches it
}

// Read reads and then moves the read deadline: after its first bytes the
// connection may stay silent for TCPIdleTimeout, or for
// TCPAllocationIdleTimeout while it holds an allocation. Only pion's read
// loop calls Read.
func (c *limitedConn) Read(b []byte) (int, error) {
	for {
		n, err := c.Conn.Read(b)
		now := time.Now()
		if n > 0 {
			c.last = now
			_ = c.Conn.SetReadDeadline(now.Add(c.l.s.cfg.TCPIdleTimeout))
			return n, err
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !c.last.IsZero() && c.l.s.quotas.holding(c.Conn.RemoteAddr()) {
			if until := c.last.Add(c.l.s.cfg.TCPAllocationIdleTimeout); now.Before(until) {
				_ = c.Conn.SetReadDeadline(until)
				continue
			}
		}
		return n, err
	}
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.release(c.ip) })
	return c.Conn.Close()
}
