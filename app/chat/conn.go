package chat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parley-chat/parley/internal/randid"
)

// MaxTextBytes is the largest message text, in UTF-8 bytes.
const MaxTextBytes = 64 << 10

// TypingInterval is the shortest time between two typing notifications sent
// by SendTyping; calls in between are dropped silently.
const TypingInterval = 2 * time.Second

var (
	// ErrTooLong is returned when a text exceeds MaxTextBytes.
	ErrTooLong = errors.New("chat: text too long")
	// ErrInvalidText is returned when a text is not valid UTF-8.
	ErrInvalidText = errors.New("chat: text is not valid UTF-8")
	// ErrClosed is returned by sends after Close, and by Run when Close
	// stopped it.
	ErrClosed = errors.New("chat: connection closed")
)

// Message is one chat message, or an operation on an earlier one.
type Message struct {
	ID     string
	SentAt time.Time
	Text   string
	// ReplyTo is the id of the message this one answers ("": none). It
	// comes from the peer: the message may not exist.
	ReplyTo string
	// Op, when set, makes this an operation on message Of instead of a
	// new message: OpEdit (Text is the new text), OpDelete (delete for
	// both) or OpReact (Emoji is the sender's reaction, "" to remove it).
	// Text is then also what a peer without ops shows (see FallbackText).
	Op    string
	Of    string
	Emoji string
}

// Message operations (Message.Op).
const (
	OpEdit   = "edit"
	OpDelete = "delete"
	OpReact  = "react"
)

// Reactions is the set of emoji a reaction may be; anything else from the
// peer is refused.
var Reactions = []string{"👍", "❤️", "😂", "😮", "😢", "🙏"}

// IsReaction reports whether e is one of Reactions.
func IsReaction(e string) bool {
	for _, r := range Reactions {
		if e == r {
			return true
		}
	}
	return false
}

// FallbackText is the Text of a delete or react operation: what a peer
// from before operations shows as an ordinary message. (An edit's Text is
// the new text, which such a peer shows as a new message.)
func FallbackText(op, emoji string) string {
	switch {
	case op == OpDelete:
		return "(deleted a message)"
	case op == OpReact && emoji != "":
		return "(reacted " + emoji + " to a message)"
	case op == OpReact:
		return "(removed a reaction)"
	}
	return ""
}

// Handler receives what the peer sends. Its methods are called from the Run
// loop, one at a time; a slow handler stalls the connection.
type Handler interface {
	// Receive must store the message durably and return nil; only then is
	// the delivery ack sent. If Receive returns an error, no ack is sent
	// and the peer will resend later. The same id may arrive more than
	// once (resends); the store deduplicates and Receive returns nil again.
	Receive(m Message) error
	// Delivered reports that the peer acked one of our messages.
	Delivered(id string)
	// Typing reports that the peer is typing (the sender rate-limits this
	// to once per TypingInterval).
	Typing()
	// Read reports that the peer has displayed messages up to this id.
	Read(upToID string)
}

// AckObserver is an optional Handler extension: AckQueued is called from
// the read loop right after the delivery ack of m (which Receive accepted)
// was queued. Showing a message only then guarantees that a Goodbye started
// by whoever saw it is queued behind that ack, so leaving right after
// reading a message never loses its ack.
type AckObserver interface {
	AckQueued(m Message)
}

// RoomControl is an optional Handler extension for the room's control
// frames, which arrive only over the verified connection and so are
// authenticated by it (the signaling server cannot forge them). Its methods
// run on the read loop like the Handler's; frames behind them wait.
type RoomControl interface {
	// PeerDestroyed says the peer destroyed the room.
	PeerDestroyed()
	// SelfDestructAt is the room's self-destruct time as the peer knows
	// it. It is not validated beyond being a positive time.
	SelfDestructAt(t time.Time)
}

// Conn speaks the chat protocol over one byte stream.
type Conn struct {
	rw     io.ReadWriteCloser
	h      Handler
	logger *slog.Logger
	now    func() time.Time

	wmu        sync.Mutex // serializes writes: one frame per Write call
	lastTyping time.Time  // guarded by wmu

	// acks carries ack (and bye/byeack) frames from the read loop to the
	// ack writer, so the read loop never blocks on a write (two peers
	// acking each other over an unbuffered stream would otherwise
	// deadlock). Goodbye queues its bye here too, behind pending acks.
	acks chan frame

	byeOnce  sync.Once
	byeAcked chan struct{} // closed when the peer confirmed our bye

	closeOnce sync.Once
	done      chan struct{} // closed by Close
}

