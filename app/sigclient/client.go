package sigclient

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-chat/parley/internal/logid"
	"github.com/parley-chat/parley/signaling/protocol"
)

// Timings and limits of one WebSocket connection.
const (
	// handshakeTimeout bounds dialing plus the challenge/join exchange.
	handshakeTimeout = 10 * time.Second
	// writeWait bounds one frame write.
	writeWait = 10 * time.Second
	// pongWait is how long the connection may stay silent (no frame, no
	// pong) before it is considered dead.
	pongWait = 60 * time.Second
	// pingPeriod must be shorter than pongWait (ours and the server's).
	pingPeriod = 25 * time.Second
	// closeGrace is how long Close waits for the server's close frame.
	closeGrace = time.Second
	// maxReadBytes caps one frame from the server: a relayed signal of the
	// maximum size plus its envelope.
	maxReadBytes = 2 * protocol.DefaultMaxMessageBytes
	// eventBuffer decouples the read goroutine from a briefly busy consumer.
	eventBuffer = 64
)

// Reconnect backoff: exponential from backoffBase, capped at backoffMax,
// with full jitter so that clients dropped together do not return together.
const (
	backoffBase = 250 * time.Millisecond
	backoffMax  = 10 * time.Second
)

// Config says where and as whom a Client joins.
type Config struct {
	// ServerURL is the server's base URL, http(s)://host[:port][/prefix];
	// the WebSocket URL is derived from it (ws(s)://.../ws).
	ServerURL string
	// RoomID is the room to join.
	RoomID string
	// Key is the participant's identity; its public half is the room
	// membership and it signs the server's join challenge.
	Key ed25519.PrivateKey
	// RoomKey is protocol.RoomKey(link secret). Its public half is the
	// room's verifier; it signs the proof, bound to each connection's
	// nonce, that this participant holds the link (protocol version 2).
	// The link secret itself never reaches this package.
	RoomKey ed25519.PrivateKey
	// Logger receives connection-level logs; nil discards them.
	Logger *slog.Logger
	// Reconnect makes the client reconnect, with exponential backoff and
	// full jitter, after transport loss or SHUTTING_DOWN instead of ending.
	Reconnect bool
	// Ticket is the room ticket from an earlier Joined, if any. It is sent
	// with the join (and the newest ticket with every rejoin), so a server
	// that lost its rooms by restarting brings this one back.
	Ticket string
}

// Client is one participant's signaling session in one room. Create it with
// Dial, read Events until it is closed, and always call Close.
type Client struct {
	cfg    Config
	log    *slog.Logger
	wsURL  string
	dialer *websocket.Dialer

	events chan Event
	out    chan outbound // frames for the current connection's writer

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	ticket string // newest room ticket; only the goroutine that joins touches it

	ended    chan struct{} // closed once finalErr is set
	finalErr error         // why the session ended; nil after Close
	done     chan struct{} // closed when every goroutine has returned
}

// outbound is one frame queued for the writer, with a place for the result.
type outbound struct {
	data []byte
	sent chan error // buffered(1): the writer never blocks on it
}

// Dial connects to the server, answers its challenge and joins cfg.RoomID.
// A refusal by the server (ROOM_FULL, ROOM_NOT_FOUND, UNAUTHORIZED, ...) is
// returned as an *Error. ctx bounds only the dial and the join; the session
// then lives until Close or until the server ends it. The first event on
// Events is the Joined for this join.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	ws, err := wsURL(cfg.ServerURL)
	if err != nil {
		return nil, fmt.Errorf("dial signaling: %w", err)
	}
	if !protocol.ValidRoomID(cfg.RoomID) {
		return nil, fmt.Errorf("dial signaling: %w", &Error{Code: protocol.CodeBadRequest, Reason: "malformed room id"})
	}
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("dial signaling: Key is not an Ed25519 private key")
	}
	if len(cfg.RoomKey) != ed25519.PrivateKeySize {
		return nil, errors.New("dial signaling: RoomKey is not an Ed25519 private key")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		cfg:   cfg,
		log:   log.With("room", roomTag(cfg.RoomID)),
		wsURL: ws,
		dialer: &websocket.Dialer{
			Proxy:            http.ProxyFromEnvironment,
			HandshakeTimeout: handshakeTimeout,
			ReadBufferSize:   4 << 10,
			WriteBufferSize:  4 << 10,
		},
		ticket: cfg.Ticket,
		events: make(chan Event, eventBuffer),
		out:    make(chan outbound),
		ended:  make(chan struct{}),
		done:   make(chan struct{}),
	}
	conn, joined, err := c.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("join room %s: %w", roomTag(cfg.RoomID), err)
	}
	c.log.Info("signaling joined", "peerOnline", joined.PeerOnline)
	c.events <- joined // cannot block: the buffer is empty
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.run(conn)
	return c, nil
}

