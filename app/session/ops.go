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
	if len(text) > chat.MaxTextBytes {
		return history.Message{}, chat.ErrTooLong
	}
	return s.operate(chat.Message{Op: chat.OpEdit, Of: id, Text: text}, func(m *history.Message) error {
		if !m.Outgoing {
			return ErrNotYours
		}
		m.Text, m.Edited = text, true
		return nil
	})
}

// Delete deletes one of our messages for both: each side keeps a
// tombstone and drops the text.
func (s *Session) Delete(id string) (history.Message, error) {
	return s.operate(chat.Message{Op: chat.OpDelete, Of: id, Text: chat.FallbackText(chat.OpDelete, "")}, func(m *history.Message) error {
		if !m.Outgoing {
			return ErrNotYours
		}
		m.Deleted, m.MyReaction, m.PeerReaction = true, "", ""
		return nil
	})
}

// React sets our reaction to a message (either side's); "" removes it.
func (s *Session) React(id, emoji string) (history.Message, error) {
	if emoji != "" && !chat.IsReaction(emoji) {
		return history.Message{}, ErrBadReaction
	}
	return s.operate(chat.Message{Op: chat.OpReact, Of: id, Emoji: emoji, Text: chat.FallbackText(chat.OpReact, emoji)}, func(m *history.Message) error {
		m.MyReaction = emoji
		return nil
	})
}

// operate checks change against the stored message, sends op to the peer
// and then stores the change. Nothing is stored when the peer is offline
// (ErrPeerOffline) or the send fails. An operation is sent once: one that
// a dropped connection loses is not sent again (unlike messages).
func (s *Session) operate(op chat.Message, change func(*history.Message) error) (history.Message, error) {
	m, err := s.target(op.Of)
	if err != nil {
		return history.Message{}, err
	}
	if m.Deleted {
		return history.Message{}, ErrMessageDeleted
	}
	if err := change(&m); err != nil {
		return history.Message{}, err
	}
	s.mu.Lock()
	c := s.chat
	s.mu.Unlock()
	if c == nil {
		return history.Message{}, ErrPeerOffline
	}
	op.ID, op.SentAt = newMessageID(), time.Now()
	if err := c.SendWithID(op); err != nil {
		return history.Message{}, ErrPeerOffline
	}
	out, err := s.cfg.History.UpdateMessage(s.key, op.Of, func(stored *history.Message) error {
		if stored.Deleted {
			return ErrMessageDeleted
		}
		return change(stored)
	})
	if err != nil {
		return history.Message{}, fmt.Errorf("store %s: %w", op.Op, err)
	}
	return out, nil
}

// applyPeerOp applies an operation from the peer to the stored message it
// names. Every field is the peer's: an operation on a message that does
// not exist, was deleted, or (edit, delete) is not the peer's own is
// refused: logged and dropped (nil, nil), so the frame is still acked.
func (s *Session) applyPeerOp(op chat.Message) (*history.Message, error) {
	var refused error
	out, err := s.cfg.History.UpdateMessage(s.key, op.Of, func(m *history.Message) error {
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
	}
	return &out, nil
}

func errOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
