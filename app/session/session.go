// Package session is one joined room: it glues the signaling client, the
// peer connection, the chat protocol and local history together, and turns
// what happens into a stream of events for the UI or the CLI.
//
// It owns the reconnection rules: when the peer joins or rejoins, a fresh
// peer connection is negotiated; when the peer leaves, the session waits for
// it; messages that were sent but not yet acknowledged are sent again (with
// their original ids, so the receiver stores them once) after every
// reconnect. It must not import Wails.
package session

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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
	"github.com/parley-chat/parley/signaling/protocol"
)

// Error codes the session adds to the signaling server's codes.
const (
	CodePeerOffline  = "PEER_OFFLINE"
	CodeVerifyFailed = "VERIFY_FAILED"
	CodeTimeout      = "TIMEOUT"
)

// ErrPeerOffline is returned by Send while no verified connection to the
// peer exists. Nothing was stored or sent; the caller keeps the text.
var ErrPeerOffline = &sigclient.Error{Code: CodePeerOffline, Reason: "the other person is not connected; the message was not sent"}

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

// Closed is the last event. Err is nil after Close, or a *sigclient.Error
// carrying a code (ROOM_DESTROYED, TIMER_EXPIRED, VERIFY_FAILED, ...).
type Closed struct{ Err error }

func (StatusChanged) isEvent()   {}
func (MessageReceived) isEvent() {}
func (Delivered) isEvent()       {}
func (PeerTyping) isEvent()      {}
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
	// AskLargeFile decides offers above AutoAcceptMax (nil = decline).
	AskLargeFile func(transfer.Offer) bool
	// CorruptHook is a test hook handed to transfer.Config (nil in use).
	CorruptHook func(offset int64, chunk []byte)
}

// Session is one joined room.
type Session struct {
	cfg    Config
	log    *slog.Logger
	sig    *sigclient.Client
	events chan Event
	budget *transfer.Budget // what the peer may still store (all reconnects)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	startMu sync.Mutex // serializes startPeer
	mu      sync.Mutex
	peerKey ed25519.PublicKey
	ice     []protocol.ICEServer
	conn    *peerRun // current peer connection attempt, nil while none
	chat    *chat.Conn
	files   *transfer.Conn // nil while no verified connection
	// filesChanged is closed (and replaced) whenever files changes.
	filesChanged chan struct{}
	status       Status
	closing      bool
	closeOnce    sync.Once
	// emitMu guards eventsClosed: emit holds it shared while sending, the
	// final goroutine takes it exclusively before it closes events.
	emitMu       sync.RWMutex
	eventsClosed bool
	finalErr     error
}

// peerRun is one peer connection attempt and what runs on it.
type peerRun struct {
	pc     *peer.Conn
	cancel context.CancelFunc
	// lastRemoteSession is the peer's session id on the newest description
	// it sent; only the signal loop touches it.
	lastRemoteSession string
	// established is set once the connection was verified.
	established atomic.Bool
}

