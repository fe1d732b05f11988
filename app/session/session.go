// Package session is one joined room: it glues the signaling client, the
// peer connection, the chat protocol and local history together, and turns
// what happens into a stream of events for the UI or the CLI.
//
// It owns the reconnection rules: when the peer joins or rejoins, a fresh
// peer connection is negotiated; when the peer leaves, the session waits for
// it; messages that were sent but not yet acknowledged are sent again (with
// their original ids, so the receiver stores them once) after every
// reconnect, and so are edits, deletes and reactions (history.PendingOps;
// the receiver applies each id once).
//
// It also owns what rides on each verified connection: the file-transfer
// protocol with this session's table of transfers and its send queue
// (files.go: SendFiles, CancelTransfer, AnswerOffer; TransferChanged and
// OfferWaiting events), and, with Config.Calls, the connection's call
// manager (calls.go: Call, WaitCall; CallReady and CallChanged events).
// The app's facade and parley-cli drive rooms only through this API; the
// peer connection itself is not part of it. It must not import Wails.
package session

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/app/chat"
	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/identity"
	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/app/sigclient"
	"github.com/parley-chat/parley/app/transfer"
	"github.com/parley-chat/parley/internal/logid"
	"github.com/parley-chat/parley/internal/randid"
	"github.com/parley-chat/parley/signaling/protocol"
)

// Error codes the session adds to the signaling server's codes.
const (
	CodePeerOffline  = "PEER_OFFLINE"
	CodeVerifyFailed = "VERIFY_FAILED"
	CodeTimeout      = "TIMEOUT"
	// CodeKeyChanged: the room's peer presented another identity key than
	// the one pinned at the first verified connection. Nothing connects.
	CodeKeyChanged = "KEY_CHANGED"
	// CodeLinkConflict: a link with a stored room's server and id but
	// another secret. It is refused: it is not the stored room's link.
	CodeLinkConflict = "LINK_CONFLICT"
)

// KeyChangedError ends a session whose peer presented a key other than
// the pinned one (trust on first use, like Signal's safety number change).
// It wraps an *Error with CodeKeyChanged. The new key is stored
// as the room's NewPeerKey until the user trusts it
// (history.Store.TrustNewPeerKey) after comparing safety numbers.
type KeyChangedError struct {
	// Local is this side's key; Old the pinned peer key, New the other.
	Local, Old, New ed25519.PublicKey
}

// SafetyNumbers returns the safety number the room had and the one it
// would have with the new key.
func (e *KeyChangedError) SafetyNumbers() (before, after string) {
	return identity.SafetyNumber(e.Local, e.Old), identity.SafetyNumber(e.Local, e.New)
}

func (e *KeyChangedError) Error() string {
	return CodeKeyChanged + ": the other person's key changed"
}

// Unwrap lets errors.As find the coded error.
func (e *KeyChangedError) Unwrap() error {
	return &Error{Code: CodeKeyChanged, Reason: "the other person's key changed; compare the new safety number before you trust it"}
}

// expirySkew is how much earlier than the self-destruct time both apps
// know a TIMER_EXPIRED from the server is believed: clocks differ a little.
const expirySkew = 2 * time.Minute

// peerDestroyWait bounds how long a session waits for the server to end
// the room after the peer's authenticated destroy before it ends itself.
const peerDestroyWait = 3 * time.Second

// ErrPeerOffline is returned by Send while no verified connection to the
// peer exists. Nothing was stored or sent; the caller keeps the text.
var ErrPeerOffline = &Error{Code: CodePeerOffline, Reason: "the other person is not connected; the message was not sent"}

// Status is what the UI shows in its status bar.
type Status string

// Statuses, in the order a session usually walks through them.
const (
	StatusWaiting      Status = "waiting"      // joined; the peer is not here
	StatusConnecting   Status = "connecting"   // negotiating the peer connection
	StatusConnected    Status = "connected"    // peer-to-peer path up (not yet verified)
	StatusVerified     Status = "verified"     // verified: chat is open
	StatusReconnecting Status = "reconnecting" // a path or the signaling server was lost; recovering
	StatusPeerLeft     Status = "peer-left"    // the peer left; it may come back
	StatusClosed       Status = "closed"       // terminal; see Closed.Err
)

// Event is something that happened in the session.
type Event interface{ isEvent() }

// StatusChanged reports a new status. Route is set for connected/verified.
type StatusChanged struct {
	Status Status
	Route  peer.Route
}

// MessageReceived is a message from the peer, already stored in history.
type MessageReceived struct{ Message history.Message }

// Delivered says the peer stored one of our messages.
type Delivered struct{ ID string }

// PeerTyping says the peer is typing.
type PeerTyping struct{}

// OpDelivered says the peer acked one of our operations (ID, returned by
// Change) on message Of.
type OpDelivered struct{ ID, Of string }

// MessageChanged is a stored message the peer edited, deleted or reacted
// to, as it is stored now. Op says which (chat.OpEdit, chat.OpDelete or
// chat.OpReact).
type MessageChanged struct {
	Message history.Message
	Op      string
}

