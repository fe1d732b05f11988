package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/parley-chat/parley/internal/logid"
)

// Operation kinds (Op.Kind): the names of chat.OpEdit, chat.OpDelete and
// chat.OpReact, which this package does not import.
const (
	OpEdit   = "edit"
	OpDelete = "delete"
	OpReact  = "react"
)

// Op is an operation this side made on a stored message (an edit, a
// delete or a reaction) that the peer has not acknowledged yet. It is
// kept sealed beside the room's messages until OpDelivered, so it is sent
// again after a reconnect or a restart, like an unacknowledged message.
type Op struct {
	// ID is the id of the operation's frame; the peer acks it.
	ID string
	// Kind is OpEdit, OpDelete or OpReact.
	Kind string
	// Of is the id of the message it changes.
	Of string
	// Text is an edit's new text, or what a peer without operations shows
	// (chat.FallbackText).
	Text string
	// Emoji is a reaction's target state: the reaction, "" for none. An
	// operation carries the state it sets, never a toggle, so applying it
	// twice changes nothing.
	Emoji  string
	SentAt time.Time
}

// Bucket names inside a room's messages bucket (created on first use; a
// file without them has no pending or applied operations).
var (
	// bucketOps: <uint64 BE seq> → opRecord, oldest first: our operations
	// the peer has not acked.
	bucketOps = []byte("ops")
	// bucketOpsDone: <op id> → "" for each peer operation applied, so a
	// resent one is applied once.
	bucketOpsDone = []byte("opsdone")
)

// opRecord is a pending operation on disk: only its id is in clear.
type opRecord struct {
	ID     string `json:"i"`
	Sealed []byte `json:"s"`
}

// opSecrets are the sealed fields of a pending operation.
type opSecrets struct {
	Kind   string    `json:"k"`
	Of     string    `json:"of"`
	Text   string    `json:"text,omitempty"`
	Emoji  string    `json:"emoji,omitempty"`
	SentAt time.Time `json:"t"`
}

func opAD(roomKey, id string) []byte { return []byte("op\x00" + roomKey + "\x00" + id) }

func checkOp(op Op) error {
	if err := checkID("operation", op.ID); err != nil {
		return err
	}
	if err := checkID("message", op.Of); err != nil {
		return err
	}
	switch op.Kind {
	case OpEdit, OpDelete, OpReact:
	default:
		return fmt.Errorf("history: unknown operation %q", op.Kind)
	}
	if err := checkText("operation text", op.Text, MaxTextBytes); err != nil {
		return err
	}
	if len(op.Emoji) > MaxReactionBytes {
		return errors.New("history: reaction too long")
	}
	return nil
}

