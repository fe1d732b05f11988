package turnserver

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// pendingHold is how long a quota slot stays reserved for an allocation
// pion has not reported created (it failed after the quota check, e.g. a
// TCP allocation or no free port).
const pendingHold = 10 * time.Second

// quotas caps live allocations per credential and per client IP. pion
// asks (QuotaHandler) before it creates an allocation and reports
// creations and deletions (EventHandler) afterwards; the check reserves a
// slot at once, so concurrent requests over many TCP connections cannot
// all slip past it.
type quotas struct {
	perCred, perIP int
	now            func() time.Time

	mu      sync.Mutex
	creds   map[string]int
	ips     map[netip.Addr]int
	holds   map[string]*hold // by client transport address
	pending int              // holds not yet live
}

type hold struct {
	cred string
	ip   netip.Addr
	live bool
	at   time.Time
}

func newQuotas(perCred, perIP int) *quotas {
	return &quotas{perCred: perCred, perIP: perIP, now: time.Now,
		creds: map[string]int{}, ips: map[netip.Addr]int{}, holds: map[string]*hold{}}
}

func holdKey(a net.Addr) string { return a.Network() + " " + a.String() }

// clientKey is what per-IP limits count by: the IPv4 address, or the
// IPv6 /64 (one host commonly holds a whole /64).
func clientKey(a net.Addr) netip.Addr {
	ip := addrIP(a)
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// addrIP returns the IP of a UDP or TCP address (the zero Addr otherwise).
func addrIP(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return unmap(ip)
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return unmap(ip)
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return unmap(ap.Addr())
	}
	return netip.Addr{}
}

// reserve takes a slot for a new allocation of cred from src, or returns
// the reason it is refused.
func (q *quotas) reserve(cred string, src net.Addr) (ok bool, reason string) {
	ip := clientKey(src)
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	if q.pending > 0 {
		for k, h := range q.holds {
			if !h.live && now.Sub(h.at) > pendingHold {
				q.drop(k, h)
			}
		}
	}
	k := holdKey(src)
	if h := q.holds[k]; h != nil && !h.live {
		q.drop(k, h) // a retry from the same address
	}
	switch {
	case q.creds[cred] >= q.perCred:
		return false, ReasonQuotaCredential
	case q.ips[ip] >= q.perIP:
		return false, ReasonQuotaIP
	}
	q.creds[cred]++
	q.ips[ip]++
	q.holds[k] = &hold{cred: cred, ip: ip, at: now}
	q.pending++
	return true, ""
}

// created marks the slot reserved for src as a live allocation.
func (q *quotas) created(src net.Addr) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if h := q.holds[holdKey(src)]; h != nil && !h.live {
		h.live = true
		q.pending--
	}
}

// deleted frees the slot of src's allocation.
func (q *quotas) deleted(src net.Addr) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := holdKey(src)
	if h := q.holds[k]; h != nil {
		q.drop(k, h)
	}
}

// holding reports whether src has a live allocation.
func (q *quotas) holding(src net.Addr) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	h := q.holds[holdKey(src)]
	return h != nil && h.live
}

func (q *quotas) drop(k string, h *hold) {
	delete(q.holds, k)
	if !h.live {
		q.pending--
	}
	if q.creds[h.cred]--; q.creds[h.cred] <= 0 {
		delete(q.creds, h.cred)
	}
	if q.ips[h.ip]--; q.ips[h.ip] <= 0 {
		delete(q.ips, h.ip)
	}
}