// RoomUpdated says the stored room changed (the peer told us its
// self-destruct time); views of it are stale.
type RoomUpdated struct{}

// Closed is the last event. Err is nil after Close, or an *Error
// carrying a code (ROOM_DESTROYED, TIMER_EXPIRED, VERIFY_FAILED, ...), or
// a *KeyChangedError (code KEY_CHANGED).
type Closed struct{ Err error }

func (StatusChanged) isEvent()   {}
func (MessageReceived) isEvent() {}
func (Delivered) isEvent()       {}
func (OpDelivered) isEvent()     {}
func (PeerTyping) isEvent()      {}
func (MessageChanged) isEvent()  {}
func (RoomUpdated) isEvent()     {}
func (Closed) isEvent()          {}

// Config is what Join needs.
type Config struct {
	Link     Link
	Identity *identity.Identity
	History  *history.Store
	Logger   *slog.Logger
	// RelayOnly forces TURN relaying (ICE transport policy relay).
	RelayOnly bool
	// LoopbackOnly restricts ICE to host candidates on 127.0.0.1 (tests).
	LoopbackOnly bool

	// DownloadDir is where received files go ("" = files are declined).
	DownloadDir string
	// AutoAcceptMax: offers up to this size are accepted without asking
	// (0 = ask for every file; transfer.DefaultAutoAcceptMax is the usual
	// value).
	AutoAcceptMax int64
	// ReceiveLimits bound what the peer may store through this room in
	// this session, reconnects included (zero fields: the defaults).
	ReceiveLimits transfer.Limits
	// OfferTimeout is how long an offer above AutoAcceptMax waits for
	// AnswerOffer (OfferWaiting) before it is declined (0: 10 minutes).
	OfferTimeout time.Duration

	// Calls turns calls on: every verified connection gets a call
	// manager (Call, WaitCall; CallReady and CallChanged events).
	Calls *CallConfig
}

// Session is one joined room.
type Session struct {
	cfg    Config
	key    string // the room's history key
	log    *slog.Logger
	sig    *sigclient.Client
	events chan Event
	budget *transfer.Budget // what the peer may still store (all reconnects)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	startMu sync.Mutex // serializes startPeer
	opMu    sync.Mutex // orders sending our operations (Change, resendOps)
	mu      sync.Mutex
	peerKey ed25519.PublicKey
	ice     []protocol.ICEServer
	conn    *peerRun // current peer connection attempt, nil while none
	chat    *chat.Conn
	files   *transfer.Conn // nil while no verified connection
	// filesChanged is closed (and replaced) whenever files changes.
	filesChanged chan struct{}
	status       Status
	// statusChanged is closed (and replaced) whenever status changes.
	statusChanged chan struct{}
	closing       bool
	closeOnce     sync.Once
	// emitMu guards eventsClosed: emit holds it shared while sending, the
	// final goroutine takes it exclusively before it closes events.
	emitMu       sync.RWMutex
	eventsClosed bool
	finalErr     error
	// destroying: we destroy the room ourselves. peerDestroyed: the peer
	// said over the verified channel that it destroyed the room. Either
	// way its history is wiped.
	destroying    atomic.Bool
	peerDestroyed atomic.Bool

	transfers transfers // this session's files, both ways
	// corruptForTest: SetCorruptHookForTest's hook, for every transfer
	// connection from now on.
	corruptForTest func(offset int64, chunk []byte)
	calls          calls // the current connection's call manager
}

// peerRun is one peer connection attempt and what runs on it.
type peerRun struct {
	pc     *peer.Conn
	cancel context.CancelFunc
	// peerKey is the identity key this connection verifies the peer with.
	peerKey ed25519.PublicKey
	// lastRemoteSession is the peer's session id on the newest description
	// it sent; only the signal loop touches it.
	lastRemoteSession string
	// established is set once the connection was verified.
	established atomic.Bool
}

