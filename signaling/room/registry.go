package room

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
)

// Errors the registry returns. Callers branch on them with errors.Is; Code
// maps them to wire codes.
var (
	// ErrNotFound: no such room, or it expired after being idle.
	ErrNotFound = errors.New("room not found")
	// ErrFull: two other keys already belong to the room.
	ErrFull = errors.New("room full")
	// ErrDestroyed: a participant destroyed the room.
	ErrDestroyed = errors.New("room destroyed")
	// ErrExpired: the room's self-destruct timer ran out.
	ErrExpired = errors.New("room self-destruct timer expired")
	// ErrTooManyRooms: the registry holds Config.MaxRooms live rooms.
	ErrTooManyRooms = errors.New("too many rooms")
	// ErrPeerOffline: Relay found no connected participant to deliver to.
	ErrPeerOffline = errors.New("peer offline")
	// ErrNotMember: the connection is not (or no longer) a current
	// participant of the room, e.g. it was replaced.
	ErrNotMember = errors.New("connection is not a member of the room")
	// ErrUnauthorized: the room has a verifier and the joiner did not
	// prove it holds the room link's secret.
	ErrUnauthorized = errors.New("room verifier not proven")
)

// Code returns the protocol error code for an error from a Store, or
// protocol.CodeInternal for anything it does not know.
func Code(err error) string {
	switch {
	case errors.Is(err, ErrNotFound):
		return protocol.CodeRoomNotFound
	case errors.Is(err, ErrFull):
		return protocol.CodeRoomFull
	case errors.Is(err, ErrDestroyed):
		return protocol.CodeRoomDestroyed
	case errors.Is(err, ErrExpired):
		return protocol.CodeTimerExpired
	case errors.Is(err, ErrTooManyRooms):
		return protocol.CodeServerBusy
	case errors.Is(err, ErrNotMember):
		return protocol.CodeBadRequest
	case errors.Is(err, ErrUnauthorized):
		return protocol.CodeUnauthorized
	default:
		return protocol.CodeInternal
	}
}

// Live reports whether room id is live in st: false for a room that ended
// (unknown, destroyed, self-destructed, expired idle), an error when st
// cannot tell. The embedded TURN relay asks it before honouring a
// credential.
func Live(ctx context.Context, st Store, id string) (bool, error) {
	_, err := st.Get(ctx, id)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrDestroyed), errors.Is(err, ErrExpired):
		return false, nil
	default:
		return false, err
	}
}

// Defaults applied by NewRegistry to zero Config fields.
const (
	DefaultIdleTTL      = 24 * time.Hour
	DefaultTombstoneTTL = time.Hour
	DefaultMaxRooms     = 100_000
)

// Config tunes a Registry. The zero value gives the defaults.
type Config struct {
	// IdleTTL is how long a room lives with nobody connected, counted from
	// creation or from the last participant leaving. Default 24h.
	IdleTTL time.Duration
	// TombstoneTTL is how long a destroyed or self-destructed room is
	// remembered (so GET and join say 410 rather than 404). At least 1h.
	TombstoneTTL time.Duration
	// MaxRooms caps live rooms; Create fails with ErrTooManyRooms beyond
	// it. Default DefaultMaxRooms.
	MaxRooms int
	// IDLength is the room id length. Default protocol.RoomIDLength; the
	// server only accepts protocol.RoomIDLength on the wire.
	IDLength int
}

func (c Config) withDefaults() Config {
	if c.IdleTTL <= 0 {
		c.IdleTTL = DefaultIdleTTL
	}
	if c.TombstoneTTL < DefaultTombstoneTTL {
		c.TombstoneTTL = DefaultTombstoneTTL
	}
	if c.MaxRooms <= 0 {
		c.MaxRooms = DefaultMaxRooms
	}
	if c.IDLength <= 0 {
		c.IDLength = protocol.RoomIDLength
	}
	return c
}

// Info describes a live room.
type Info struct {
	ID        string
	CreatedAt time.Time
	// ExpiresAt is the self-destruct time; zero when the room has none.
	ExpiresAt time.Time
	// Connected counts participants online now (0, 1 or 2).
	Connected int
	// Verifier is the room's join verifier (the canonical base64url
	// encoding of an Ed25519 public key), or "" for a room created
	// without one. It never changes during the room's life.
	Verifier string
}

// JoinResult is what a successful Join learned about the room.
type JoinResult struct {
	Room Info
	// Peer is the other participant's key if it has ever joined, else "".
	Peer string
	// PeerOnline reports whether the other participant is connected.
	PeerOnline bool
	// Rejoin is true when this key had joined the room before.
	Rejoin bool
}

