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

// rate48Factor is how many clients' worth of a rate one IPv6 /48 gets in
// all: a site with many hosts, not a single attacker with 65,536 /64s.
const rate48Factor = 8

// ipLimiter is a per-client token bucket with bounded memory. A client is
// one IPv4 address or one IPv6 /64 (what a single host usually gets); an
// IPv6 /48 also has a bucket of rate48Factor times the rate, shared by its
// /64s. Entries idle for longer than a full refill are swept (deleting
// them loses nothing, their bucket is full again), and once maxEntries is
// reached new groups share one overflow bucket.
type ipLimiter struct {
	perMinute  int
	maxEntries int
	now        func() time.Time

	mu        sync.Mutex
	entries   map[capKey]*ipEntry
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
		entries:    make(map[capKey]*ipEntry),
		overflow:   newMinuteLimiter(perMinute),
	}
}

func newMinuteLimiter(perMinute int) *rate.Limiter {
	return rate.NewLimiter(rate.Every(time.Minute/time.Duration(perMinute)), perMinute)
}

// allow takes one token for ip (from its /64 and /48 buckets for IPv6).
// When none is left it takes nothing and reports how long the client
// should wait.
func (l *ipLimiter) allow(ip netip.Addr) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if since := now.Sub(l.lastSweep); since >= time.Minute || (len(l.entries) >= l.maxEntries && since >= time.Second) {
		l.sweep(now)
	}
	var lims []*rate.Limiter
	for _, key := range capKeys(ip) {
		var lim *rate.Limiter
		if e, ok := l.entries[key]; ok {
			e.lastSeen = now
			lim = e.lim
		} else if len(l.entries) < l.maxEntries {
			perMinute := l.perMinute
			if key.scope == scopeNet48 {
				perMinute *= rate48Factor
			}
			lim = newMinuteLimiter(perMinute)
			l.entries[key] = &ipEntry{lim: lim, lastSeen: now}
		} else {
			lim = l.overflow
		}
		if len(lims) == 0 || lims[len(lims)-1] != lim { // both keys in the overflow bucket: one token
			lims = append(lims, lim)
		}
	}
	var taken []*rate.Reservation
	var wait time.Duration
	for _, lim := range lims {
		r := lim.ReserveN(now, 1)
		if !r.OK() {
			wait = max(wait, time.Minute)
			continue
		}
		taken = append(taken, r)
		wait = max(wait, r.DelayFrom(now))
	}
	if wait > 0 {
		for _, r := range taken {
			r.CancelAt(now)
		}
		return false, wait
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