// Join connects to the signaling server and joins the room. Errors that
// make joining impossible (ROOM_NOT_FOUND, ROOM_FULL, ...) are returned as
// *Error. The first event is a StatusChanged.
func Join(ctx context.Context, cfg Config) (*Session, error) {
	if cfg.Identity == nil || cfg.History == nil {
		return nil, errors.New("session: identity and history are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key := history.RoomKey(cfg.Link.Server, cfg.Link.RoomID)
	// A room ticket from an earlier visit lets a restarted server bring the
	// room back instead of saying ROOM_NOT_FOUND.
	var ticket string
	r, ok, err := cfg.History.Room(key)
	if err != nil {
		return nil, fmt.Errorf("read room: %w", err)
	}
	if ok {
		if err := sameSecret(r.Link, cfg.Link); err != nil {
			return nil, err
		}
		ticket = r.Ticket
	}
	sig, err := sigclient.Dial(ctx, sigclient.Config{
		ServerURL: cfg.Link.Server,
		RoomID:    cfg.Link.RoomID,
		Key:       cfg.Identity.PrivateKey(),
		RoomKey:   cfg.Link.RoomKey(),
		Logger:    log,
		Reconnect: true,
		Ticket:    ticket,
	})
	if err != nil {
		return nil, coded(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		cfg:    cfg,
		key:    key,
		log:    log,
		sig:    sig,
		events: make(chan Event, 256),
		budget: transfer.NewBudget(cfg.ReceiveLimits),
		ctx:    sctx,
		cancel: cancel,
	}
	s.calls.notify = make(chan struct{}, 1)
	if err := s.rememberRoom(); err != nil {
		cancel()
		_ = sig.Close()
		return nil, err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.signalLoop()
	}()
	if cfg.Calls != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.forwardViews()
		}()
	}
	return s, nil
}

// Events delivers what happens, in order. It is closed after Closed.
func (s *Session) Events() <-chan Event { return s.events }

// Link returns the room link.
func (s *Session) Link() Link { return s.cfg.Link }

// Key returns the room's key in history (history.RoomKey).
func (s *Session) Key() string { return s.key }

// sameSecret refuses a link whose secret differs from the stored link of
// the same room: anyone can copy a room id and server into a link, and its
// secret must never replace the one the room was made with.
func sameSecret(stored string, l Link) error {
	old, err := ParseLink(stored)
	if err != nil {
		return nil // nothing usable stored; the new link takes its place
	}
	if subtle.ConstantTimeCompare(old.Secret, l.Secret) != 1 {
		return &Error{Code: CodeLinkConflict, Reason: "this link has the id of a room you already have but another secret: it is not that room's link"}
	}
	return nil
}

// PeerKey returns the peer's identity key once known.
func (s *Session) PeerKey() ed25519.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peerKey
}

// Status returns the current status.
func (s *Session) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Send stores text as an outgoing message and sends it. It returns
// ErrPeerOffline (storing nothing) when no verified connection exists, and
// chat.ErrTooLong for text over the limit.
func (s *Session) Send(text string) (history.Message, error) {
	return s.send(text, "")
}

// Reply is Send of an answer to message replyTo, which must be stored
// (history.ErrMessageNotFound otherwise).
func (s *Session) Reply(text, replyTo string) (history.Message, error) {
	if _, err := s.target(replyTo); err != nil {
		return history.Message{}, err
	}
	return s.send(text, replyTo)
}

func (s *Session) send(text, replyTo string) (history.Message, error) {
	if len(text) > chat.MaxTextBytes {
		return history.Message{}, chat.ErrTooLong
	}
	s.mu.Lock()
	c := s.chat
	s.mu.Unlock()
	if c == nil {
		return history.Message{}, ErrPeerOffline
	}
	m := history.Message{
		ID:       newMessageID(),
		RoomKey:  s.key,
		Outgoing: true,
		Text:     text,
		SentAt:   time.Now(),
		State:    history.StateSending,
		ReplyTo:  replyTo,
	}
	if _, err := s.cfg.History.AddMessage(m); err != nil {
		return history.Message{}, fmt.Errorf("store message: %w", err)
	}
	if err := c.SendWithID(chat.Message{ID: m.ID, SentAt: m.SentAt, Text: m.Text, ReplyTo: m.ReplyTo}); err != nil {
		// The connection dropped under us: mark it so and give the text back.
		_ = s.cfg.History.SetState(m.RoomKey, m.ID, history.StateFailed)
		m.State = history.StateFailed
		return m, ErrPeerOffline
	}
	if err := s.cfg.History.SetState(m.RoomKey, m.ID, history.StateSent); err != nil {
		return m, fmt.Errorf("store message state: %w", err)
	}
	m.State = history.StateSent
	return m, nil
}

// SendTyping tells the peer we are typing; a no-op while offline.
func (s *Session) SendTyping() {
	s.mu.Lock()
	c := s.chat
	s.mu.Unlock()
	if c != nil {
		_ = c.SendTyping()
	}
}

// Destroy destroys the room and wipes its local history. The peer is told
// first over the verified chat channel when it is connected, or once a
// connection that is coming up verifies (up to destroyPeerWait; only that
// authenticated destroy makes its app wipe the room; a server's
// ROOM_DESTROYED alone does not), then the server. The session ends with
// ROOM_DESTROYED.
func (s *Session) Destroy(ctx context.Context) error {
	s.destroying.Store(true)
	s.awaitConnecting(ctx)
	s.mu.Lock()
	c := s.chat
	s.mu.Unlock()
	if c != nil {
		if err := c.SendDestroy(); err == nil {
			// The bye's confirmation means the peer handled the destroy.
			gctx, cancel := context.WithTimeout(ctx, goodbyeTimeout)
			if err := c.Goodbye(gctx); err != nil {
				s.log.Debug("destroy not confirmed by the peer", "err", err)
			}
			cancel()
		}
	}
	if err := s.sig.Destroy(ctx); err != nil {
		return fmt.Errorf("destroy room: %w", coded(err))
	}
	if err := s.cfg.History.Forget(s.key); err != nil {
		return fmt.Errorf("wipe room history: %w", err)
	}
	return nil
}