// Join connects to the signaling server and joins the room. Errors that
// make joining impossible (ROOM_NOT_FOUND, ROOM_FULL, ...) are returned as
// *sigclient.Error. The first event is a StatusChanged.
func Join(ctx context.Context, cfg Config) (*Session, error) {
	if cfg.Identity == nil || cfg.History == nil {
		return nil, errors.New("session: identity and history are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A room ticket from an earlier visit lets a restarted server bring the
	// room back instead of saying ROOM_NOT_FOUND.
	var ticket string
	if r, ok, err := cfg.History.Room(cfg.Link.RoomID); err == nil && ok {
		ticket = r.Ticket
	}
	sig, err := sigclient.Dial(ctx, sigclient.Config{
		ServerURL: cfg.Link.Server,
		RoomID:    cfg.Link.RoomID,
		Key:       cfg.Identity.PrivateKey(),
		Logger:    log,
		Reconnect: true,
		Ticket:    ticket,
	})
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		cfg:    cfg,
		log:    log,
		sig:    sig,
		events: make(chan Event, 256),
		budget: transfer.NewBudget(cfg.ReceiveLimits),
		ctx:    sctx,
		cancel: cancel,
	}
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
	return s, nil
}

// Events delivers what happens, in order. It is closed after Closed.
func (s *Session) Events() <-chan Event { return s.events }

// Link returns the room link.
func (s *Session) Link() Link { return s.cfg.Link }

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
		RoomID:   s.cfg.Link.RoomID,
		Outgoing: true,
		Text:     text,
		SentAt:   time.Now(),
		State:    history.StateSending,
	}
	if _, err := s.cfg.History.AddMessage(m); err != nil {
		return history.Message{}, fmt.Errorf("store message: %w", err)
	}
	if err := c.SendWithID(chat.Message{ID: m.ID, SentAt: m.SentAt, Text: m.Text}); err != nil {
		// The connection dropped under us: mark it so and give the text back.
		_ = s.cfg.History.SetState(m.RoomID, m.ID, history.StateFailed)
		m.State = history.StateFailed
		return m, ErrPeerOffline
	}
	if err := s.cfg.History.SetState(m.RoomID, m.ID, history.StateSent); err != nil {
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

// Destroy destroys the room on the server (the peer is told) and wipes its
// local history. The session ends with ROOM_DESTROYED.
func (s *Session) Destroy(ctx context.Context) error {
	if err := s.sig.Destroy(ctx); err != nil {
		return fmt.Errorf("destroy room: %w", err)
	}
	if err := s.cfg.History.Forget(s.cfg.Link.RoomID); err != nil {
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
		s.mu.Unlock()
		if run != nil {
			run.cancel()
			_ = run.pc.Close()
		}
		s.setFilesConn(nil)
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
			for _, ev := range []Event{StatusChanged{Status: StatusClosed}, Closed{Err: err}} {
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
	s.mu.Unlock()
	s.emit(StatusChanged{Status: st, Route: route})
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
				if e.Err != nil {
					var se *sigclient.Error
					if errors.As(e.Err, &se) && (se.Code == protocol.CodeRoomDestroyed || se.Code == protocol.CodeTimerExpired) {
						// Destroyed by the other side, or self-destructed:
						// nothing of the room stays on this computer either.
						if err := s.cfg.History.Forget(s.cfg.Link.RoomID); err != nil {
							s.log.Warn("wipe destroyed room", "err", err)
						}
					}
				}
				s.finish(e.Err)
				return
			}
		}
	}
}

func (s *Session) onJoined(e sigclient.Joined) {
	s.mu.Lock()
	s.ice = e.ICEServers
	if e.Peer != nil {
		s.peerKey = e.Peer
	}
	s.mu.Unlock()
	if e.Peer != nil {
		s.rememberPeer(e.Peer)
	}
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
		s.mu.Lock()
		same := bytes.Equal(s.peerKey, e.Key)
		s.peerKey = e.Key
		s.mu.Unlock()
		s.rememberPeer(e.Key)
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
	run := &peerRun{pc: pc, cancel: cancel}
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

// Peer returns the current verified peer connection, or nil while there
// is none. Calls ride on it (app/call); when the session replaces it (the
// path failed, the peer restarted) the old one is closed, which ends
// whatever used it.
func (s *Session) Peer() *peer.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil || !s.conn.established.Load() || s.closing {
		return nil
	}
	return s.conn.pc
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
	stream, err := run.pc.WaitVerified(ctx)
	if err != nil && ctx.Err() != nil {
		// The run was stopped (often because the peer hung up right after
		// its own verification failed). Its connection is being closed
		// now; take its final verdict, so a detected man in the middle is
		// not lost to the race.
		wctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err = run.pc.WaitVerified(wctx)
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
			s.finish(&sigclient.Error{Code: CodeVerifyFailed, Reason: "the connection could not be verified with the room secret: someone may be in the middle"})
		}
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
	run.established.Store(true)
	if s.current(run) {
		s.setStatus(StatusVerified, run.pc.Route())
	}
	s.resendUnacked(c)
	err = c.Run(ctx)
	s.mu.Lock()
	mine := s.chat == c
	if mine {
		s.chat = nil
	}
	s.mu.Unlock()
	if mine {
		s.setFilesConnFor(run, nil)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Debug("chat ended", "err", err)
	}
}

