package history

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/parley-chat/parley/internal/logid"
)

// Thumbnails of image files are message content: they are sealed like
// messages, bound to their room and file, and go with the room's messages
// (ClearMessages, Forget, so also a destroyed or expired room).
//
//	thumbs <room key> → bucket {<file id> → sealed image bytes}

var bucketThumbs = []byte("thumbs")

// MaxThumbBytes is the largest thumbnail stored.
const MaxThumbBytes = 1 << 20

// ErrThumbTooLarge: PutThumb refused data over MaxThumbBytes.
var ErrThumbTooLarge = errors.New("history: thumbnail too large")

func thumbAD(roomKey, fileID string) []byte {
	return []byte("thumb\x00" + roomKey + "\x00" + fileID)
}

// PutThumb stores the thumbnail of file fileID in room key, which must
// exist (a thumbnail finished after Forget is not stored).
func (s *Store) PutThumb(key, fileID string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkID("file", fileID); err != nil {
		return err
	}
	if len(data) > MaxThumbBytes {
		return ErrThumbTooLarge
	}
	sealed, err := s.seal.seal(data, thumbAD(key, fileID))
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRooms).Get([]byte(key)) == nil {
			return ErrRoomNotFound
		}
		top, err := tx.CreateBucketIfNotExists(bucketThumbs)
		if err != nil {
			return err
		}
		b, err := top.CreateBucketIfNotExists([]byte(key))
		if err != nil {
			return err
		}
		return b.Put([]byte(fileID), sealed)
	})
	if err != nil {
		return fmt.Errorf("store thumbnail in room %s: %w", logid.Of(key), err)
	}
	return nil
}

// Thumb returns the thumbnail of file fileID in room key.
func (s *Store) Thumb(key, fileID string) (data []byte, ok bool, err error) {
	var sealed []byte
	err = s.db.View(func(tx *bolt.Tx) error {
		if top := tx.Bucket(bucketThumbs); top != nil {
			if b := top.Bucket([]byte(key)); b != nil {
				if v := b.Get([]byte(fileID)); v != nil {
					sealed = append([]byte(nil), v...)
				}
			}
		}
		return nil
	})
	if err != nil || sealed == nil {
		return nil, false, err
	}
	plain, err := s.seal.open(sealed, thumbAD(key, fileID))
	if err != nil {
		return nil, false, fmt.Errorf("thumbnail in room %s: %w", logid.Of(key), ErrCorrupt)
	}
	return plain, true, nil
}

// ThumbCount returns how many thumbnails room key has stored.
func (s *Store) ThumbCount(key string) (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		if top := tx.Bucket(bucketThumbs); top != nil {
			if b := top.Bucket([]byte(key)); b != nil {
				n = b.Stats().KeyN
			}
		}
		return nil
	})
	return n, err
}

// deleteThumbs removes room key's thumbnails inside tx.
func deleteThumbs(tx *bolt.Tx, key string) error {
	top := tx.Bucket(bucketThumbs)
	if top == nil {
		return nil
	}
	return deleteBucketIfExists(top, []byte(key))
}