// goodbyeTimeout bounds how long Close waits for the peer to confirm it
// has everything (acks included) before tearing the connection down.
const goodbyeTimeout = 2 * time.Second

// udpBuffer is the kernel buffer each peer connection's UDP sockets ask
// for. With Linux's default 208 KiB a fast file transfer overflowed the
// receiving socket (SCTP then halves its window): 4 MiB took a loopback
// 512 MiB transfer from 22 to 30-36 MB/s. Past net.core.rmem_max only
// with CAP_NET_ADMIN (peer.Config.UDPBufferBytes).
const udpBuffer = 4 << 20

// Close leaves the room and stops everything the session started. With a
// verified connection it first says goodbye over chat, so acks for the
// last messages we received reach the peer before the connection closes.
func (s *Session) Close() error {
	s.mu.Lock()
	c := s.chat
	s.mu.Unlock()
	if c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), goodbyeTimeout)
		if err := c.Goodbye(ctx); err != nil {
			s.log.Debug("goodbye not confirmed", "err", err)
		}
		cancel()
	}
	s.finish(nil)
	s.wg.Wait()
	return nil
}

// finish tears the session down once and delivers Closed.
func (s *Session) finish(err error) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.finalErr = err
		run := s.conn
		s.conn = nil
		s.chat = nil
		s.status = StatusClosed
		s.notifyStatusLocked()
		s.mu.Unlock()
		if run != nil {
			run.cancel()
			_ = run.pc.Close()
		}
		ended := s.endTransfers(err) // nothing is sent from now on
		s.setFilesConn(nil)
		s.closeCall(nil) // its last view goes out before Closed
		s.cancel()
		_ = s.sig.Close()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			// From here on this goroutine is the only sender: emit drops
			// everything else, so closing the channel cannot race a send.
			s.emitMu.Lock()
			s.eventsClosed = true
			s.emitMu.Unlock()
			last := ended
			s.calls.closing.Wait() // a manager closed by its run's end
			for _, v := range s.calls.takeViews() {
				last = append(last, CallChanged{View: v})
			}
			last = append(last, StatusChanged{Status: StatusClosed}, Closed{Err: err})
			for _, ev := range last {
				select {
				case s.events <- ev:
				case <-time.After(finalEventWait):
					// Nobody is reading any more (the caller stopped
					// consuming and called Close): do not hang Close.
				}
			}
			close(s.events)
		}()
	})
}

// finalEventWait bounds how long the last events wait for a reader.
const finalEventWait = 5 * time.Second

// emit delivers an event; it blocks while the consumer is behind, until
// the session ends. Consumers are expected to drain Events in a loop.
func (s *Session) emit(e Event) {
	s.emitMu.RLock()
	defer s.emitMu.RUnlock()
	if s.eventsClosed {
		return
	}
	select {
	case s.events <- e:
	case <-s.ctx.Done():
	}
}

func (s *Session) setStatus(st Status, route peer.Route) {
	s.mu.Lock()
	if s.closing || s.status == st && st != StatusConnected && st != StatusVerified {
		s.mu.Unlock()
		return
	}
	s.status = st
	s.notifyStatusLocked()
	s.mu.Unlock()
	s.emit(StatusChanged{Status: st, Route: route})
}

// notifyStatusLocked wakes statusWatch's waiters. s.mu must be held.
func (s *Session) notifyStatusLocked() {
	if s.statusChanged != nil {
		close(s.statusChanged)
	}
	s.statusChanged = make(chan struct{})
}

// statusWatch returns the status and a channel closed when it next changes.
func (s *Session) statusWatch() (Status, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.statusChanged == nil {
		s.statusChanged = make(chan struct{})
	}
	return s.status, s.statusChanged
}

// destroyPeerWait bounds how long Destroy waits for a peer connection that
// is coming up: the other app wipes its copy of the room only when it
// hears the destroy over the verified connection (a server's word alone
// only marks the room ended), so a destroy right after joining, while the
// peer is online, would otherwise leave the peer's copy behind.
const destroyPeerWait = 10 * time.Second

// awaitConnecting waits, up to destroyPeerWait or ctx, while the session has
// not yet heard whether the peer is here or a connection to it is being
// verified.
func (s *Session) awaitConnecting(ctx context.Context) {
	t := time.NewTimer(destroyPeerWait)
	defer t.Stop()
	for {
		st, changed := s.statusWatch()
		switch st {
		case "", StatusConnecting, StatusConnected:
		default:
			return
		}
		select {
		case <-changed:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// signalLoop consumes signaling events until the session ends.
func (s *Session) signalLoop() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case ev, ok := <-s.sig.Events():
			if !ok {
				s.finish(nil)
				return
			}
			switch e := ev.(type) {
			case sigclient.Joined:
				s.onJoined(e)
			case sigclient.PeerEvent:
				s.onPeerEvent(e)
			case sigclient.SignalEvent:
				s.onSignal(e.Signal)
			case sigclient.Reconnecting:
				s.mu.Lock()
				online := s.chat != nil
				s.mu.Unlock()
				if !online {
					s.setStatus(StatusReconnecting, "")
				}
			case sigclient.Closed:
				err := coded(e.Err)
				if se := AsError(err); se != nil && (se.Code == protocol.CodeRoomDestroyed || se.Code == protocol.CodeTimerExpired) {
					s.roomEnded(se.Code)
				}
				s.finish(err)
				return
			}
		}
	}
}

