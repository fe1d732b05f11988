package history

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/parley-chat/parley/internal/logid"
)

// MaxBatch is the most messages one AddMessages call takes.
const MaxBatch = 10_000

// AddMessages appends ms, all of one room, in one transaction: one write
// to disk for all of them, where AddMessage takes one per message (what
// importing a long history, or seeding one for a benchmark, needs). Each
// message is checked as AddMessage checks it, and any bad one refuses the
// whole batch; messages already stored (or repeated in ms) are skipped.
// The room's LastPreview and LastActive follow the last message added.
func (s *Store) AddMessages(ms []Message) (added int, err error) {
	if len(ms) == 0 {
		return 0, nil
	}
	if len(ms) > MaxBatch {
		return 0, fmt.Errorf("history: %d messages in one batch, at most %d", len(ms), MaxBatch)
	}
	roomKey := ms[0].RoomKey
	recs := make([][]byte, len(ms))
	for i, m := range ms {
		if m.RoomKey != roomKey {
			return 0, errors.New("history: a batch of messages must be of one room")
		}
		if err := checkMessage(m); err != nil {
			return 0, err
		}
		if recs[i], err = s.encodeMessage(m); err != nil {
			return 0, fmt.Errorf("add messages: %w", err)
		}
	}
	now := s.now()
	err = s.db.Update(func(tx *bolt.Tx) error {
		added = 0
		if tx.Bucket(bucketRooms).Get([]byte(roomKey)) == nil {
			return ErrRoomNotFound
		}
		room, err := tx.Bucket(bucketMessages).CreateBucketIfNotExists([]byte(roomKey))
		if err != nil {
			return err
		}
		ids, err := room.CreateBucketIfNotExists(bucketIDs)
		if err != nil {
			return err
		}
		seqs, err := room.CreateBucketIfNotExists(bucketSeq)
		if err != nil {
			return err
		}
		var last *Message
		for i := range ms {
			if ids.Get([]byte(ms[i].ID)) != nil {
				continue
			}
			key, err := putNext(seqs, recs[i])
			if err != nil {
				return err
			}
			if err := ids.Put([]byte(ms[i].ID), key); err != nil {
				return err
			}
			last = &ms[i]
			added++
		}
		if last == nil {
			return nil
		}
		active := last.SentAt
		if active.After(now) {
			active = now
		}
		return s.updateRoom(tx, roomKey, func(r *Room) error {
			r.LastPreview = Preview(last.Text)
			if active.After(r.LastActive) {
				r.LastActive = active
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("add messages to room %s: %w", logid.Of(roomKey), err)
	}
	return added, nil
}
