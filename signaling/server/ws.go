package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/parley-chat/parley/internal/logid"
	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/turncred"
)

// closeGrace is how long the server waits for the client's half of the
// close handshake before cutting the TCP connection. Closing a socket with
// unread input makes the kernel send RST, which can destroy the error
// message the client has not read yet; waiting avoids that.
const closeGrace = 2 * time.Second

// conn is one /ws connection: the handler goroutine reads (the read pump),
// writePump writes; everything else talks to it through Send and closeWith,
// which never block.
type conn struct {
	s         *Server
	ws        *websocket.Conn
	ip        netip.Addr             // client address, for the per-client connection cap
	send      chan *protocol.Message // pointers: a queue of structs would cost kilobytes per idle connection
	quit      chan struct{}          // closed once the connection starts closing
	readDone  chan struct{}          // closed when the read pump returns
	writeDone chan struct{}          // closed when the write pump returns

	mu       sync.Mutex
	closing  bool
	graceful bool              // write queued messages, final and a close frame first
	final    *protocol.Message // last message before the close frame
	slow     bool              // dropped because its queue was full

	// Set by the read pump after a successful join; read only by it.
	roomID  string
	logRoom string
	logKey  string
}

var _ room.Conn = (*conn)(nil)

// Joined implements room.Conn.
func (c *conn) Joined(res room.JoinResult) {
	c.Send(protocol.Message{
		Type:       protocol.TypeJoined,
		RoomID:     res.Room.ID,
		Ticket:     mintTicket(c.s.cfg.TicketKey, res.Room),
		ICEServers: c.s.iceServers(time.Now(), res.Room),
		ExpiresAt:  millis(res.Room.ExpiresAt),
		Peer:       res.Peer,
		PeerOnline: res.PeerOnline,
	})
}

// Send implements room.Conn. A full queue means the client does not keep
// up: it is dropped rather than buffered without bound.
func (c *conn) Send(m protocol.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	select {
	case c.send <- &m:
	default:
		c.closing, c.graceful, c.slow = true, false, true
		close(c.quit)
	}
}

// Close implements room.Conn.
func (c *conn) Close(code string) {
	c.closeWith(protocol.Message{Type: protocol.TypeError, Code: code})
}

// closeWith queues final after whatever is queued and then closes the
// connection cleanly.
func (c *conn) closeWith(final protocol.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing, c.graceful, c.final = true, true, &final
	close(c.quit)
}

// closeQuietly closes cleanly with no error message (after a leave).
func (c *conn) closeQuietly() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing, c.graceful = true, true
	close(c.quit)
}

// abort closes the connection without further writes.
func (c *conn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing = true
	close(c.quit)
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

func (c *conn) write(m protocol.Message) error {
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout)); err != nil {
		return err
	}
	w, err := c.ws.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(w).Encode(m); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

// writePump owns every write on the socket except the automatic close and
// pong replies gorilla sends itself.
func (c *conn) writePump() {
	defer close(c.writeDone)
	ticker := time.NewTicker(c.s.cfg.PingInterval)
	defer ticker.Stop()
	for {
		select {
		case m := <-c.send:
			if err := c.write(*m); err != nil {
				c.abort()
				_ = c.ws.Close()
				return
			}
		case <-ticker.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.s.cfg.WriteTimeout)); err != nil {
				c.abort()
				_ = c.ws.Close()
				return
			}
		case <-c.quit:
			c.finish()
			return
		}
	}
}

func (c *conn) finish() {
	c.mu.Lock()
	graceful, final, slow := c.graceful, c.final, c.slow
	c.mu.Unlock()
	if slow {
		c.s.log.Info("dropping slow client", "room", c.logRoomSafe())
	}
	if graceful {
		ok := true
	drain:
		for ok {
			select {
			case m := <-c.send:
				ok = c.write(*m) == nil
			default:
				break drain
			}
		}
		closeCode, text := websocket.CloseNormalClosure, ""
		if ok && final != nil {
			ok = c.write(*final) == nil
			text = final.Code
			switch final.Code {
			case protocol.CodeShuttingDown:
				closeCode = websocket.CloseGoingAway
			case protocol.CodeBadRequest, protocol.CodeRateLimited, protocol.CodeUnauthorized, protocol.CodeUnsupportedVersion:
				closeCode = websocket.ClosePolicyViolation
			}
		}
		if ok && c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(closeCode, text), time.Now().Add(c.s.cfg.WriteTimeout)) == nil {
			t := time.NewTimer(closeGrace)
			select {
			case <-c.readDone:
			case <-t.C:
			}
			t.Stop()
		}
	}
	_ = c.ws.Close()
}