// roomEnded handles the server's word that the room is over. The server
// is not trusted to wipe history: it is wiped only after our own destroy,
// the peer's authenticated destroy, or a TIMER_EXPIRED once the
// self-destruct time both apps know has passed. Otherwise the room is
// marked ended and its history kept.
func (s *Session) roomEnded(code string) {
	wipe := s.destroying.Load() || s.peerDestroyed.Load()
	if !wipe && code == protocol.CodeTimerExpired {
		r, ok, err := s.cfg.History.Room(s.key)
		wipe = err == nil && ok && r.ExpiresAt != nil && !time.Now().Before(r.ExpiresAt.Add(-expirySkew))
	}
	if wipe {
		if err := s.cfg.History.Forget(s.key); err != nil {
			s.log.Warn("wipe ended room", "err", err)
		}
		return
	}
	s.log.Info("server ended the room without confirmation; history kept", "room", LogID(s.cfg.Link.RoomID), "code", code)
	err := s.cfg.History.UpdateRoom(s.key, func(r *history.Room) error { r.Ended = code; return nil })
	if err != nil && !errors.Is(err, history.ErrRoomNotFound) {
		s.log.Warn("mark room ended", "err", err)
	}
}

// trusted reports whether key may be the peer of this room: there is no
// pinned key yet, or it is the pinned one. Otherwise it records key as
// the room's NewPeerKey and ends the session with KEY_CHANGED: nothing is
// negotiated with, and nothing sent to, a key the user has not seen.
func (s *Session) trusted(key ed25519.PublicKey) bool {
	r, ok, err := s.cfg.History.Room(s.key)
	if err != nil {
		s.log.Warn("read pinned key", "err", err)
		s.finish(fmt.Errorf("read room: %w", err))
		return false
	}
	if !ok || len(r.PeerKey) == 0 || bytes.Equal(r.PeerKey, key) {
		return true
	}
	s.log.Warn("peer key changed; not connecting", "room", LogID(s.cfg.Link.RoomID))
	if err := s.cfg.History.UpdateRoom(s.key, func(r *history.Room) error {
		r.NewPeerKey = append([]byte(nil), key...)
		return nil
	}); err != nil {
		s.log.Warn("store changed key", "err", err)
	}
	s.finish(&KeyChangedError{
		Local: s.cfg.Identity.PublicKey(),
		Old:   append(ed25519.PublicKey(nil), r.PeerKey...),
		New:   append(ed25519.PublicKey(nil), key...),
	})
	return false
}

// pin records key as the room's peer key after the first verified
// connection with it (trust on first use). It returns false, ending the
// session with KEY_CHANGED, when another key is pinned already.
func (s *Session) pin(key ed25519.PublicKey) bool {
	if !s.trusted(key) {
		return false
	}
	err := s.cfg.History.UpdateRoom(s.key, func(r *history.Room) error {
		r.PeerKey = append([]byte(nil), key...)
		r.NewPeerKey = nil
		return nil
	})
	if err != nil {
		s.log.Warn("pin peer key", "err", err)
	}
	return true
}

func (s *Session) onJoined(e sigclient.Joined) {
	if e.Peer != nil && !s.trusted(e.Peer) {
		return
	}
	s.mu.Lock()
	s.ice = e.ICEServers
	if e.Peer != nil {
		s.peerKey = e.Peer
	}
	s.mu.Unlock()
	if e.Ticket != "" {
		s.rememberTicket(e.Ticket)
	}
	if e.PeerOnline && e.Peer != nil {
		// Back on the signaling server (it restarted, or our link to it
		// flapped) while the peer-to-peer connection is fine: keep it.
		// If the peer's side is in fact gone, its new offer or our ICE
		// failure starts a fresh one.
		if e.Reconnected && s.liveRun() {
			return
		}
		s.startPeer()
		return
	}
	if !e.Reconnected {
		s.setStatus(StatusWaiting, "")
	}
}

func (s *Session) onPeerEvent(e sigclient.PeerEvent) {
	switch e.Event {
	case protocol.PeerJoined, protocol.PeerRejoined:
		if !s.trusted(e.Key) {
			return
		}
		s.mu.Lock()
		same := bytes.Equal(s.peerKey, e.Key)
		s.peerKey = e.Key
		s.mu.Unlock()
		// The peer came back to the server (its signaling reconnected, or
		// the server restarted) while our connection to it still works:
		// keep it. A peer that really restarted sends an offer from a new
		// session, which onSignal answers on a fresh connection.
		if same && s.liveRun() {
			return
		}
		s.startPeer()
	case protocol.PeerLeft:
		s.stopPeer()
		s.setStatus(StatusPeerLeft, "")
	}
}