// Conn is one live participant connection as the registry sees it. The
// registry calls these methods while holding its lock: they must not block
// and must not call back into the registry.
type Conn interface {
	// Joined is called once when Join admits the connection, before the
	// other participant hears of it, so the "joined" reply is queued ahead
	// of anything the peer sends.
	Joined(res JoinResult)
	// Send queues m (a peer event or a relayed signal) for delivery.
	Send(m protocol.Message)
	// Close queues an error message with code and then closes the
	// connection. The registry has already dropped the connection.
	Close(code string)
}

// Store is the room state behind parley-signal. Registry is the in-memory
// implementation; a shared backend for several nodes can implement the same
// interface later.
type Store interface {
	// Create makes a new room. selfDestruct > 0 gives it a timer after
	// which it is destroyed even while in use. A non-empty verifier (the
	// canonical encoding of the room's verifier key) makes Join admit only
	// joiners that proved that verifier.
	Create(ctx context.Context, selfDestruct time.Duration, verifier string) (Info, error)
	// Get describes a room: ErrNotFound, ErrDestroyed or ErrExpired when
	// it is not live.
	Get(ctx context.Context, id string) (Info, error)
	// Join admits c as the participant with key (a canonical encoding of
	// the participant's public key). verifier is the room verifier the
	// joiner proved it holds the key of (the caller checked the proof), or
	// "" when it proved none. A room with a verifier refuses any other
	// verifier with ErrUnauthorized before looking at its seats, so a
	// refused joiner learns nothing about them and takes no seat. A key
	// that joined before always gets back in; a connection already holding
	// the key is closed with protocol.CodeReplaced. A third distinct key
	// gets ErrFull.
	Join(ctx context.Context, id, key, verifier string, c Conn) (JoinResult, error)
	// Relay delivers m to the other participant of the room c belongs to.
	// It returns ErrPeerOffline when nobody is there to receive it.
	Relay(ctx context.Context, id string, from Conn, m protocol.Message) error
	// Leave records that c left or its connection ended. It is a no-op
	// when c is no longer a member (replaced, or the room is gone).
	Leave(ctx context.Context, id string, c Conn) error
	// Destroy ends the room for good: every connected participant is
	// closed with protocol.CodeRoomDestroyed and a tombstone remains.
	Destroy(ctx context.Context, id string, by Conn) error
	// Restore brings back a room the store lost (a restarted server with
	// in-memory state), from a room ticket the server has verified: info
	// carries the room's id, creation time, self-destruct time and
	// verifier as they were. A live room is returned unchanged; a tombstone gives
	// ErrDestroyed or ErrExpired; a self-destruct time already past gives
	// ErrExpired; a full store gives ErrTooManyRooms. Nobody has joined a
	// restored room yet, so the first two keys to join own it.
	Restore(ctx context.Context, info Info) (Info, error)
	// Len returns the number of live rooms.
	Len() int
	// Close stops the store's timers. Rooms are not destroyed.
	Close() error
}

// Registry is the in-memory Store. One mutex guards everything: every
// operation is a few map lookups, and a single lock keeps the order of
// events to both participants consistent.
type Registry struct {
	clock Clock
	cfg   Config

	mu        sync.Mutex
	rooms     map[string]*room
	tombs     map[string]tombstone
	tombOrder []tombEntry // in creation order, which is also expiry order
	closed    bool
}

var _ Store = (*Registry)(nil)

type tombstone struct {
	err   error // ErrDestroyed or ErrExpired
	until time.Time
}

type tombEntry struct {
	id    string
	until time.Time
}

type member struct {
	key  string
	conn Conn // nil while offline
}

type room struct {
	id        string
	createdAt time.Time
	expiresAt time.Time // self-destruct; zero if none
	verifier  string    // "" if none
	members   [2]member
	n         int // keys admitted so far

	idleAt        time.Time // expiry while nobody is connected; zero while someone is
	idleTimer     Timer
	destructTimer Timer
}

func (r *room) online() int {
	c := 0
	for i := 0; i < r.n; i++ {
		if r.members[i].conn != nil {
			c++
		}
	}
	return c
}

func (r *room) info() Info {
	return Info{ID: r.id, CreatedAt: r.createdAt, ExpiresAt: r.expiresAt, Connected: r.online(), Verifier: r.verifier}
}

func (r *room) indexOfConn(c Conn) int {
	for i := 0; i < r.n; i++ {
		if r.members[i].conn == c {
			return i
		}
	}
	return -1
}

// NewRegistry returns an empty in-memory registry.
func NewRegistry(clock Clock, cfg Config) *Registry {
	if clock == nil {
		clock = SystemClock()
	}
	return &Registry{
		clock: clock,
		cfg:   cfg.withDefaults(),
		rooms: make(map[string]*room),
		tombs: make(map[string]tombstone),
	}
}