// resendUnacked sends again every outgoing message the peer has not acked.
func (s *Session) resendUnacked(c *chat.Conn) {
	msgs, err := s.cfg.History.Messages(s.cfg.Link.RoomID)
	if err != nil {
		s.log.Warn("read history for resend", "err", err)
		return
	}
	for _, m := range msgs {
		if !m.Outgoing || m.State == history.StateDelivered {
			continue
		}
		if err := c.SendWithID(chat.Message{ID: m.ID, SentAt: m.SentAt, Text: m.Text}); err != nil {
			return
		}
		if m.State != history.StateSent {
			_ = s.cfg.History.SetState(m.RoomID, m.ID, history.StateSent)
		}
	}
}

// rememberRoom records the room in recent rooms.
func (s *Session) rememberRoom() error {
	id := s.cfg.Link.RoomID
	r, ok, err := s.cfg.History.Room(id)
	if err != nil {
		return fmt.Errorf("read room: %w", err)
	}
	now := time.Now()
	if !ok {
		r = history.Room{ID: id, CreatedAt: now}
	}
	r.Server = s.cfg.Link.Server
	r.Link = s.cfg.Link.String()
	r.LastActive = now
	if err := s.cfg.History.PutRoom(r); err != nil {
		return fmt.Errorf("store room: %w", err)
	}
	return nil
}

func (s *Session) rememberPeer(key ed25519.PublicKey) {
	r, ok, err := s.cfg.History.Room(s.cfg.Link.RoomID)
	if err != nil || !ok || bytes.Equal(r.PeerKey, key) {
		return
	}
	r.PeerKey = append([]byte(nil), key...)
	if err := s.cfg.History.PutRoom(r); err != nil {
		s.log.Warn("store peer key", "err", err)
	}
}

// rememberTicket keeps the server's newest room ticket for later joins.
func (s *Session) rememberTicket(ticket string) {
	r, ok, err := s.cfg.History.Room(s.cfg.Link.RoomID)
	if err != nil || !ok || r.Ticket == ticket {
		return
	}
	r.Ticket = ticket
	if err := s.cfg.History.PutRoom(r); err != nil {
		s.log.Warn("store room ticket", "err", err)
	}
}

// chatHandler stores incoming messages and forwards chat events.
type chatHandler struct {
	s   *Session
	run *peerRun
	// pending is the message Receive stored, shown by AckQueued.
	pending *history.Message
}

func (h *chatHandler) Receive(m chat.Message) error {
	msg := history.Message{
		ID:     m.ID,
		RoomID: h.s.cfg.Link.RoomID,
		Text:   m.Text,
		SentAt: m.SentAt,
		State:  history.StateDelivered,
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
}

func (h *chatHandler) Delivered(id string) {
	if err := h.s.cfg.History.SetState(h.s.cfg.Link.RoomID, id, history.StateDelivered); err != nil {
		h.s.log.Debug("ack for unknown message", "err", err)
		return
	}
	h.s.emit(Delivered{ID: id})
}

func (h *chatHandler) Typing()     { h.s.emit(PeerTyping{}) }
func (h *chatHandler) Read(string) {}

// newMessageID returns a random, globally unique message id.
func newMessageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// LogID is a short hash of a room id: enough to follow one room through
// logs without writing down the id that lets anyone join it.
func LogID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:4])
}