// Events delivers what happens on the session, in order. The last event is
// a Closed, after which the channel is closed. Read it promptly: while the
// buffer is full the client stops reading from the server.
func (c *Client) Events() <-chan Event { return c.events }

// Send relays s to the other participant through the server. While the
// client is reconnecting, Send waits (bounded by ctx) for the new
// connection; after the session ended it returns ErrClosed.
func (c *Client) Send(ctx context.Context, s protocol.Signal) error {
	data, err := json.Marshal(protocol.Message{Type: protocol.TypeSignal, Signal: &s})
	if err != nil {
		return fmt.Errorf("send signal: %w", err)
	}
	if len(data) > protocol.DefaultMaxMessageBytes {
		return fmt.Errorf("send signal: %d bytes exceeds the %d-byte limit", len(data), protocol.DefaultMaxMessageBytes)
	}
	if err := c.write(ctx, data); err != nil {
		return fmt.Errorf("send signal: %w", err)
	}
	return nil
}

// Destroy asks the server to destroy the room for both participants and
// waits, bounded by ctx, until the server confirms with ROOM_DESTROYED.
// The session then ends with Closed{Err: *Error{Code: ROOM_DESTROYED}}.
func (c *Client) Destroy(ctx context.Context) error {
	data, err := json.Marshal(protocol.Message{Type: protocol.TypeDestroy})
	if err != nil {
		return fmt.Errorf("destroy room: %w", err)
	}
	if err := c.write(ctx, data); err != nil {
		return fmt.Errorf("destroy room: %w", err)
	}
	select {
	case <-c.ended:
	case <-ctx.Done():
		return fmt.Errorf("destroy room: %w", ctx.Err())
	}
	switch {
	case IsCode(c.finalErr, protocol.CodeRoomDestroyed):
		return nil
	case c.finalErr == nil:
		return fmt.Errorf("destroy room: %w", ErrClosed)
	default:
		return fmt.Errorf("destroy room: session ended: %w", c.finalErr)
	}
}

// Close leaves the room (the server tells the other participant), closes
// the connection and waits for the client's goroutines. It is safe to call
// more than once and after the server ended the session.
func (c *Client) Close() error {
	c.cancel()
	<-c.done
	return nil
}