// maxPendingAcks bounds acks waiting to be written. A peer that keeps
// sending without reading our acks is cut off when it is exceeded.
const maxPendingAcks = 1024

// NewConn returns a Conn over rw. Call Run to start reading.
func NewConn(rw io.ReadWriteCloser, h Handler, logger *slog.Logger) *Conn {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Conn{
		rw:       rw,
		h:        h,
		logger:   logger,
		now:      time.Now,
		acks:     make(chan frame, maxPendingAcks),
		byeAcked: make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// Run reads frames and dispatches them to the Handler until ctx is done,
// Close is called, the stream ends or the peer breaks the protocol. It
// closes the stream before returning. The error is ctx.Err(), ErrClosed, or
// what ended the stream (wrapping ErrProtocol for bad peer input).
func (c *Conn) Run(ctx context.Context) error {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			_ = c.rw.Close() // unblocks the read below
		case <-c.done:
		case <-stop:
		}
	}()
	go func() {
		defer wg.Done()
		c.ackLoop(stop)
	}()
	err := c.readLoop()
	wasClosed := c.closed()
	_ = c.Close() // also unblocks a pending ack write
	close(stop)
	wg.Wait()

	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case wasClosed:
		return ErrClosed
	}
	return err
}

// ackLoop writes queued acks until stop is closed.
func (c *Conn) ackLoop(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case f := <-c.acks:
			if err := c.write(f); err != nil {
				c.logger.Debug("chat: ack not sent", "err", err)
				_ = c.rw.Close() // a broken stream ends the read loop too
				return
			}
		}
	}
}

func (c *Conn) readLoop() error {
	for {
		body, err := readFrame(c.rw)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("chat: stream ended: %w", err)
			}
			return err
		}
		f, err := decodeFrame(body)
		if err != nil {
			c.logger.Warn("chat: bad frame from peer", "err", err)
			return err
		}
		if err := c.dispatch(f); err != nil {
			return err
		}
	}
}

func (c *Conn) dispatch(f frame) error {
	switch f.T {
	case typeMsg:
		m := Message{ID: f.ID, SentAt: sentAt(f.TS, c.now()), Text: f.Text, ReplyTo: f.Re, Op: f.Op, Of: f.Of, Emoji: f.Emoji}
		if err := c.h.Receive(m); err != nil {
			c.logger.Warn("chat: store rejected message, not acking", "err", err)
			return nil
		}
		if err := c.queueAck(frame{T: typeAck, ID: f.ID}); err != nil {
			return err
		}
		if o, ok := c.h.(AckObserver); ok {
			o.AckQueued(m)
		}
		return nil
	case typeBye:
		// Everything the peer sent before its bye has been handled and
		// its acks are queued ahead of this confirmation.
		return c.queueAck(frame{T: typeByeAck})
	case typeByeAck:
		c.byeOnce.Do(func() { close(c.byeAcked) })
	case typeAck:
		c.h.Delivered(f.ID)
	case typeTyping:
		c.h.Typing()
	case typeRead:
		c.h.Read(f.ID)
	case typeDestroy, typeExpires:
		rc, ok := c.h.(RoomControl)
		if !ok || f.V != controlVersion {
			c.logger.Debug("chat: ignoring control frame", "type", f.T, "version", f.V)
			return nil
		}
		if f.T == typeDestroy {
			rc.PeerDestroyed()
		} else {
			rc.SelfDestructAt(time.UnixMilli(f.TS))
		}
	default:
		c.logger.Debug("chat: ignoring unknown frame type", "type", f.T)
	}
	return nil
}

func (c *Conn) queueAck(f frame) error {
	select {
	case c.acks <- f:
		return nil
	default:
		return fmt.Errorf("%w: peer does not read our acks (%d pending)", ErrProtocol, maxPendingAcks)
	}
}

