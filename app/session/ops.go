package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/parley-chat/parley/app/chat"
	"github.com/parley-chat/parley/app/history"
)

// Errors of message operations; the facade maps them to codes.
var (
	// ErrNotYours: only the person who wrote a message may edit or delete it.
	ErrNotYours = errors.New("only the person who wrote a message can change it")
	// ErrMessageDeleted: the message was deleted for both; nothing can change it.
	ErrMessageDeleted = errors.New("the message was deleted")
	// ErrBadReaction: not one of chat.Reactions.
	ErrBadReaction = errors.New("not one of the reactions")
)

// target returns the stored message id, or history.ErrMessageNotFound.
func (s *Session) target(id string) (history.Message, error) {
	m, ok, err := s.cfg.History.Message(s.key, id)
	if err != nil {
		return history.Message{}, err
	}
	if !ok {
		return history.Message{}, history.ErrMessageNotFound
	}
	return m, nil
}

// Edit replaces the text of one of our messages on both sides (the peer
// shows "edited").
func (s *Session) Edit(id, text string) (history.Message, error) {
	m, _, err := s.Change(chat.OpEdit, id, text, "")
	return m, err
}

// Delete deletes one of our messages for both: each side keeps a
// tombstone and drops the text.
func (s *Session) Delete(id string) (history.Message, error) {
	m, _, err := s.Change(chat.OpDelete, id, "", "")
	return m, err
}

// React sets our reaction to a message (either side's); "" removes it.
func (s *Session) React(id, emoji string) (history.Message, error) {
	m, _, err := s.Change(chat.OpReact, id, "", emoji)
	return m, err
}

// Change applies operation kind (chat.OpEdit with text, chat.OpDelete, or
// chat.OpReact with emoji, "" to remove ours) to stored message of, as
// Edit, Delete and React do, and also returns the id of the operation:
// the peer's ack of it is the event OpDelivered{ID: opID}.
//
// The change is stored and the operation queued for the peer in one
// transaction (history.UpdateMessageQueued), then sent if the peer is
// connected. Whether it is or not, the operation stays queued until the
// peer acks it and is sent again after every reconnect and after a
// restart, like an unacknowledged message. It carries the state it sets
// (the new text, the reaction or none), and the peer applies each id
// once, so a copy changes nothing.
func (s *Session) Change(kind, of, text, emoji string) (m history.Message, opID string, err error) {
	var change func(*history.Message) error
	switch kind {
	case chat.OpEdit:
		if len(text) > chat.MaxTextBytes {
			return history.Message{}, "", chat.ErrTooLong
		}
		change = func(m *history.Message) error {
			if !m.Outgoing {
				return ErrNotYours
			}
			m.Text, m.Edited = text, true
			return nil
		}
	case chat.OpDelete:
		text = chat.FallbackText(chat.OpDelete, "")
		change = func(m *history.Message) error {
			if !m.Outgoing {
				return ErrNotYours
			}
			m.Deleted, m.MyReaction, m.PeerReaction = true, "", ""
			return nil
		}
	case chat.OpReact:
		if emoji != "" && !chat.IsReaction(emoji) {
			return history.Message{}, "", ErrBadReaction
		}
		text = chat.FallbackText(chat.OpReact, emoji)
		change = func(m *history.Message) error {
			m.MyReaction = emoji
			return nil
		}
	default:
		return history.Message{}, "", fmt.Errorf("session: unknown operation %q", kind)
	}
	op := chat.Message{ID: newMessageID(), SentAt: time.Now().Truncate(time.Millisecond), Op: kind, Of: of, Text: text, Emoji: emoji}
	// opMu orders this against resendOps: a resend never sends an older
	// operation after this newer one, and an operation queued while a
	// connection comes up is either sent here or by that resend.
	s.opMu.Lock()
	defer s.opMu.Unlock()
	out, err := s.cfg.History.UpdateMessageQueued(s.key, history.Op{ID: op.ID, Kind: kind, Of: of, Text: text, Emoji: emoji, SentAt: op.SentAt}, func(m *history.Message) error {
		if m.Deleted {
			return ErrMessageDeleted
		}
		return change(m)
	})
	if err != nil {
		return history.Message{}, "", fmt.Errorf("%s: %w", kind, err)
	}
	s.mu.Lock()
	c := s.chat
	s.mu.Unlock()
	if c != nil {
		if err := c.SendWithID(op); err != nil {
			s.log.Debug("operation not sent; it is sent again on reconnect", "err", err)
		}
	}
	return out, op.ID, nil
}

// resendOps sends every operation the peer has not acked, oldest first,
// after resendUnacked has sent the messages they may name.
func (s *Session) resendOps(c *chat.Conn) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	ops, err := s.cfg.History.PendingOps(s.key)
	if err != nil {
		s.log.Warn("read pending operations for resend", "err", err)
		return
	}
	for _, op := range ops {
		if err := c.SendWithID(chat.Message{ID: op.ID, SentAt: op.SentAt, Op: op.Kind, Of: op.Of, Text: op.Text, Emoji: op.Emoji}); err != nil {
			return
		}
	}
}

// applyPeerOp applies an operation from the peer to the stored message it
// names. Every field is the peer's: an operation on a message that does
// not exist, was deleted, or (edit, delete) is not the peer's own is
// refused: logged and dropped (nil, nil), so the frame is still acked. A
// copy of an operation already applied (the peer resends what it has no
// ack for) changes nothing and is not shown again.
func (s *Session) applyPeerOp(op chat.Message) (*history.Message, error) {
	var refused error
	out, applied, err := s.cfg.History.ApplyPeerOp(s.key, op.ID, op.Of, func(m *history.Message) error {
		switch {
		case m.Deleted:
			refused = ErrMessageDeleted
		case (op.Op == chat.OpEdit || op.Op == chat.OpDelete) && m.Outgoing:
			refused = ErrNotYours
		case op.Op == chat.OpEdit:
			m.Text, m.Edited = op.Text, true
		case op.Op == chat.OpDelete:
			m.Deleted, m.MyReaction, m.PeerReaction = true, "", ""
		case op.Op == chat.OpReact:
			m.PeerReaction = op.Emoji
		default:
			refused = fmt.Errorf("unknown operation")
		}
		return refused
	})
	switch {
	case refused != nil || errors.Is(err, history.ErrMessageNotFound):
		s.log.Debug("refused an operation from the peer", "op", op.Op, "why", errOr(refused, err))
		return nil, nil
	case err != nil:
		return nil, err // not stored: not acked, the peer may send it again
	case !applied:
		return nil, nil
	}
	return &out, nil
}

func errOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