// Create implements Store.
func (g *Registry) Create(_ context.Context, selfDestruct time.Duration, verifier string) (Info, error) {
	if selfDestruct < 0 {
		return Info{}, fmt.Errorf("create room: negative self-destruct %v", selfDestruct)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	g.pruneTombstones(now)
	if len(g.rooms) >= g.cfg.MaxRooms {
		return Info{}, fmt.Errorf("create room: %w", ErrTooManyRooms)
	}
	var id string
	for {
		var err error
		id, err = NewID(nil, g.cfg.IDLength)
		if err != nil {
			return Info{}, fmt.Errorf("create room: %w", err)
		}
		if _, taken := g.rooms[id]; taken {
			continue
		}
		if _, taken := g.tombs[id]; taken {
			continue
		}
		break
	}
	r := &room{id: id, createdAt: now, verifier: verifier}
	if selfDestruct > 0 {
		r.expiresAt = now.Add(selfDestruct)
		r.destructTimer = g.clock.AfterFunc(selfDestruct, func() { g.onDestructTimer(r) })
	}
	g.rooms[id] = r
	g.armIdle(r, now)
	return r.info(), nil
}

// Restore implements Store.
func (g *Registry) Restore(_ context.Context, info Info) (Info, error) {
	if len(info.ID) != g.cfg.IDLength || info.CreatedAt.IsZero() {
		return Info{}, fmt.Errorf("restore room: bad id or creation time: %w", ErrNotFound)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	r, err := g.live(info.ID)
	if err == nil {
		return r.info(), nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Info{}, err
	}
	now := g.clock.Now()
	if !info.ExpiresAt.IsZero() && !now.Before(info.ExpiresAt) {
		return Info{}, ErrExpired
	}
	if len(g.rooms) >= g.cfg.MaxRooms {
		return Info{}, fmt.Errorf("restore room: %w", ErrTooManyRooms)
	}
	r = &room{id: info.ID, createdAt: info.CreatedAt, expiresAt: info.ExpiresAt, verifier: info.Verifier}
	if !r.expiresAt.IsZero() {
		r.destructTimer = g.clock.AfterFunc(r.expiresAt.Sub(now), func() { g.onDestructTimer(r) })
	}
	g.rooms[r.id] = r
	g.armIdle(r, now)
	return r.info(), nil
}

// Get implements Store.
func (g *Registry) Get(_ context.Context, id string) (Info, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, err := g.live(id)
	if err != nil {
		return Info{}, err
	}
	return r.info(), nil
}

// Join implements Store.
func (g *Registry) Join(_ context.Context, id, key, verifier string, c Conn) (JoinResult, error) {
	if key == "" || c == nil {
		return JoinResult{}, fmt.Errorf("join room: empty key or nil conn: %w", ErrNotMember)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	r, err := g.live(id)
	if err != nil {
		return JoinResult{}, err
	}
	if r.verifier != "" && subtle.ConstantTimeCompare([]byte(r.verifier), []byte(verifier)) != 1 {
		return JoinResult{}, ErrUnauthorized
	}
	idx := -1
	for i := 0; i < r.n; i++ {
		if r.members[i].key == key {
			idx = i
			break
		}
	}
	rejoin := idx >= 0
	if !rejoin {
		if r.n == len(r.members) {
			return JoinResult{}, ErrFull
		}
		idx = r.n
		r.members[idx].key = key
		r.n++
	}
	old := r.members[idx].conn
	r.members[idx].conn = c
	if old != nil && old != c {
		old.Close(protocol.CodeReplaced)
	}
	g.disarmIdle(r)

	res := JoinResult{Room: r.info(), Rejoin: rejoin}
	var other *member
	if r.n == 2 {
		other = &r.members[1-idx]
		res.Peer = other.key
		res.PeerOnline = other.conn != nil
	}
	c.Joined(res)
	if other != nil && other.conn != nil {
		ev := protocol.PeerJoined
		if rejoin {
			ev = protocol.PeerRejoined
		}
		other.conn.Send(protocol.Message{Type: protocol.TypePeer, Event: ev, PublicKey: key})
	}
	return res, nil
}

// Relay implements Store.
func (g *Registry) Relay(_ context.Context, id string, from Conn, m protocol.Message) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, err := g.live(id)
	if err != nil {
		return err
	}
	idx := r.indexOfConn(from)
	if idx < 0 {
		return ErrNotMember
	}
	if r.n < 2 || r.members[1-idx].conn == nil {
		return ErrPeerOffline
	}
	r.members[1-idx].conn.Send(m)
	return nil
}

// Leave implements Store.
func (g *Registry) Leave(_ context.Context, id string, c Conn) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.rooms[id]
	if !ok {
		return nil
	}
	idx := r.indexOfConn(c)
	if idx < 0 {
		return nil
	}
	key := r.members[idx].key
	r.members[idx].conn = nil
	if r.n == 2 && r.members[1-idx].conn != nil {
		r.members[1-idx].conn.Send(protocol.Message{Type: protocol.TypePeer, Event: protocol.PeerLeft, PublicKey: key})
	}
	if r.online() == 0 {
		g.armIdle(r, g.clock.Now())
	}
	return nil
}

// Destroy implements Store.
func (g *Registry) Destroy(_ context.Context, id string, by Conn) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, err := g.live(id)
	if err != nil {
		return err
	}
	if r.indexOfConn(by) < 0 {
		return ErrNotMember
	}
	g.kill(r, ErrDestroyed, g.clock.Now())
	return nil
}