// write hands one frame to the current connection's writer and waits for
// the result.
func (c *Client) write(ctx context.Context, data []byte) error {
	ob := outbound{data: data, sent: make(chan error, 1)}
	select {
	case c.out <- ob:
	case <-c.ended:
		return ErrClosed
	case <-c.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-ob.sent:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// emit delivers ev unless the client is closing.
func (c *Client) emit(ev Event) bool {
	select {
	case c.events <- ev:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// run owns the session: it serves each connection, reconnects when allowed,
// and finally delivers Closed and closes Events.
func (c *Client) run(conn *websocket.Conn) {
	defer close(c.done)
	err := c.loop(conn)
	c.finalErr = err
	close(c.ended)
	if err != nil {
		c.log.Info("signaling session ended", "err", err)
	} else {
		c.log.Debug("signaling session closed")
	}
	ev := Closed{Err: err}
	select {
	case c.events <- ev: // delivered even after Close when there is room
	default:
		c.emit(ev)
	}
	close(c.events)
}

// loop serves connections until the session ends and returns why (nil
// after Close).
func (c *Client) loop(conn *websocket.Conn) error {
	for {
		err := c.serve(conn)
		if c.ctx.Err() != nil {
			return nil
		}
		if !c.cfg.Reconnect || isFatal(err) {
			return err
		}
		c.log.Info("signaling connection lost", "err", err)
		if conn, err = c.reconnect(err); conn == nil {
			return err
		}
	}
}

// reconnect dials until it joins again, the server refuses for good, or
// the client is closed (nil, nil).
func (c *Client) reconnect(cause error) (*websocket.Conn, error) {
	for attempt := 1; ; attempt++ {
		delay := backoff(attempt)
		var e *Error
		if errors.As(cause, &e) && e.RetryAfter > delay {
			delay = e.RetryAfter
		}
		if !c.emit(Reconnecting{Attempt: attempt, Err: cause, Delay: delay}) {
			return nil, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return nil, nil
		}
		conn, joined, err := c.connect(c.ctx)
		if err == nil {
			joined.Reconnected = true
			c.log.Info("signaling rejoined", "attempt", attempt, "peerOnline", joined.PeerOnline)
			if !c.emit(joined) {
				conn.Close()
				return nil, nil
			}
			return conn, nil
		}
		if c.ctx.Err() != nil {
			return nil, nil
		}
		if isFatal(err) {
			return nil, err
		}
		c.log.Debug("signaling reconnect failed", "attempt", attempt, "err", err)
		cause = err
	}
}

// backoff returns the delay before reconnect attempt n (from 1): uniform in
// [0, min(backoffMax, backoffBase·2^(n-1))].
func backoff(n int) time.Duration {
	ceil := backoffMax
	if n < 16 {
		ceil = min(backoffMax, backoffBase<<(n-1))
	}
	return rand.N(ceil + 1)
}

// connect dials the WebSocket and performs the challenge/join handshake.
func (c *Client) connect(ctx context.Context) (*websocket.Conn, Joined, error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	conn, resp, err := c.dialer.DialContext(ctx, c.wsURL, nil)
	if err != nil {
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			return nil, Joined{}, fmt.Errorf("websocket handshake: %w", responseError(resp))
		}
		return nil, Joined{}, fmt.Errorf("dial: %w", err)
	}
	conn.SetReadLimit(maxReadBytes)
	// Cancelling ctx (Close, or the timeout) aborts a handshake blocked in
	// a read or a write.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	joined, err := c.handshake(ctx, conn)
	if !stop() || err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, Joined{}, fmt.Errorf("join handshake: %w", ctx.Err())
		}
		return nil, Joined{}, err
	}
	return conn, joined, nil
}

// handshake answers the server's challenge and reads its verdict.
func (c *Client) handshake(ctx context.Context, conn *websocket.Conn) (Joined, error) {
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
		conn.SetWriteDeadline(dl)
	}
	m, err := readMessage(conn)
	if err != nil {
		return Joined{}, fmt.Errorf("read challenge: %w", err)
	}
	switch m.Type {
	case protocol.TypeChallenge:
	case protocol.TypeError:
		return Joined{}, errorFromMessage(m)
	default:
		return Joined{}, fmt.Errorf("read challenge: unexpected %q message", m.Type)
	}
	nonce, err := b64.DecodeString(m.Nonce)
	if err != nil || len(nonce) != protocol.NonceSize {
		return Joined{}, errors.New("read challenge: malformed nonce")
	}
	pub := c.cfg.Key.Public().(ed25519.PublicKey)
	join := protocol.Message{
		Type:      protocol.TypeJoin,
		Version:   protocol.Version,
		RoomID:    c.cfg.RoomID,
		PublicKey: b64.EncodeToString(pub),
		Signature: b64.EncodeToString(ed25519.Sign(c.cfg.Key, protocol.JoinSigningBytes(c.cfg.RoomID, nonce))),
		Verifier:  b64.EncodeToString(c.cfg.RoomKey.Public().(ed25519.PublicKey)),
		Proof:     b64.EncodeToString(ed25519.Sign(c.cfg.RoomKey, protocol.ProofSigningBytes(c.cfg.RoomID, nonce, pub))),
		Ticket:    c.ticket,
	}
	if err := conn.WriteJSON(join); err != nil {
		return Joined{}, fmt.Errorf("send join: %w", err)
	}
	m, err = readMessage(conn)
	if err != nil {
		return Joined{}, fmt.Errorf("read join reply: %w", err)
	}
	switch m.Type {
	case protocol.TypeJoined:
		if m.RoomID != "" && m.RoomID != c.cfg.RoomID {
			return Joined{}, errors.New("read join reply: joined another room")
		}
		j, err := joinedFromMessage(m)
		if err == nil && j.Ticket != "" {
			c.ticket = j.Ticket
		}
		return j, err
	case protocol.TypeError:
		return Joined{}, errorFromMessage(m)
	default:
		return Joined{}, fmt.Errorf("read join reply: unexpected %q message", m.Type)
	}
}

// readMessage reads and decodes one text frame.
func readMessage(conn *websocket.Conn) (protocol.Message, error) {
	typ, data, err := conn.ReadMessage()
	if err != nil {
		return protocol.Message{}, err
	}
	if typ != websocket.TextMessage {
		return protocol.Message{}, errors.New("unexpected binary frame")
	}
	return decodeMessage(data)
}