// logRoomSafe returns the room's log name; the write pump may only read it
// after the read pump is done, so it returns "" when unsure.
func (c *conn) logRoomSafe() string {
	select {
	case <-c.readDone:
		return c.logRoom
	default:
		return ""
	}
}

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	ip := clientIP(r, s.cfg.TrustedProxies)
	if ok, retry := s.joinLimiter.allow(ip); !ok {
		s.metrics.httpLimited.WithLabelValues("ws").Inc()
		writeRateLimited(w, retry)
		return
	}
	if !s.admitConn(w, ip) {
		return
	}
	s.mu.Lock()
	if s.shutting {
		s.mu.Unlock()
		s.connEnded(ip)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, protocol.CodeShuttingDown)
		return
	}
	if len(s.conns)+s.reserved >= s.cfg.MaxConns {
		s.mu.Unlock()
		s.connEnded(ip)
		writeError(w, http.StatusServiceUnavailable, protocol.CodeServerBusy)
		return
	}
	s.reserved++
	s.wg.Add(1)
	s.mu.Unlock()

	ws, err := s.upgrader.Upgrade(w, r, nil)
	s.mu.Lock()
	s.reserved--
	if err != nil {
		s.mu.Unlock()
		s.connEnded(ip)
		s.wg.Done()
		return // the upgrader has answered
	}
	c := &conn{
		s:         s,
		ws:        ws,
		ip:        ip,
		send:      make(chan *protocol.Message, s.cfg.SendQueue),
		quit:      make(chan struct{}),
		readDone:  make(chan struct{}),
		writeDone: make(chan struct{}),
	}
	s.conns[c] = struct{}{}
	shutting := s.shutting
	s.mu.Unlock()
	s.metrics.connections.Inc()
	if shutting {
		c.closeWith(protocol.Message{Type: protocol.TypeError, Code: protocol.CodeShuttingDown, RetryAfter: 1})
	}
	// The connection gets its own goroutines and this handler returns, so
	// net/http can free its per-request state (buffers, request, response)
	// for the life of the WebSocket: that halves an idle connection's cost.
	go c.serve()
}

// serve runs the connection to its end: it starts the write pump, reads in
// this goroutine and cleans up. It owns one count of s.wg.
func (c *conn) serve() {
	s := c.s
	defer s.wg.Done()
	go c.writePump()
	ctx := context.Background()
	c.readPump(ctx)
	close(c.readDone)
	c.abort()
	if c.roomID != "" {
		if err := s.rooms.Leave(ctx, c.roomID, c); err != nil {
			s.log.Warn("leave room", "room", c.logRoom, "err", err)
		}
		s.log.Debug("connection ended", "room", c.logRoom, "key", c.logKey)
	}
	<-c.writeDone

	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.connEnded(c.ip)
	s.metrics.connections.Dec()
}