// Goodbye makes leaving lossless: it sends a bye behind every ack still
// queued and waits until the peer confirms it. The stream is ordered, so
// the confirmation means the peer has received all our frames (messages
// and acks) and we have received its acks for everything it handled.
// Call it before Close when leaving on purpose; it needs Run to be running.
func (c *Conn) Goodbye(ctx context.Context) error {
	select {
	case c.acks <- frame{T: typeBye}:
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-c.byeAcked:
		return nil
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Send sends text as a new message with a fresh random id and the current
// time. The returned Message is what the caller stores as sent.
func (c *Conn) Send(text string) (Message, error) {
	if err := checkText(text); err != nil {
		return Message{}, err
	}
	id, err := newID()
	if err != nil {
		return Message{}, err
	}
	m := Message{ID: id, SentAt: c.now().Truncate(time.Millisecond), Text: text}
	if err := c.SendWithID(m); err != nil {
		return Message{}, err
	}
	return m, nil
}

// SendWithID sends a stored message again with its original id and time.
// The receiver deduplicates by id and acks again.
func (c *Conn) SendWithID(m Message) error {
	if err := checkText(m.Text); err != nil {
		return err
	}
	if !validID(m.ID) {
		return fmt.Errorf("chat: invalid message id %q", m.ID)
	}
	f := frame{T: typeMsg, ID: m.ID, TS: m.SentAt.UnixMilli(), Text: m.Text, Re: m.ReplyTo, Op: m.Op, Of: m.Of, Emoji: m.Emoji}
	if checkExtensions(f) != f {
		return fmt.Errorf("chat: invalid reply or operation (op %q)", m.Op)
	}
	if err := c.write(f); err != nil {
		return fmt.Errorf("chat: send message: %w", err)
	}
	return nil
}

// SendDestroy tells the peer that we destroyed the room. Follow it with
// Goodbye to know the peer has handled it (the stream is ordered).
func (c *Conn) SendDestroy() error {
	if err := c.write(frame{T: typeDestroy, V: controlVersion}); err != nil {
		return fmt.Errorf("chat: send destroy: %w", err)
	}
	return nil
}

// SendSelfDestructAt tells the peer the room's self-destruct time.
func (c *Conn) SendSelfDestructAt(t time.Time) error {
	if t.UnixMilli() <= 0 {
		return fmt.Errorf("chat: self-destruct time %v out of range", t)
	}
	if err := c.write(frame{T: typeExpires, V: controlVersion, TS: t.UnixMilli()}); err != nil {
		return fmt.Errorf("chat: send self-destruct time: %w", err)
	}
	return nil
}

// SendTyping tells the peer we are typing. Calls within TypingInterval of
// the last one that went out are dropped and return nil.
func (c *Conn) SendTyping() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	now := c.now()
	if !c.lastTyping.IsZero() && now.Sub(c.lastTyping) < TypingInterval {
		return nil
	}
	if err := c.writeLocked(frame{T: typeTyping}); err != nil {
		return fmt.Errorf("chat: send typing: %w", err)
	}
	c.lastTyping = now
	return nil
}

// SendRead tells the peer we have displayed its messages up to upToID.
func (c *Conn) SendRead(upToID string) error {
	if !validID(upToID) {
		return fmt.Errorf("chat: invalid message id %q", upToID)
	}
	if err := c.write(frame{T: typeRead, ID: upToID}); err != nil {
		return fmt.Errorf("chat: send read marker: %w", err)
	}
	return nil
}

// Close closes the stream and stops Run. It is safe to call more than once.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.done)
		err = c.rw.Close()
	})
	return err
}

func (c *Conn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *Conn) write(f frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(f)
}

func (c *Conn) writeLocked(f frame) error {
	if c.closed() {
		return ErrClosed
	}
	buf, err := encodeFrame(f)
	if err != nil {
		return err
	}
	if _, err := c.rw.Write(buf); err != nil {
		if c.closed() {
			return ErrClosed
		}
		return err
	}
	return nil
}

func checkText(text string) error {
	if len(text) > MaxTextBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLong, len(text), MaxTextBytes)
	}
	if !utf8.ValidString(text) {
		return ErrInvalidText
	}
	return nil
}

// newID returns 16 random bytes, base64url without padding (22 characters).
func newID() (string, error) { return randid.Base64(16), nil }
