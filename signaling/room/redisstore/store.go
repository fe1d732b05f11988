package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/internal/randid"
	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room"
)

// Defaults for the options.
const (
	DefaultPrefix      = "parley:signal:"
	DefaultLivenessTTL = 15 * time.Second
)

// opTimeout bounds the Redis calls that have no caller context (timers,
// Close); lenTimeout bounds Len, which a metrics scrape waits for.
const (
	opTimeout  = 5 * time.Second
	lenTimeout = time.Second
)

// Option tunes a Store.
type Option func(*options)

type options struct {
	prefix   string
	liveness time.Duration
	log      *slog.Logger
}

// WithPrefix puts every key and channel under prefix, so several
// deployments (or tests) can share one Redis.
func WithPrefix(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithLivenessTTL sets how long a node that stopped heartbeating still
// counts as alive (its participants as online). It heartbeats every third
// of that. Default DefaultLivenessTTL.
func WithLivenessTTL(d time.Duration) Option { return func(o *options) { o.liveness = d } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Store is the Redis room.Store. Create it with New and Close it when done;
// it does not close the Redis client.
type Store struct {
	rdb      redis.UniversalClient
	cfg      room.Config
	prefix   string
	node     string
	liveness time.Duration
	log      *slog.Logger
	ps       *redis.PubSub

	mu     sync.Mutex
	byID   map[string]*local
	byConn map[connKey]*local
	timers map[string]*time.Timer
	nextID uint64
	closed bool
	beat   bool // the first heartbeat has run

	stopHB    context.CancelFunc
	hbDone    chan struct{}
	subDone   chan struct{}
	closeOnce sync.Once
	closeErr  error

	// beforeJoined, when set (tests), runs between a successful join
	// script and the joiner's Joined call: the window in which other
	// nodes may already deliver to the new connection.
	beforeJoined func()
}

var _ room.Store = (*Store)(nil)

type connKey struct {
	room string
	c    room.Conn
}

// local is one of this node's connections. Deliveries that arrive before
// its Joined call wait in pending, so the joiner always hears "joined"
// first.
type local struct {
	id   string // conn id, unique on this node
	room string
	c    room.Conn

	mu      sync.Mutex
	ready   bool
	pending []envelope
}

// envelope is a delivery to one connection, published as JSON to the
// node that holds it.
type envelope struct {
	To    string            `json:"to"`
	Close string            `json:"close,omitempty"`
	Msg   *protocol.Message `json:"msg,omitempty"`
}

// New returns a Store on client, subscribed to this node's channel and
// registered as alive. ctx bounds the setup only.
func New(ctx context.Context, client redis.UniversalClient, cfg room.Config, opts ...Option) (*Store, error) {
	o := options{prefix: DefaultPrefix, liveness: DefaultLivenessTTL}
	for _, f := range opts {
		f(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.liveness < 30*time.Millisecond {
		return nil, fmt.Errorf("redis room store: liveness TTL %v too short", o.liveness)
	}
	s := &Store{
		rdb:      client,
		cfg:      withDefaults(cfg),
		prefix:   o.prefix,
		node:     randid.Hex(8),
		liveness: o.liveness,
		log:      o.log,
		byID:     make(map[string]*local),
		byConn:   make(map[connKey]*local),
		timers:   make(map[string]*time.Timer),
		hbDone:   make(chan struct{}),
		subDone:  make(chan struct{}),
	}
	// Subscribe before announcing the node: nobody may publish to a
	// channel this node is not listening on yet.
	s.ps = client.Subscribe(ctx, s.prefix+"ch:"+s.node)
	if _, err := s.ps.Receive(ctx); err != nil {
		_ = s.ps.Close()
		return nil, fmt.Errorf("redis room store: subscribe: %w", err)
	}
	if err := s.heartbeat(ctx); err != nil {
		_ = s.ps.Close()
		return nil, fmt.Errorf("redis room store: register node: %w", err)
	}
	hctx, cancel := context.WithCancel(context.Background())
	s.stopHB = cancel
	go s.subscribeLoop(s.ps.Channel(redis.WithChannelSize(1024)))
	go s.heartbeatLoop(hctx)
	return s, nil
}

func withDefaults(c room.Config) room.Config {
	if c.IdleTTL <= 0 {
		c.IdleTTL = room.DefaultIdleTTL
	}
	if c.TombstoneTTL < room.DefaultTombstoneTTL {
		c.TombstoneTTL = room.DefaultTombstoneTTL
	}
	if c.MaxRooms <= 0 {
		c.MaxRooms = room.DefaultMaxRooms
	}
	if c.IDLength <= 0 {
		c.IDLength = protocol.RoomIDLength
	}
	return c
}

// NodeID returns this node's random id (it names its channel and liveness
// key).
func (s *Store) NodeID() string { return s.node }

func ms(d time.Duration) int64 { return d.Milliseconds() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// reply is a script's answer: status, members to close, the rest.
type reply struct {
	status string
	closes []string
	rest   []any
}

func (s *Store) run(ctx context.Context, sc *redis.Script, args ...any) (reply, error) {
	v, err := sc.Run(ctx, s.rdb, nil, append([]any{s.prefix}, args...)...).Slice()
	if err != nil {
		return reply{}, err
	}
	if len(v) < 2 {
		return reply{}, fmt.Errorf("short script reply %v", v)
	}
	r := reply{rest: v[2:]}
	r.status, _ = v[0].(string)
	r.closes = strs(v[1])
	return r, nil
}

func strs(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (r reply) int(i int) int64 {
	if i >= len(r.rest) {
		return 0
	}
	n, _ := r.rest[i].(int64)
	return n
}

func (r reply) str(i int) string {
	if i >= len(r.rest) {
		return ""
	}
	s, _ := r.rest[i].(string)
	return s
}

// statusErr maps a script status to the room package's errors.
func statusErr(st string) error {
	switch st {
	case "ok":
		return nil
	case "notfound":
		return room.ErrNotFound
	case "destroyed":
		return room.ErrDestroyed
	case "expired":
		return room.ErrExpired
	case "full":
		return room.ErrFull
	case "toomany":
		return room.ErrTooManyRooms
	case "notmember":
		return room.ErrNotMember
	case "offline":
		return room.ErrPeerOffline
	case "unauthorized":
		return room.ErrUnauthorized
	default:
		return fmt.Errorf("redis room store: unexpected script status %q", st)
	}
}

// finish delivers the closes a script asked for (a room that expired on
// this access) and turns its status into an error.
func (s *Store) finish(ctx context.Context, r reply) error {
	err := statusErr(r.status)
	if len(r.closes) > 0 {
		s.closeAll(ctx, r.closes, room.Code(err))
	}
	return err
}

func (s *Store) closeAll(ctx context.Context, members []string, code string) {
	for _, m := range members {
		_, _ = s.deliver(ctx, m, envelope{Close: code})
	}
}

// info reads the room description of a create, restore or get reply
// (created, expires, connected, verifier).
func (r reply) info(id string) room.Info {
	return room.Info{ID: id, CreatedAt: fromMS(r.int(0)), ExpiresAt: fromMS(r.int(1)), Connected: int(r.int(2)), Verifier: r.str(3)}
}

// Create implements room.Store.
func (s *Store) Create(ctx context.Context, selfDestruct time.Duration, verifier string) (room.Info, error) {
	if selfDestruct < 0 {
		return room.Info{}, fmt.Errorf("create room: negative self-destruct %v", selfDestruct)
	}
	if selfDestruct > 0 && selfDestruct < time.Millisecond {
		selfDestruct = time.Millisecond
	}
	for {
		id, err := room.NewID(nil, s.cfg.IDLength)
		if err != nil {
			return room.Info{}, fmt.Errorf("create room: %w", err)
		}
		r, err := s.run(ctx, createScript, id, ms(selfDestruct), ms(s.cfg.IdleTTL), s.cfg.MaxRooms, ms(s.cfg.TombstoneTTL), verifier)
		if err != nil {
			return room.Info{}, fmt.Errorf("create room: %w", err)
		}
		if r.status == "taken" {
			continue
		}
		if err := statusErr(r.status); err != nil {
			return room.Info{}, fmt.Errorf("create room: %w", err)
		}
		info := r.info(id)
		if !info.ExpiresAt.IsZero() {
			s.armDestruct(id, info.ExpiresAt)
		}
		return info, nil
	}
}

// Restore implements room.Store.
func (s *Store) Restore(ctx context.Context, info room.Info) (room.Info, error) {
	if len(info.ID) != s.cfg.IDLength || info.CreatedAt.IsZero() {
		return room.Info{}, fmt.Errorf("restore room: bad id or creation time: %w", room.ErrNotFound)
	}
	var x int64
	if !info.ExpiresAt.IsZero() {
		x = info.ExpiresAt.UnixMilli()
	}
	r, err := s.run(ctx, restoreScript, info.ID, info.CreatedAt.UnixMilli(), x, ms(s.cfg.IdleTTL), s.cfg.MaxRooms, ms(s.cfg.TombstoneTTL), info.Verifier)
	if err != nil {
		return room.Info{}, fmt.Errorf("restore room: %w", err)
	}
	if err := s.finish(ctx, r); err != nil {
		if errors.Is(err, room.ErrTooManyRooms) {
			return room.Info{}, fmt.Errorf("restore room: %w", err)
		}
		return room.Info{}, err
	}
	got := r.info(info.ID)
	if !got.ExpiresAt.IsZero() {
		s.armDestruct(info.ID, got.ExpiresAt)
	}
	return got, nil
}

// Get implements room.Store.
func (s *Store) Get(ctx context.Context, id string) (room.Info, error) {
	r, err := s.run(ctx, getScript, id, ms(s.cfg.TombstoneTTL))
	if err != nil {
		return room.Info{}, fmt.Errorf("get room: %w", err)
	}
	if err := s.finish(ctx, r); err != nil {
		return room.Info{}, err
	}
	return r.info(id), nil
}

// Join implements room.Store.
func (s *Store) Join(ctx context.Context, id, key, verifier string, c room.Conn) (room.JoinResult, error) {
	if key == "" || c == nil {
		return room.JoinResult{}, fmt.Errorf("join room: empty key or nil conn: %w", room.ErrNotMember)
	}
	lc, fresh := s.attach(id, c)
	r, err := s.run(ctx, joinScript, id, key, s.member(lc), ms(s.cfg.IdleTTL), ms(s.cfg.TombstoneTTL), verifier)
	if err != nil {
		if fresh {
			// The script may have run before the error (a timeout on
			// the reply): free the seat so it does not stay "online".
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
			_, _ = s.run(lctx, leaveScript, id, s.member(lc), ms(s.cfg.IdleTTL), ms(s.cfg.TombstoneTTL))
			cancel()
			s.detach(lc)
		}
		return room.JoinResult{}, fmt.Errorf("join room: %w", err)
	}
	if err := s.finish(ctx, r); err != nil {
		if fresh {
			s.detach(lc)
		}
		return room.JoinResult{}, err
	}
	info := r.info(id)
	info.Verifier = r.str(8) // the join reply has more before it
	res := room.JoinResult{
		Room:       info,
		Rejoin:     r.int(3) == 1,
		Peer:       r.str(4),
		PeerOnline: r.int(5) == 1,
	}
	if old := r.str(6); old != "" {
		_, _ = s.deliver(ctx, old, envelope{Close: protocol.CodeReplaced})
	}
	if s.beforeJoined != nil {
		s.beforeJoined()
	}
	lc.mu.Lock()
	c.Joined(res)
	for _, e := range lc.pending {
		s.applyLocked(lc, e)
	}
	lc.pending, lc.ready = nil, true
	lc.mu.Unlock()
	if peer := r.str(7); peer != "" {
		ev := protocol.PeerJoined
		if res.Rejoin {
			ev = protocol.PeerRejoined
		}
		_, _ = s.deliver(ctx, peer, envelope{Msg: &protocol.Message{Type: protocol.TypePeer, Event: ev, PublicKey: key}})
	}
	if !res.Room.ExpiresAt.IsZero() {
		s.armDestruct(id, res.Room.ExpiresAt)
	}
	return res, nil
}

// Relay implements room.Store.
func (s *Store) Relay(ctx context.Context, id string, from room.Conn, m protocol.Message) error {
	r, err := s.run(ctx, relayScript, id, s.memberOf(id, from), ms(s.cfg.TombstoneTTL))
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	if err := s.finish(ctx, r); err != nil {
		return err
	}
	ok, err := s.deliver(ctx, r.str(0), envelope{Msg: &m})
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	if !ok {
		return room.ErrPeerOffline
	}
	return nil
}

// Leave implements room.Store.
func (s *Store) Leave(ctx context.Context, id string, c room.Conn) error {
	s.mu.Lock()
	lc := s.byConn[connKey{id, c}]
	s.mu.Unlock()
	if lc == nil {
		return nil
	}
	r, err := s.run(ctx, leaveScript, id, s.member(lc), ms(s.cfg.IdleTTL), ms(s.cfg.TombstoneTTL))
	s.detach(lc)
	if err != nil {
		return fmt.Errorf("leave room: %w", err)
	}
	if peer := r.str(0); peer != "" {
		_, _ = s.deliver(ctx, peer, envelope{Msg: &protocol.Message{Type: protocol.TypePeer, Event: protocol.PeerLeft, PublicKey: r.str(1)}})
	}
	return nil
}

// Destroy implements room.Store.
func (s *Store) Destroy(ctx context.Context, id string, by room.Conn) error {
	r, err := s.run(ctx, destroyScript, id, s.memberOf(id, by), ms(s.cfg.TombstoneTTL))
	if err != nil {
		return fmt.Errorf("destroy room: %w", err)
	}
	if err := statusErr(r.status); err != nil {
		return s.finish(ctx, r)
	}
	s.closeAll(ctx, r.closes, protocol.CodeRoomDestroyed)
	return nil
}

// Len implements room.Store: live rooms on all nodes, approximate (see
// the package doc). On a Redis error it returns -1 and logs.
func (s *Store) Len() int {
	ctx, cancel := context.WithTimeout(context.Background(), lenTimeout)
	defer cancel()
	n, err := lenScript.Run(ctx, s.rdb, nil, s.prefix).Int()
	if err != nil {
		s.log.Warn("redis room store: count rooms", "err", err)
		return -1
	}
	return n
}

// Ping reports whether Redis answers (parley-signal's /healthz asks it).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// SharedKey returns n random bytes stored in Redis under name, created
// once (SET NX), so every node gets the same key.
func (s *Store) SharedKey(ctx context.Context, name string, n int) ([]byte, error) {
	k := s.prefix + "key:" + name
	fresh := make([]byte, n)
	_, _ = rand.Read(fresh)
	if err := s.rdb.SetNX(ctx, k, fresh, 0).Err(); err != nil {
		return nil, fmt.Errorf("shared key %s: %w", name, err)
	}
	got, err := s.rdb.Get(ctx, k).Bytes()
	if err != nil {
		return nil, fmt.Errorf("shared key %s: %w", name, err)
	}
	if len(got) != n {
		return nil, fmt.Errorf("shared key %s: %d bytes in Redis, want %d", name, len(got), n)
	}
	return got, nil
}

// Close implements room.Store: it stops the timers, the heartbeat and the
// subscription, and marks this node's participants offline (their peers
// on other nodes hear "left"). Rooms stay.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.stop(true) })
	return s.closeErr
}

func (s *Store) stop(reap bool) error {
	s.mu.Lock()
	s.closed = true
	for id, t := range s.timers {
		t.Stop()
		delete(s.timers, id)
	}
	s.mu.Unlock()
	s.stopHB()
	<-s.hbDone
	var err error
	if reap {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		err = s.reap(ctx, s.node)
		cancel()
	}
	if cerr := s.ps.Close(); cerr != nil && !errors.Is(cerr, redis.ErrClosed) {
		err = errors.Join(err, cerr)
	}
	<-s.subDone
	if err != nil {
		return fmt.Errorf("close redis room store: %w", err)
	}
	return nil
}

// member is the seat value of a local connection.
func (s *Store) member(lc *local) string { return s.node + " " + lc.id }

// memberOf returns c's seat value in room id, or "-" (matching no seat)
// when c is not a connection this node admitted there.
func (s *Store) memberOf(id string, c room.Conn) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lc := s.byConn[connKey{id, c}]; lc != nil {
		return s.member(lc)
	}
	return "-"
}

// attach returns c's local record for room id, creating it (not ready)
// when new.
func (s *Store) attach(id string, c room.Conn) (*local, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := connKey{id, c}
	if lc := s.byConn[k]; lc != nil {
		return lc, false
	}
	s.nextID++
	lc := &local{id: strconv.FormatUint(s.nextID, 36), room: id, c: c}
	s.byID[lc.id] = lc
	s.byConn[k] = lc
	return lc, true
}

func (s *Store) detach(lc *local) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID[lc.id] == lc {
		delete(s.byID, lc.id)
		delete(s.byConn, connKey{lc.room, lc.c})
	}
}

// deliver hands e to member m: directly when it is on this node, else by
// PUBLISH to its node. It reports false when nobody could take it.
func (s *Store) deliver(ctx context.Context, m string, e envelope) (bool, error) {
	node, id, ok := strings.Cut(m, " ")
	if !ok {
		return false, nil
	}
	e.To = id
	if node == s.node {
		return s.deliverLocal(e), nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	n, err := s.rdb.Publish(ctx, s.prefix+"ch:"+node, b).Result()
	if err != nil {
		s.log.Warn("redis room store: publish to another node", "err", err)
		return false, err
	}
	return n > 0, nil
}

func (s *Store) deliverLocal(e envelope) bool {
	s.mu.Lock()
	lc := s.byID[e.To]
	s.mu.Unlock()
	if lc == nil {
		return false
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if !lc.ready {
		lc.pending = append(lc.pending, e)
		return true
	}
	s.applyLocked(lc, e)
	return true
}

// applyLocked performs one delivery on a ready connection; the caller
// holds lc.mu, which orders deliveries to one connection.
func (s *Store) applyLocked(lc *local, e envelope) {
	if e.Close != "" {
		s.detach(lc)
		lc.c.Close(e.Close)
		return
	}
	if e.Msg != nil {
		lc.c.Send(*e.Msg)
	}
}

// subscribeLoop delivers what other nodes publish to this node's
// channel. go-redis pings the subscription (so a dead link is noticed),
// reconnects and resubscribes; the loop ends when Close closes it.
func (s *Store) subscribeLoop(ch <-chan *redis.Message) {
	defer close(s.subDone)
	for msg := range ch {
		var e envelope
		if err := json.Unmarshal([]byte(msg.Payload), &e); err != nil {
			s.log.Warn("redis room store: bad message from another node", "err", err)
			continue
		}
		s.deliverLocal(e)
	}
}

func (s *Store) heartbeatLoop(ctx context.Context) {
	defer close(s.hbDone)
	t := time.NewTicker(s.liveness / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hctx, cancel := context.WithTimeout(ctx, s.liveness/3)
		if err := s.heartbeat(hctx); err != nil && ctx.Err() == nil {
			s.log.Warn("redis room store: heartbeat", "err", err)
		}
		cancel()
	}
}

// heartbeat refreshes this node's liveness and reaps dead nodes.
func (s *Store) heartbeat(ctx context.Context) error {
	v, err := heartbeatScript.Run(ctx, s.rdb, nil, s.prefix, s.node, ms(s.liveness)).Slice()
	if err != nil {
		return err
	}
	if len(v) != 2 {
		return fmt.Errorf("short heartbeat reply %v", v)
	}
	if had, _ := v[0].(int64); had == 0 && s.beatBefore() {
		// Our key expired (Redis or this node stalled): other nodes may
		// have freed our seats. Our connections are no longer members;
		// close them so their clients rejoin.
		s.log.Warn("redis room store: this node was presumed dead; closing its connections so clients rejoin")
		s.dropLocals(protocol.CodeShuttingDown)
	}
	for _, node := range strs(v[1]) {
		if err := s.reap(ctx, node); err != nil {
			return err
		}
	}
	return nil
}

// beatBefore reports whether a heartbeat ran before this one.
func (s *Store) beatBefore() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.beat
	s.beat = true
	return was
}

func (s *Store) dropLocals(code string) {
	s.mu.Lock()
	var all []*local
	for _, lc := range s.byID {
		all = append(all, lc)
	}
	s.mu.Unlock()
	for _, lc := range all {
		lc.mu.Lock()
		s.applyLocked(lc, envelope{Close: code})
		lc.mu.Unlock()
	}
}

// reap frees the seats held on node and tells the surviving peers.
func (s *Store) reap(ctx context.Context, node string) error {
	r, err := s.run(ctx, reapScript, node, ms(s.cfg.IdleTTL), ms(s.cfg.TombstoneTTL))
	if err != nil {
		return fmt.Errorf("reap node: %w", err)
	}
	out := r.closes // the reply's second element: peer member, left key, ...
	for i := 0; i+1 < len(out); i += 2 {
		_, _ = s.deliver(ctx, out[i], envelope{Msg: &protocol.Message{Type: protocol.TypePeer, Event: protocol.PeerLeft, PublicKey: out[i+1]}})
	}
	if node != s.node {
		s.log.Info("redis room store: reaped a dead node", "node", node, "peersTold", len(out)/2)
	}
	return nil
}

// armDestruct makes this node check room id at its self-destruct time.
func (s *Store) armDestruct(id string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.timers[id] != nil {
		return
	}
	s.timers[id] = time.AfterFunc(time.Until(at), func() { s.onDestruct(id, at) })
}

func (s *Store) onDestruct(id string, at time.Time) {
	s.mu.Lock()
	delete(s.timers, id)
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	// Get kills the room when its time has come and closes both
	// participants wherever they are.
	info, err := s.Get(ctx, id)
	if err == nil && !info.ExpiresAt.IsZero() {
		// Redis's clock is behind ours: look again shortly.
		s.armDestructAfter(id, at, 20*time.Millisecond)
	} else if err != nil && room.Code(err) == protocol.CodeInternal {
		s.log.Warn("redis room store: self-destruct check", "err", err)
		s.armDestructAfter(id, at, time.Second)
	}
}

func (s *Store) armDestructAfter(id string, at time.Time, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.timers[id] != nil {
		return
	}
	s.timers[id] = time.AfterFunc(d, func() { s.onDestruct(id, at) })
}