// readPump runs the join handshake and then reads client messages until
// the connection ends.
func (c *conn) readPump(ctx context.Context) {
	s := c.s
	c.ws.SetReadLimit(int64(s.cfg.MaxMessageBytes))
	nonce := make([]byte, protocol.NonceSize)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (it panics instead)
	c.Send(protocol.Message{Type: protocol.TypeChallenge, Nonce: b64.EncodeToString(nonce)})

	_ = c.ws.SetReadDeadline(time.Now().Add(s.cfg.JoinTimeout))
	if !c.join(ctx, nonce) {
		c.drain()
		return
	}

	readTimeout := s.cfg.PingInterval * 5 / 2
	_ = c.ws.SetReadDeadline(time.Now().Add(readTimeout))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(readTimeout))
	})
	limiter := rate.NewLimiter(rate.Limit(s.cfg.MessageRate), s.cfg.MessageBurst)
	bad := 0
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				s.metrics.rejected.WithLabelValues(rejectTooLarge).Inc()
				s.log.Info("message too large, closing", "room", c.logRoom)
			}
			return
		}
		if c.isClosing() {
			continue // closing: wait for the client's close frame
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(readTimeout))
		if !limiter.Allow() {
			s.metrics.rejected.WithLabelValues(rejectRateLimited).Inc()
			s.log.Info("client over message rate, closing", "room", c.logRoom)
			c.closeWith(protocol.Message{Type: protocol.TypeError, Code: protocol.CodeRateLimited, RetryAfter: 1})
			continue
		}
		var m protocol.Message
		if typ != websocket.TextMessage {
			err = badFrame("binary messages are not part of the protocol")
		} else {
			m, err = DecodeClientMessage(data, s.cfg.MaxMessageBytes)
		}
		if err == nil && m.Type == protocol.TypeJoin {
			err = badFrame("already joined")
		}
		if err != nil {
			s.metrics.rejected.WithLabelValues(rejectBadRequest).Inc()
			bad++
			reason := ""
			var fe *FrameError
			if errors.As(err, &fe) {
				reason = fe.Reason
			}
			em := protocol.Message{Type: protocol.TypeError, Code: protocol.CodeBadRequest, Reason: reason}
			if bad >= s.cfg.MaxBadFrames {
				s.log.Info("too many invalid messages, closing", "room", c.logRoom)
				em.Reason = "too many invalid messages"
				c.closeWith(em)
			} else {
				c.Send(em)
			}
			continue
		}
		c.handle(ctx, m)
	}
}

// join reads and checks the join message. On failure it has queued the
// error and started closing.
func (c *conn) join(ctx context.Context, nonce []byte) bool {
	s := c.s
	fail := func(code, reason string) bool {
		s.metrics.joins.WithLabelValues(code).Inc()
		c.closeWith(protocol.Message{Type: protocol.TypeError, Code: code, Reason: reason})
		return false
	}
	typ, data, err := c.ws.ReadMessage()
	if err != nil {
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			return fail(protocol.CodeBadRequest, "no join message in time")
		}
		s.metrics.joins.WithLabelValues("no_join").Inc()
		return false
	}
	if typ != websocket.TextMessage {
		return fail(protocol.CodeBadRequest, "expected a join message")
	}
	m, err := DecodeClientMessage(data, s.cfg.MaxMessageBytes)
	if err != nil {
		var fe *FrameError
		if errors.As(err, &fe) {
			return fail(fe.Code, fe.Reason)
		}
		return fail(protocol.CodeBadRequest, "")
	}
	if m.Type != protocol.TypeJoin {
		return fail(protocol.CodeBadRequest, "expected a join message")
	}
	key, err := VerifyJoin(m, nonce)
	if err != nil {
		var fe *FrameError
		errors.As(err, &fe)
		return fail(fe.Code, fe.Reason)
	}
	verifier, err := VerifyRoomProof(m, nonce)
	if err != nil {
		var fe *FrameError
		errors.As(err, &fe)
		return fail(fe.Code, fe.Reason)
	}
	c.logRoom, c.logKey = logid.Of(m.RoomID), logid.Of(key)
	res, err := s.rooms.Join(ctx, m.RoomID, key, verifier, c)
	if errors.Is(err, room.ErrNotFound) && m.Ticket != "" {
		err = s.restore(ctx, m.RoomID, m.Ticket)
		if err == nil {
			res, err = s.rooms.Join(ctx, m.RoomID, key, verifier, c)
		}
	}
	if errors.Is(err, room.ErrUnauthorized) && m.Version < 2 {
		// An app older than the room: it cannot prove the secret. Say
		// what helps (update) rather than "check your key".
		s.log.Debug("join refused", "room", c.logRoom, "key", c.logKey, "code", protocol.CodeUnsupportedVersion)
		return fail(protocol.CodeUnsupportedVersion, "this room requires protocol version 2: update the app")
	}
	if err != nil {
		code := room.Code(err)
		if code == protocol.CodeInternal {
			s.log.Error("join room", "room", c.logRoom, "err", err)
		}
		s.log.Debug("join refused", "room", c.logRoom, "key", c.logKey, "code", code)
		return fail(code, "")
	}
	c.roomID = m.RoomID
	s.metrics.joins.WithLabelValues("ok").Inc()
	s.log.Debug("joined", "room", c.logRoom, "key", c.logKey, "rejoin", res.Rejoin, "peerOnline", res.PeerOnline)
	return true
}