// serve runs one joined connection: a read goroutine turns frames into
// events, and this goroutine writes queued frames and pings. It returns why
// the connection ended; a server error message (*Error) wins over the
// transport error that follows it.
func (c *Client) serve(conn *websocket.Conn) error {
	var (
		readErr  error
		readDone = make(chan struct{})
		stopRead = make(chan struct{})
		wg       sync.WaitGroup
	)
	conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetWriteDeadline(time.Time{})
	extend := func() { conn.SetReadDeadline(time.Now().Add(pongWait)) }
	conn.SetPongHandler(func(string) error { extend(); return nil })
	conn.SetPingHandler(func(data string) error {
		extend()
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeWait))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	wg.Go(func() {
		defer close(readDone)
		readErr = c.readLoop(conn, stopRead, extend)
	})
	writeErr := c.writeLoop(conn, readDone)
	close(stopRead)
	conn.Close()
	wg.Wait()
	var e *Error
	if errors.As(readErr, &e) {
		return e
	}
	if writeErr != nil {
		return writeErr
	}
	return readErr
}

// readLoop reads frames until the connection ends. A server error message
// usually precedes the server closing the connection, but not always: an
// invalid frame earns BAD_REQUEST and the session goes on. So an error
// message is held until the next frame shows which it was; if the
// connection ends first, it is returned as the reason.
func (c *Client) readLoop(conn *websocket.Conn, stop <-chan struct{}, extend func()) error {
	var pending *Error
	for {
		typ, data, err := conn.ReadMessage()
		if err != nil {
			if pending != nil && (pending.Code != protocol.CodeBadRequest || isCloseError(err)) {
				return pending
			}
			return fmt.Errorf("read: %w", err)
		}
		extend()
		if pending != nil {
			c.log.Warn("signaling: server rejected a message", "code", pending.Code)
			pending = nil
		}
		if typ != websocket.TextMessage {
			c.log.Warn("signaling: ignored binary frame")
			continue
		}
		m, err := decodeMessage(data)
		if err != nil {
			c.log.Warn("signaling: ignored malformed message", "err", err)
			continue
		}
		ev, err := sessionEvent(m)
		switch {
		case errors.As(err, &pending):
			continue
		case err != nil:
			c.log.Warn("signaling: ignored invalid message", "type", m.Type, "err", err)
			continue
		case ev == nil:
			c.log.Debug("signaling: ignored message", "type", m.Type)
			continue
		}
		select {
		case c.events <- ev:
		case <-stop:
			return errors.New("read: connection stopped")
		case <-c.ctx.Done():
			return ErrClosed
		}
	}
}

// isCloseError reports whether err is the server's half of a WebSocket
// closing handshake (as opposed to a transport failure).
func isCloseError(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce)
}

// writeLoop writes queued frames and keepalive pings until the read side
// ends, a write fails, or the client is closed (then it says leave).
func (c *Client) writeLoop(conn *websocket.Conn, readDone <-chan struct{}) error {
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	for {
		select {
		case <-readDone:
			if c.ctx.Err() != nil {
				c.leave(conn, readDone)
				return ErrClosed
			}
			return nil
		case ob := <-c.out:
			conn.SetWriteDeadline(time.Now().Add(writeWait))
			err := conn.WriteMessage(websocket.TextMessage, ob.data)
			ob.sent <- err
			if err != nil {
				return fmt.Errorf("write: %w", err)
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				return fmt.Errorf("write ping: %w", err)
			}
		case <-c.ctx.Done():
			c.leave(conn, readDone)
			return ErrClosed
		}
	}
}

// leave tells the server this participant is leaving on purpose, starts the
// closing handshake and waits briefly for the server's answer.
func (c *Client) leave(conn *websocket.Conn, readDone <-chan struct{}) {
	deadline := time.Now().Add(closeGrace)
	conn.SetWriteDeadline(deadline)
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"leave"}`)); err != nil {
		return
	}
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if err := conn.WriteControl(websocket.CloseMessage, msg, deadline); err != nil {
		return
	}
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-readDone:
	case <-t.C:
	}
}

// roomTag is a short, non-reversible tag for a room id, for logs and error
// strings: whoever holds a full room id can join the room.
func roomTag(roomID string) string { return logid.Of(roomID) }
