package server

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"sync"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room"
)

// Per-client caps on what one client holds at once: open WebSockets and
// live rooms it created. Rate limits (ipLimiter) bound how fast a client
// takes; these bound how much it keeps. A client is one IPv4 address or
// one IPv6 /64 (scope "ip"); IPv6 clients are also counted per /48
// (scope "net48"), the block one site usually gets, so an attacker with a
// /48 cannot multiply the per-/64 cap by 65,536.

// Scopes of a per-client cap, as in the metrics label.
const (
	scopeIP    = "ip"
	scopeNet48 = "net48"
)

// Resources with per-client caps, as in the metrics label.
const (
	capConns = "conns"
	capRooms = "rooms"
)

// Retry-After sent with a cap refusal: a connection or room of the same
// client has to end first, which a retry in a second will rarely see.
const (
	connCapRetry = 30
	roomCapRetry = 60
)

// capKey is one counted group of addresses.
type capKey struct {
	prefix netip.Prefix
	scope  string
}

// capKeys returns the groups a client address is counted in: the address
// itself (IPv4) or its /64 (IPv6), and for IPv6 also its /48. An invalid
// address (a request whose RemoteAddr did not parse) is counted as one
// client, the zero key.
func capKeys(a netip.Addr) []capKey {
	if !a.IsValid() {
		return []capKey{{scope: scopeIP}}
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return []capKey{{prefix: netip.PrefixFrom(a, 32), scope: scopeIP}}
	}
	p64, _ := a.Prefix(64)
	p48, _ := a.Prefix(48)
	return []capKey{{prefix: p64, scope: scopeIP}, {prefix: p48, scope: scopeNet48}}
}

// capFor returns the cap of a scope; 0 means none.
func capFor(scope string, perIP, per48 int) int {
	if scope == scopeNet48 {
		return per48
	}
	return perIP
}

// connCaps counts open WebSockets per client. Entries exist only while a
// client has connections, so memory follows the number of connections.
type connCaps struct {
	perIP, per48 int

	mu     sync.Mutex
	counts map[capKey]int
}

func newConnCaps(perIP, per48 int) *connCaps {
	return &connCaps{perIP: perIP, per48: per48, counts: make(map[capKey]int)}
}

// acquire takes a connection slot for ip. When a cap is reached it takes
// nothing and returns the scope that is full.
func (c *connCaps) acquire(ip netip.Addr) (ok bool, fullScope string) {
	if c == nil {
		return true, ""
	}
	keys := capKeys(ip)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if n := capFor(k.scope, c.perIP, c.per48); n > 0 && c.counts[k] >= n {
			return false, k.scope
		}
	}
	for _, k := range keys {
		c.counts[k]++
	}
	return true, ""
}

// release gives back a slot taken by acquire.
func (c *connCaps) release(ip netip.Addr) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range capKeys(ip) {
		if c.counts[k]--; c.counts[k] <= 0 {
			delete(c.counts, k)
		}
	}
}

// clients returns how many client groups hold connections.
func (c *connCaps) clients() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.counts)
}

// roomCaps counts the live rooms each client created through this server.
// The room store does not report when a room ends (idle expiry, self-
// destruct, destroy; in Redis possibly on another node), so liveness is
// asked of the store: for a client at its cap, a few of its rooms are
// checked before it is refused, and every creation checks the two oldest
// tracked rooms of anybody, so rooms that ended are forgotten and memory
// stays near the number of live rooms.
type roomCaps struct {
	perIP, per48 int
	store        room.Store

	mu      sync.Mutex
	clients map[capKey]*roomClient
	rooms   map[string][]capKey // tracked room id → the groups it counts in
	queue   []string            // tracked ids, oldest first; may hold ids already forgotten
}

// roomClient is one group's rooms. n also counts creations under way
// (reserved, not yet committed), so two concurrent creations cannot both
// take the last slot.
type roomClient struct {
	n   int
	ids map[string]struct{}
}

// Work bounds of roomCaps, in store lookups per creation.
const (
	roomCheckAtCap = 16 // rooms of a client at its cap checked before refusing
	roomSweepStep  = 2  // oldest tracked rooms checked per creation (more than the one added)
)

func newRoomCaps(perIP, per48 int, store room.Store) *roomCaps {
	return &roomCaps{
		perIP: perIP, per48: per48, store: store,
		clients: make(map[capKey]*roomClient),
		rooms:   make(map[string][]capKey),
	}
}

// roomSlot is a reservation from reserve; exactly one of commit and cancel
// must follow.
type roomSlot struct {
	keys []capKey
}

// reserve takes a room slot for ip, first forgetting ended rooms of a
// client at its cap. When a cap is still reached it returns the full scope.
func (c *roomCaps) reserve(ctx context.Context, ip netip.Addr) (slot roomSlot, ok bool, fullScope string) {
	keys := capKeys(ip)
	c.sweep(ctx)
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		full := ""
		var check []string
		for _, k := range keys {
			limit := capFor(k.scope, c.perIP, c.per48)
			if cl := c.clients[k]; limit > 0 && cl != nil && cl.n >= limit {
				full = k.scope
				for id := range cl.ids { // map order: a different sample each time
					if len(check) == roomCheckAtCap {
						break
					}
					check = append(check, id)
				}
				break
			}
		}
		if full == "" {
			for _, k := range keys {
				cl := c.clients[k]
				if cl == nil {
					cl = &roomClient{ids: make(map[string]struct{})}
					c.clients[k] = cl
				}
				cl.n++
			}
			c.mu.Unlock()
			return roomSlot{keys: keys}, true, ""
		}
		c.mu.Unlock()
		if attempt > 0 || c.forgetEnded(ctx, check) == 0 {
			return roomSlot{}, false, full
		}
	}
}