// restore brings back a room this server lost, from a ticket it signed.
// It returns room.ErrNotFound for a bad ticket, so a forged or foreign
// ticket looks exactly like an unknown room.
func (s *Server) restore(ctx context.Context, id, ticket string) error {
	info, err := parseTicket(s.cfg.TicketKey, id, ticket)
	if err != nil {
		s.metrics.restores.WithLabelValues("bad_ticket").Inc()
		return room.ErrNotFound
	}
	got, err := s.rooms.Restore(ctx, info)
	if err != nil {
		s.metrics.restores.WithLabelValues(strings.ToLower(room.Code(err))).Inc()
		return err
	}
	s.metrics.restores.WithLabelValues("ok").Inc()
	s.log.Info("room restored from ticket", "room", logid.Of(id), "selfDestruct", !got.ExpiresAt.IsZero())
	return nil
}

// drain reads (and ignores) until the connection ends, so the close
// handshake can complete.
func (c *conn) drain() {
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			return
		}
	}
}

func (c *conn) handle(ctx context.Context, m protocol.Message) {
	s := c.s
	switch m.Type {
	case protocol.TypeSignal:
		err := s.rooms.Relay(ctx, c.roomID, c, protocol.Message{Type: protocol.TypeSignal, Signal: m.Signal})
		switch {
		case err == nil:
			s.metrics.relayed.Inc()
		case errors.Is(err, room.ErrPeerOffline):
			s.metrics.rejected.WithLabelValues(rejectPeerOffline).Inc()
		default:
			s.metrics.rejected.WithLabelValues(rejectNotMember).Inc()
		}
	case protocol.TypeLeave:
		if err := s.rooms.Leave(ctx, c.roomID, c); err != nil {
			s.log.Warn("leave room", "room", c.logRoom, "err", err)
		}
		s.log.Debug("left", "room", c.logRoom, "key", c.logKey)
		c.closeQuietly()
	case protocol.TypeDestroy:
		if err := s.rooms.Destroy(ctx, c.roomID, c); err != nil {
			// Already gone or replaced: tell this connection why.
			c.Close(room.Code(err))
			return
		}
		s.log.Info("room destroyed", "room", c.logRoom)
	}
}

// iceServers returns the configured ICE servers, with fresh TURN
// credentials for a member of r when a TURN secret is configured: bound to
// the room (the embedded relay refuses them once it has ended) and never
// valid past its self-destruct time (plus turnGrace).
func (s *Server) iceServers(now time.Time, r room.Info) []protocol.ICEServer {
	if len(s.cfg.ICEServers) == 0 {
		return nil
	}
	expiry := now.Add(s.cfg.TURNCredentialTTL)
	if end := r.ExpiresAt.Add(turnGrace); !r.ExpiresAt.IsZero() && end.Before(expiry) {
		expiry = end
	}
	out := make([]protocol.ICEServer, len(s.cfg.ICEServers))
	for i, srv := range s.cfg.ICEServers {
		out[i] = protocol.ICEServer{URLs: append([]string(nil), srv.URLs...), Username: srv.Username, Credential: srv.Credential}
		if s.cfg.TURNSecret != "" && srv.Username == "" && isTURN(srv.URLs) {
			out[i].Username, out[i].Credential = turncred.Mint(s.cfg.TURNSecret, r.ID, expiry)
		}
	}
	return out
}

// turnGrace is how long TURN credentials outlive a room's self-destruct
// time, so a clock a little off does not cut the last minute of a call.
const turnGrace = 2 * time.Minute

func isTURN(urls []string) bool {
	for _, u := range urls {
		if strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:") {
			return true
		}
	}
	return false
}
