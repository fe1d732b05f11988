package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// clientIP works out the address a request came from. X-Forwarded-For is
// believed only when the direct peer is a trusted proxy, and then read from
// the right, skipping further trusted proxies, so a client cannot pick its
// own address by sending the header itself.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	remote := parseHostAddr(r.RemoteAddr)
	if !remote.IsValid() || !isTrusted(remote, trusted) {
		return remote
	}
	hops := r.Header.Values("X-Forwarded-For")
	var all []string
	for _, h := range hops {
		all = append(all, strings.Split(h, ",")...)
	}
	for i := len(all) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(all[i]))
		if err != nil {
			return remote
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a
		}
	}
	return remote
}

func parseHostAddr(hostport string) netip.Addr {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// limitKey groups addresses that belong to one client: one IPv4 address, or
// one IPv6 /64 (what a single host usually gets).
func limitKey(a netip.Addr) netip.Addr {
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return a
}

// ipLimiter is a per-client-IP token bucket with bounded memory: entries
// idle for longer than a full refill are swept (deleting them loses
// nothing, their bucket is full again), and once maxEntries is reached new
// addresses share one overflow bucket.
type ipLimiter struct {
	perMinute  int
	maxEntries int
	now        func() time.Time

	mu        sync.Mutex
	entries   map[netip.Addr]*ipEntry
	overflow  *rate.Limiter
	lastSweep time.Time
}

type ipEntry struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

func newIPLimiter(perMinute, maxEntries int, now func() time.Time) *ipLimiter {
	if now == nil {
		now = time.Now
	}
	return &ipLimiter{
		perMinute:  perMinute,
		maxEntries: maxEntries,
		now:        now,
		entries:    make(map[netip.Addr]*ipEntry),
		overflow:   rate.NewLimiter(rate.Every(time.Minute/time.Duration(perMinute)), perMinute),
	}
}

// allow takes one token for ip. When none is left it reports how long the
// client should wait.
func (l *ipLimiter) allow(ip netip.Addr) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	key := limitKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	if since := now.Sub(l.lastSweep); since >= time.Minute || (len(l.entries) >= l.maxEntries && since >= time.Second) {
		l.sweep(now)
	}
	var lim *rate.Limiter
	if e, ok := l.entries[key]; ok {
		e.lastSeen = now
		lim = e.lim
	} else if len(l.entries) < l.maxEntries {
		lim = rate.NewLimiter(rate.Every(time.Minute/time.Duration(l.perMinute)), l.perMinute)
		l.entries[key] = &ipEntry{lim: lim, lastSeen: now}
	} else {
		lim = l.overflow
	}
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (l *ipLimiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, e := range l.entries {
		if now.Sub(e.lastSeen) > time.Minute {
			delete(l.entries, k)
		}
	}
}

func (l *ipLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}