// commit records the room created with slot.
func (c *roomCaps) commit(slot roomSlot, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range slot.keys {
		c.clients[k].ids[id] = struct{}{}
	}
	c.rooms[id] = slot.keys
	c.queue = append(c.queue, id)
}

// cancel gives back a slot whose creation failed.
func (c *roomCaps) cancel(slot roomSlot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range slot.keys {
		c.drop(k)
	}
}

// drop takes one from k's count; callers hold c.mu.
func (c *roomCaps) drop(k capKey) {
	cl := c.clients[k]
	if cl == nil {
		return
	}
	if cl.n--; cl.n <= 0 {
		delete(c.clients, k)
	}
}

// forget stops tracking a room; callers hold c.mu.
func (c *roomCaps) forget(id string) {
	keys, ok := c.rooms[id]
	if !ok {
		return
	}
	delete(c.rooms, id)
	for _, k := range keys {
		if cl := c.clients[k]; cl != nil {
			delete(cl.ids, id)
		}
		c.drop(k)
	}
}

// ended asks the store whether a room is over. Any other error (the store
// does not answer) counts as live: better to refuse a client than to let
// the cap go unchecked.
func (c *roomCaps) ended(ctx context.Context, id string) bool {
	_, err := c.store.Get(ctx, id)
	return errors.Is(err, room.ErrNotFound) || errors.Is(err, room.ErrDestroyed) || errors.Is(err, room.ErrExpired)
}

// checkEnded asks the store about ids (without holding c.mu) and splits
// them into ended and live.
func (c *roomCaps) checkEnded(ctx context.Context, ids []string) (over, live []string) {
	for _, id := range ids {
		if c.ended(ctx, id) {
			over = append(over, id)
		} else {
			live = append(live, id)
		}
	}
	return over, live
}

// forgetEnded checks ids with the store and forgets those that ended. It
// returns how many it forgot.
func (c *roomCaps) forgetEnded(ctx context.Context, ids []string) int {
	over, _ := c.checkEnded(ctx, ids)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range over {
		c.forget(id)
	}
	return len(over)
}

// sweep checks the oldest tracked rooms: ended ones are forgotten, live
// ones go to the back of the queue.
func (c *roomCaps) sweep(ctx context.Context) {
	c.mu.Lock()
	var check []string
	for len(check) < roomSweepStep && len(c.queue) > 0 {
		id := c.queue[0]
		c.queue[0] = ""
		c.queue = c.queue[1:]
		if _, tracked := c.rooms[id]; tracked {
			check = append(check, id)
		}
	}
	c.mu.Unlock()
	if len(check) == 0 {
		return
	}
	over, live := c.checkEnded(ctx, check)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range over {
		c.forget(id)
	}
	for _, id := range live {
		if _, tracked := c.rooms[id]; tracked {
			c.queue = append(c.queue, id)
		}
	}
}

// counts returns the tracked rooms and the client groups holding them.
func (c *roomCaps) counts() (rooms, clients int) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.rooms), len(c.clients)
}

// writeCapRefused answers a request refused by a per-client cap: 429 with
// SERVER_BUSY (the server has room, this client holds its share) and a
// Retry-After, and counts it.
func (s *Server) writeCapRefused(w http.ResponseWriter, resource, scope string, retry int) {
	s.metrics.capRefused.WithLabelValues(resource, scope).Inc()
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	writeError(w, http.StatusTooManyRequests, protocol.CodeServerBusy)
}

// admitConn takes a connection slot for ip, or answers the refusal itself
// and returns false. connEnded gives the slot back.
func (s *Server) admitConn(w http.ResponseWriter, ip netip.Addr) bool {
	ok, scope := s.connCaps.acquire(ip)
	if !ok {
		s.writeCapRefused(w, capConns, scope, connCapRetry)
	}
	return ok
}

// connEnded gives back the slot of admitConn, on every path after it:
// refused or failed upgrade, or the end of the connection.
func (s *Server) connEnded(ip netip.Addr) { s.connCaps.release(ip) }

// admitRoom reserves a room slot for the client of r, or answers the
// refusal itself and returns false. A nil roomCaps admits everyone.
func (s *Server) admitRoom(w http.ResponseWriter, r *http.Request) (roomSlot, bool) {
	if s.roomCaps == nil {
		return roomSlot{}, true
	}
	slot, ok, scope := s.roomCaps.reserve(r.Context(), clientIP(r, s.cfg.TrustedProxies))
	if !ok {
		s.writeCapRefused(w, capRooms, scope, roomCapRetry)
	}
	return slot, ok
}

// roomCreated ends the reservation of admitRoom: it records the room id,
// or gives the slot back when creation failed (id "").
func (s *Server) roomCreated(slot roomSlot, id string) {
	if s.roomCaps == nil {
		return
	}
	if id == "" {
		s.roomCaps.cancel(slot)
		return
	}
	s.roomCaps.commit(slot, id)
}