// Len implements Store.
func (g *Registry) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.rooms)
}

// Close implements Store: it stops every timer. Rooms stay readable.
func (g *Registry) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for _, r := range g.rooms {
		g.disarmIdle(r)
		if r.destructTimer != nil {
			r.destructTimer.Stop()
			r.destructTimer = nil
		}
	}
	return nil
}

// live returns the live room id, first applying any expiry that is due (so
// answers stay right even if a timer has not run yet). Callers hold g.mu.
func (g *Registry) live(id string) (*room, error) {
	now := g.clock.Now()
	g.pruneTombstones(now)
	r, ok := g.rooms[id]
	if !ok {
		if t, dead := g.tombs[id]; dead {
			return nil, t.err
		}
		return nil, ErrNotFound
	}
	if !r.expiresAt.IsZero() && !now.Before(r.expiresAt) {
		g.kill(r, ErrExpired, now)
		return nil, ErrExpired
	}
	if !r.idleAt.IsZero() && !now.Before(r.idleAt) && r.online() == 0 {
		g.forget(r)
		return nil, ErrNotFound
	}
	return r, nil
}

// armIdle starts the idle countdown of a room nobody is connected to.
func (g *Registry) armIdle(r *room, now time.Time) {
	g.disarmIdle(r)
	if g.closed {
		return
	}
	r.idleAt = now.Add(g.cfg.IdleTTL)
	r.idleTimer = g.clock.AfterFunc(g.cfg.IdleTTL, func() { g.onIdleTimer(r) })
}

func (g *Registry) disarmIdle(r *room) {
	if r.idleTimer != nil {
		r.idleTimer.Stop()
		r.idleTimer = nil
	}
	r.idleAt = time.Time{}
}

func (g *Registry) onIdleTimer(r *room) {
	g.mu.Lock()
	defer g.mu.Unlock()
	// The timer may be stale: the room may be gone, or someone may have
	// joined (and left again, re-arming a later deadline) meanwhile.
	if g.rooms[r.id] != r || r.idleAt.IsZero() || g.clock.Now().Before(r.idleAt) || r.online() > 0 {
		return
	}
	g.forget(r)
}

func (g *Registry) onDestructTimer(r *room) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	if g.rooms[r.id] != r || now.Before(r.expiresAt) {
		return
	}
	g.kill(r, ErrExpired, now)
}

// forget drops a room without a tombstone (plain idle expiry).
func (g *Registry) forget(r *room) {
	g.disarmIdle(r)
	if r.destructTimer != nil {
		r.destructTimer.Stop()
		r.destructTimer = nil
	}
	delete(g.rooms, r.id)
}

// kill ends a room with reason (ErrDestroyed or ErrExpired): connected
// participants are closed with the matching code and a tombstone remains.
func (g *Registry) kill(r *room, reason error, now time.Time) {
	g.forget(r)
	code := Code(reason)
	for i := 0; i < r.n; i++ {
		if c := r.members[i].conn; c != nil {
			r.members[i].conn = nil
			c.Close(code)
		}
	}
	until := now.Add(g.cfg.TombstoneTTL)
	g.tombs[r.id] = tombstone{err: reason, until: until}
	g.tombOrder = append(g.tombOrder, tombEntry{id: r.id, until: until})
	// Bound memory: creation is rate limited, but never keep more
	// tombstones than a few times the room cap.
	for len(g.tombOrder) > 4*g.cfg.MaxRooms {
		g.dropOldestTomb()
	}
}

func (g *Registry) pruneTombstones(now time.Time) {
	for len(g.tombOrder) > 0 && !now.Before(g.tombOrder[0].until) {
		g.dropOldestTomb()
	}
}

func (g *Registry) dropOldestTomb() {
	e := g.tombOrder[0]
	g.tombOrder[0] = tombEntry{}
	g.tombOrder = g.tombOrder[1:]
	if t, ok := g.tombs[e.id]; ok && t.until.Equal(e.until) {
		delete(g.tombs, e.id)
	}
}