func (s *Session) onSignal(sg protocol.Signal) {
	s.mu.Lock()
	run := s.conn
	s.mu.Unlock()
	isOffer := sg.Description != nil && sg.Description.Type == "offer"
	// An offer with nothing running, or from a new remote session after we
	// were connected (the peer started over because its path failed):
	// answer it on a fresh connection. Anything else without a connection
	// is a leftover of one that is gone.
	if isOffer && (run == nil || run.established.Load() && sg.Session != run.lastRemoteSession) {
		run = s.startPeer()
	}
	if run == nil {
		return
	}
	if sg.Description != nil {
		run.lastRemoteSession = sg.Session
	}
	if err := run.pc.HandleSignal(sg); err != nil {
		s.log.Debug("signal not applied", "err", err)
	}
}

// startPeer replaces the current peer connection with a new one. Calls
// are serialized (the signal loop and a failed path's retry may race), so
// two new connections never overwrite each other. It returns the new run,
// or nil when none could be started (closing, peer unknown, or an error
// that ended the session).
func (s *Session) startPeer() *peerRun {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	s.stopPeer()
	s.mu.Lock()
	if s.closing || s.peerKey == nil {
		s.mu.Unlock()
		return nil
	}
	peerKey := s.peerKey
	ice := s.ice
	s.mu.Unlock()

	local := s.cfg.Identity.PublicKey()
	pc, err := peer.New(peer.Config{
		ICEServers:     ice,
		RelayOnly:      s.cfg.RelayOnly,
		LoopbackOnly:   s.cfg.LoopbackOnly,
		UDPBufferBytes: udpBuffer,
		Polite:         bytes.Compare(local, peerKey) > 0,
		RoomID:         s.cfg.Link.RoomID,
		Secret:         s.cfg.Link.Secret,
		LocalKey:       local,
		PeerKey:        peerKey,
		SendSignal: func(sg protocol.Signal) error {
			ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
			defer cancel()
			return s.sig.Send(ctx, sg)
		},
		Logger: s.log,
	})
	if err != nil {
		s.log.Error("create peer connection", "err", err)
		s.finish(fmt.Errorf("create peer connection: %w", err))
		return nil
	}
	ctx, cancel := context.WithCancel(s.ctx)
	run := &peerRun{pc: pc, cancel: cancel, peerKey: peerKey}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		cancel()
		_ = pc.Close()
		return nil
	}
	old := s.conn
	s.conn = run
	s.mu.Unlock()
	if old != nil { // not expected while startMu is held; never leak one
		old.cancel()
		_ = old.pc.Close()
	}
	s.setStatus(StatusConnecting, "")
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.watchStates(ctx, run)
	}()
	go func() {
		defer s.wg.Done()
		s.runPeer(ctx, run)
	}()
	return run
}

// liveRun reports whether a verified peer connection with a running chat
// is in place.
func (s *Session) liveRun() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil && s.conn.established.Load() && s.chat != nil && !s.closing
}

// stopPeer closes the current peer connection, if any.
func (s *Session) stopPeer() {
	s.mu.Lock()
	run := s.conn
	s.conn = nil
	s.chat = nil
	s.mu.Unlock()
	s.setFilesConn(nil)
	if run != nil {
		s.closeCall(run)
		run.cancel()
		_ = run.pc.Close()
	}
}

func (s *Session) current(run *peerRun) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn == run && !s.closing
}

// disconnectGrace is how long a disconnected path may take to come back by
// itself (a short outage: ICE consent checks resume on the same pair)
// before the session negotiates a new connection through signaling, which
// also finds new addresses after a network change. pion itself would only
// declare the path failed after about 30 s.
const disconnectGrace = 6 * time.Second

// watchStates turns connection state changes into statuses, and replaces a
// path that failed or stayed disconnected past disconnectGrace.
func (s *Session) watchStates(ctx context.Context, run *peerRun) {
	var grace <-chan time.Time
	restart := func(after time.Duration) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			select {
			case <-time.After(after):
			case <-ctx.Done():
				return
			}
			if s.current(run) {
				s.log.Info("peer path lost; negotiating a new connection")
				s.startPeer()
			}
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-grace:
			if s.current(run) {
				restart(0)
			}
			return
		case st, ok := <-run.pc.States():
			if !ok || !s.current(run) {
				return
			}
			switch st {
			case peer.StateConnected:
				grace = nil
				s.setStatus(StatusConnected, run.pc.Route())
				if run.established.Load() {
					// Back by itself after a short outage.
					s.setStatus(StatusVerified, run.pc.Route())
				}
			case peer.StateDisconnected:
				s.setStatus(StatusReconnecting, "")
				if grace == nil && run.established.Load() {
					grace = time.After(disconnectGrace)
				}
			case peer.StateFailed:
				s.setStatus(StatusReconnecting, "")
				// The path is gone for good; negotiate a new one unless
				// the peer left (then we wait for it to come back).
				restart(time.Second)
				return
			}
		}
	}
}