// UpdateMessageQueued is UpdateMessage of message op.Of that also queues
// op for the peer, in the same transaction: a kill -9 leaves both or
// neither. A pending operation that op supersedes is dropped: an earlier
// edit by a later edit, an earlier reaction by a later reaction, both by
// a delete (so a deleted message's text does not linger in a queued edit).
func (s *Store) UpdateMessageQueued(roomKey string, op Op, change func(*Message) error) (Message, error) {
	if err := checkKey(roomKey); err != nil {
		return Message{}, err
	}
	if err := checkOp(op); err != nil {
		return Message{}, err
	}
	plain, err := json.Marshal(opSecrets{Kind: op.Kind, Of: op.Of, Text: op.Text, Emoji: op.Emoji, SentAt: op.SentAt})
	if err != nil {
		return Message{}, err
	}
	sealed, err := s.seal.seal(plain, opAD(roomKey, op.ID))
	if err != nil {
		return Message{}, err
	}
	rec, err := json.Marshal(opRecord{ID: op.ID, Sealed: sealed})
	if err != nil {
		return Message{}, err
	}
	var out Message
	err = s.db.Update(func(tx *bolt.Tx) error {
		m, err := s.updateMessage(tx, roomKey, op.Of, change)
		if err != nil {
			return err
		}
		out = m
		ops, err := tx.Bucket(bucketMessages).Bucket([]byte(roomKey)).CreateBucketIfNotExists(bucketOps)
		if err != nil {
			return err
		}
		var stale [][]byte
		if err := s.eachOp(ops, roomKey, func(k []byte, old Op) error {
			if old.Of == op.Of && (old.Kind == op.Kind || op.Kind == OpDelete) {
				stale = append(stale, k)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range stale {
			if err := ops.Delete(k); err != nil {
				return err
			}
		}
		_, err = putNext(ops, rec)
		return err
	})
	if err != nil {
		return Message{}, fmt.Errorf("update message in room %s: %w", logid.Of(roomKey), err)
	}
	return out, nil
}

// eachOp decodes every pending operation in ops, oldest first. fn gets a
// copy of its key, usable for Delete after the walk.
func (s *Store) eachOp(ops *bolt.Bucket, roomKey string, fn func(k []byte, op Op) error) error {
	return ops.ForEach(func(k, v []byte) error {
		op, err := s.decodeOp(roomKey, v)
		if err != nil {
			return err
		}
		return fn(append([]byte(nil), k...), op)
	})
}

func (s *Store) decodeOp(roomKey string, v []byte) (Op, error) {
	var rec opRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return Op{}, fmt.Errorf("operation in room %s: %w: %v", logid.Of(roomKey), ErrCorrupt, err)
	}
	plain, err := s.seal.open(rec.Sealed, opAD(roomKey, rec.ID))
	if err != nil {
		return Op{}, fmt.Errorf("operation in room %s: %w: %v", logid.Of(roomKey), ErrCorrupt, err)
	}
	var sec opSecrets
	if err := json.Unmarshal(plain, &sec); err != nil {
		return Op{}, fmt.Errorf("operation in room %s: %w: %v", logid.Of(roomKey), ErrCorrupt, err)
	}
	return Op{ID: rec.ID, Kind: sec.Kind, Of: sec.Of, Text: sec.Text, Emoji: sec.Emoji, SentAt: sec.SentAt}, nil
}

// opsBucket returns the room's bucket name inside its messages bucket, or
// nil when the room has none.
func opsBucket(tx *bolt.Tx, roomKey string, name []byte) *bolt.Bucket {
	room := tx.Bucket(bucketMessages).Bucket([]byte(roomKey))
	if room == nil {
		return nil
	}
	return room.Bucket(name)
}

// PendingOps returns the room's operations the peer has not acked, oldest
// first (an empty slice when there are none).
func (s *Store) PendingOps(roomKey string) ([]Op, error) {
	if err := checkKey(roomKey); err != nil {
		return nil, err
	}
	out := []Op{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRooms).Get([]byte(roomKey)) == nil {
			return ErrRoomNotFound
		}
		ops := opsBucket(tx, roomKey, bucketOps)
		if ops == nil {
			return nil
		}
		return s.eachOp(ops, roomKey, func(_ []byte, op Op) error {
			out = append(out, op)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list pending operations of room %s: %w", logid.Of(roomKey), err)
	}
	return out, nil
}

// OpDelivered removes the pending operation id (the peer acked it) and
// returns it; ok is false when none has that id (a message's ack, or an
// operation already superseded or acked).
func (s *Store) OpDelivered(roomKey, id string) (op Op, ok bool, err error) {
	if err := checkKey(roomKey); err != nil {
		return Op{}, false, err
	}
	if err := checkID("operation", id); err != nil {
		return Op{}, false, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		ops := opsBucket(tx, roomKey, bucketOps)
		if ops == nil {
			return nil
		}
		var key []byte
		c := ops.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var rec opRecord
			if json.Unmarshal(v, &rec) == nil && rec.ID == id {
				key = append([]byte(nil), k...)
				if op, err = s.decodeOp(roomKey, v); err != nil {
					return err
				}
				break
			}
		}
		if key == nil {
			return nil
		}
		ok = true
		return ops.Delete(key)
	})
	if err != nil {
		return Op{}, false, fmt.Errorf("operation delivered in room %s: %w", logid.Of(roomKey), err)
	}
	return op, ok, nil
}

// ApplyPeerOp is UpdateMessage for an operation the peer sent (frame id
// opID): the first time an id arrives, change is applied and the id is
// remembered in the same transaction; a copy of it (the peer resends
// what it has no ack for) changes nothing and returns applied=false. When
// change returns an error nothing is stored, the id included.
func (s *Store) ApplyPeerOp(roomKey, opID, msgID string, change func(*Message) error) (m Message, applied bool, err error) {
	if err := checkKey(roomKey); err != nil {
		return Message{}, false, err
	}
	if err := checkID("operation", opID); err != nil {
		return Message{}, false, err
	}
	if err := checkID("message", msgID); err != nil {
		return Message{}, false, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if done := opsBucket(tx, roomKey, bucketOpsDone); done != nil && done.Get([]byte(opID)) != nil {
			return nil
		}
		var err error
		if m, err = s.updateMessage(tx, roomKey, msgID, change); err != nil {
			return err
		}
		done, err := tx.Bucket(bucketMessages).Bucket([]byte(roomKey)).CreateBucketIfNotExists(bucketOpsDone)
		if err != nil {
			return err
		}
		applied = true
		return done.Put([]byte(opID), nil)
	})
	if err != nil {
		return Message{}, false, fmt.Errorf("apply operation in room %s: %w", logid.Of(roomKey), err)
	}
	return m, applied, nil
}