// runPeer waits for verification, then runs chat until the connection ends.
func (s *Session) runPeer(ctx context.Context, run *peerRun) {
	stream, err := run.pc.Stream(ctx, peer.ChannelChat)
	if err != nil && ctx.Err() != nil {
		// The run was stopped (often because the peer hung up right after
		// its own verification failed). Its connection is being closed
		// now; take its final verdict, so a detected man in the middle is
		// not lost to the race.
		wctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err = run.pc.Stream(wctx, peer.ChannelChat)
		cancel()
		if err == nil {
			err = peer.ErrClosed
		}
	}
	if err != nil {
		// A failed verification ends the session even when the run was
		// already replaced (the peer hanging up after its own failure
		// often arrives first): someone may be in the middle.
		if errors.Is(err, peer.ErrVerifyFailed) {
			s.log.Warn("peer verification failed")
			s.finish(&Error{Code: CodeVerifyFailed, Reason: "the connection could not be verified with the room secret: someone may be in the middle"})
		}
		return
	}
	// Trust on first use: the first verified key is pinned; a different
	// one (the check on joining makes this a race only) ends the session.
	if !s.pin(run.peerKey) {
		_ = stream.Close()
		return
	}
	c := chat.NewConn(stream, &chatHandler{s: s, run: run}, s.log)
	// Install the chat only if this run is still the current one, in the
	// same critical section as the check: a run replaced or stopped in
	// between must not put a dead connection in place of a live one.
	s.mu.Lock()
	if s.conn != run || s.closing {
		s.mu.Unlock()
		_ = stream.Close()
		return
	}
	s.chat = c
	s.mu.Unlock()
	s.startFiles(ctx, run)
	if s.cfg.Calls != nil {
		s.startCall(ctx, run)
	}
	run.established.Store(true)
	if s.current(run) {
		s.setStatus(StatusVerified, run.pc.Route())
	}
	s.resendUnacked(c)
	s.resendOps(c)
	s.announceExpiry(c)
	err = c.Run(ctx)
	s.mu.Lock()
	mine := s.chat == c
	if mine {
		s.chat = nil
	}
	s.mu.Unlock()
	if mine {
		s.setFilesConnFor(run, nil)
		s.closeCall(run)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Debug("chat ended", "err", err)
	}
}

// resendUnacked sends again every outgoing message the peer has not
// acked. It runs on a connection verified with the pinned key only, and
// skips messages retired when the key changed (StateUndelivered).
func (s *Session) resendUnacked(c *chat.Conn) {
	msgs, err := s.cfg.History.Messages(s.key)
	if err != nil {
		s.log.Warn("read history for resend", "err", err)
		return
	}
	for _, m := range msgs {
		if !m.Outgoing || m.State == history.StateDelivered || m.State == history.StateUndelivered {
			continue
		}
		if err := c.SendWithID(chat.Message{ID: m.ID, SentAt: m.SentAt, Text: m.Text, ReplyTo: m.ReplyTo}); err != nil {
			return
		}
		if m.State != history.StateSent {
			_ = s.cfg.History.SetState(m.RoomKey, m.ID, history.StateSent)
		}
	}
}

// announceExpiry tells the peer the room's self-destruct time, if this
// side knows it (it created the room, or the peer told it). The peer keeps
// the first time it hears; only that known time makes a TIMER_EXPIRED
// from the server wipe the room.
func (s *Session) announceExpiry(c *chat.Conn) {
	r, ok, err := s.cfg.History.Room(s.key)
	if err != nil || !ok || r.ExpiresAt == nil {
		return
	}
	if err := c.SendSelfDestructAt(*r.ExpiresAt); err != nil {
		s.log.Debug("self-destruct time not sent", "err", err)
	}
}

// maxSelfDestruct bounds a self-destruct time the peer announces: the
// server allows 7 days; a day more covers clock differences.
const maxSelfDestruct = 8 * 24 * time.Hour

// rememberRoom records the room in recent rooms. Its key is made of the
// link's server and room id, so only a link to the same server (and, see
// sameSecret, with the same secret) ever reaches a stored room. Joining
// worked, so a room marked ended is not.
func (s *Session) rememberRoom() error {
	r, ok, err := s.cfg.History.Room(s.key)
	if err != nil {
		return fmt.Errorf("read room: %w", err)
	}
	now := time.Now()
	if !ok {
		r = history.Room{ID: s.cfg.Link.RoomID, Server: s.cfg.Link.Server, CreatedAt: now}
	}
	r.Link = s.cfg.Link.String()
	r.LastActive = now
	r.Ended = ""
	if err := s.cfg.History.PutRoom(r); err != nil {
		return fmt.Errorf("store room: %w", err)
	}
	return nil
}

// rememberTicket keeps the server's newest room ticket for later joins.
func (s *Session) rememberTicket(ticket string) {
	if r, ok, err := s.cfg.History.Room(s.key); err != nil || !ok || r.Ticket == ticket {
		return // nothing to write (every write is an fsync)
	}
	err := s.cfg.History.UpdateRoom(s.key, func(r *history.Room) error { r.Ticket = ticket; return nil })
	if err != nil && !errors.Is(err, history.ErrRoomNotFound) {
		s.log.Warn("store room ticket", "err", err)
	}
}

// chatHandler stores incoming messages and forwards chat events.
type chatHandler struct {
	s   *Session
	run *peerRun
	// pending is the message Receive stored, shown by AckQueued.
	pending *history.Message
	// changed is the message an operation Receive applied changed, shown
	// by AckQueued; changedOp is that operation.
	changed   *history.Message
	changedOp string
}

func (h *chatHandler) Receive(m chat.Message) error {
	if h.s.peerDestroyed.Load() {
		return errors.New("the room was destroyed")
	}
	h.pending, h.changed = nil, nil
	if m.Op != "" {
		changed, err := h.s.applyPeerOp(m)
		if err != nil {
			return err
		}
		h.changed, h.changedOp = changed, m.Op
		return nil
	}
	msg := history.Message{
		ID:      m.ID,
		RoomKey: h.s.key,
		Text:    m.Text,
		SentAt:  m.SentAt,
		State:   history.StateDelivered,
		ReplyTo: m.ReplyTo,
	}
	added, err := h.s.cfg.History.AddMessage(msg)
	if err != nil {
		return err
	}
	h.pending = nil
	if added {
		h.pending = &msg
	}
	return nil
}

// AckQueued shows a stored message once its ack is queued (see
// chat.AckObserver); Receive and AckQueued run on the same read loop.
func (h *chatHandler) AckQueued(chat.Message) {
	if m := h.pending; m != nil {
		h.pending = nil
		h.s.emit(MessageReceived{Message: *m})
	}
	if m := h.changed; m != nil {
		h.changed = nil
		h.s.emit(MessageChanged{Message: *m, Op: h.changedOp})
	}
}

func (h *chatHandler) Delivered(id string) {
	err := h.s.cfg.History.SetState(h.s.key, id, history.StateDelivered)
	if errors.Is(err, history.ErrMessageNotFound) {
		// Not a message: one of our operations, or an ack of one that a
		// later operation superseded.
		op, ok, oerr := h.s.cfg.History.OpDelivered(h.s.key, id)
		if ok {
			h.s.emit(OpDelivered{ID: id, Of: op.Of})
			return
		}
		err = errOr(oerr, err)
	}
	if err != nil {
		h.s.log.Debug("ack for unknown message", "err", err)
		return
	}
	h.s.emit(Delivered{ID: id})
}

func (h *chatHandler) Typing()     { h.s.emit(PeerTyping{}) }
func (h *chatHandler) Read(string) {}

// PeerDestroyed: the peer destroyed the room and said so over the verified
// channel, which the server cannot forge. The room is wiped here too, and
// the session ends with ROOM_DESTROYED when the server says so, or by
// itself shortly after (a server that withholds it changes nothing).
func (h *chatHandler) PeerDestroyed() {
	s := h.s
	if s.peerDestroyed.Swap(true) {
		return
	}
	s.log.Info("peer destroyed the room", "room", LogID(s.cfg.Link.RoomID))
	if err := s.cfg.History.Forget(s.key); err != nil {
		s.log.Warn("wipe destroyed room", "err", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-s.ctx.Done():
		case <-time.After(peerDestroyWait):
			s.finish(&Error{Code: protocol.CodeRoomDestroyed, Reason: "the other person destroyed the room"})
		}
	}()
}

// SelfDestructAt stores the room's self-destruct time as the peer knows
// it, unless this side knows one already (the creator's stands) or the
// time is implausible.
func (h *chatHandler) SelfDestructAt(t time.Time) {
	s := h.s
	now := time.Now()
	if t.Before(now.Add(-maxSelfDestruct)) || t.After(now.Add(maxSelfDestruct)) {
		s.log.Debug("implausible self-destruct time from the peer")
		return
	}
	changed := false
	err := s.cfg.History.UpdateRoom(s.key, func(r *history.Room) error {
		if r.ExpiresAt == nil {
			r.ExpiresAt, changed = &t, true
		}
		return nil
	})
	if err != nil {
		s.log.Debug("store self-destruct time", "err", err)
	}
	if changed {
		s.emit(RoomUpdated{})
	}
}

// newMessageID returns a random, globally unique message id.
func newMessageID() string {
	return randid.Base64(16)
}

// LogID is a short hash of a room id: enough to follow one room through
// logs without writing down the id that lets anyone join it.
func LogID(id string) string { return logid.Of(id) }
