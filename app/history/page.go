package history

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/parley-chat/parley/internal/logid"
)

// Paging and search: a long conversation is read a page at a time, so
// opening a room with 100,000 messages decrypts only the newest page.
// Pages name their place by message id; inside the store a message's
// place is its sequence key, so every page is one cursor walk.

const (
	// MaxPage is the most messages one page call returns.
	MaxPage = 500
	// MaxQueryBytes is the longest search query.
	MaxQueryBytes = 256
	// searchScanBudget is how many messages one Search call decrypts
	// before it returns what it found with a cursor to go on from, so a
	// search over a huge room never holds the store for long.
	searchScanBudget = 20_000
)

// Page is a run of one room's messages, oldest first.
type Page struct {
	Messages []Message
	// Older: the room has messages before Messages[0].
	Older bool
	// Newer: the room has messages after the last of Messages.
	Newer bool
}

// SearchPage is what one Search call found, newest first.
type SearchPage struct {
	Matches []Message
	// Next is the id to pass as before to go on searching older
	// messages; "" when the whole room was searched.
	Next string
	// Scanned is how many messages this call looked at.
	Scanned int
}

// ErrBadQuery: an empty or too long search query.
var ErrBadQuery = errors.New("history: search text must be 1-256 bytes")

func clampLimit(limit int) int {
	return min(max(limit, 1), MaxPage)
}

// roomSeqs returns the room's sequence bucket (nil: no messages yet).
func roomSeqs(tx *bolt.Tx, roomKey string) (*bolt.Bucket, error) {
	if tx.Bucket(bucketRooms).Get([]byte(roomKey)) == nil {
		return nil, ErrRoomNotFound
	}
	room := tx.Bucket(bucketMessages).Bucket([]byte(roomKey))
	if room == nil {
		return nil, nil
	}
	return room.Bucket(bucketSeq), nil
}

// viewPage runs read in a read transaction and names the room in its error.
func (s *Store) viewPage(roomKey string, read func(*bolt.Tx) error) error {
	if err := s.db.View(read); err != nil {
		return fmt.Errorf("list messages of room %s: %w", logid.Of(roomKey), err)
	}
	return nil
}

// cursorBefore places a cursor on the message just before the message
// before (the room's newest when before is ""), and returns it with that
// message's key and record (nil k: none). A room without messages gives
// a nil cursor; an unknown before is ErrMessageNotFound.
func cursorBefore(tx *bolt.Tx, roomKey, before string) (c *bolt.Cursor, k, v []byte, err error) {
	seqs, err := roomSeqs(tx, roomKey)
	if err != nil || seqs == nil {
		if before != "" && err == nil {
			err = ErrMessageNotFound
		}
		return nil, nil, nil, err
	}
	c = seqs.Cursor()
	if before == "" {
		k, v = c.Last()
		return c, k, v, nil
	}
	_, at, err := messageSlot(tx, roomKey, before)
	if err != nil {
		return nil, nil, nil, err
	}
	c.Seek(at)
	k, v = c.Prev()
	return c, k, v, nil
}

func (s *Store) pageArgs(roomKey, id string, optional bool) error {
	if err := checkKey(roomKey); err != nil {
		return err
	}
	if id == "" && optional {
		return nil
	}
	return checkID("message", id)
}

// MessagesBefore returns up to limit of the newest messages older than
// the message before (all of the room's newest when before is ""),
// oldest first. An unknown before is ErrMessageNotFound.
func (s *Store) MessagesBefore(roomKey, before string, limit int) (Page, error) {
	if err := s.pageArgs(roomKey, before, true); err != nil {
		return Page{}, err
	}
	limit = clampLimit(limit)
	p := Page{Messages: []Message{}, Newer: before != ""}
	err := s.viewPage(roomKey, func(tx *bolt.Tx) error {
		c, k, v, err := cursorBefore(tx, roomKey, before)
		if err != nil || c == nil {
			return err
		}
		var rev []Message
		for ; k != nil && len(rev) < limit; k, v = c.Prev() {
			m, err := s.decodeMessage(roomKey, v)
			if err != nil {
				return err
			}
			rev = append(rev, m)
		}
		p.Older = k != nil
		p.Messages = make([]Message, len(rev))
		// rev is newest first; pages are oldest first.
		for i, m := range rev {
			p.Messages[len(rev)-1-i] = m
		}
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	return p, nil
}

// MessagesAfter returns up to limit messages newer than the message
// after, oldest first. An unknown after is ErrMessageNotFound.
func (s *Store) MessagesAfter(roomKey, after string, limit int) (Page, error) {
	if err := s.pageArgs(roomKey, after, false); err != nil {
		return Page{}, err
	}
	limit = clampLimit(limit)
	p := Page{Messages: []Message{}, Older: true}
	err := s.viewPage(roomKey, func(tx *bolt.Tx) error {
		seqs, at, err := messageSlot(tx, roomKey, after)
		if err != nil {
			return err
		}
		c := seqs.Cursor()
		k, v := c.Seek(at)
		if k != nil && bytes.Equal(k, at) {
			k, v = c.Next()
		}
		for ; k != nil && len(p.Messages) < limit; k, v = c.Next() {
			m, err := s.decodeMessage(roomKey, v)
			if err != nil {
				return err
			}
			p.Messages = append(p.Messages, m)
		}
		p.Newer = k != nil
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	return p, nil
}

// MessagesAround returns the message id with up to limit messages in
// all, about half before it and the rest after (more on one side when
// the other runs out), oldest first: to show a search hit or a
// replied-to message that is not on screen.
func (s *Store) MessagesAround(roomKey, id string, limit int) (Page, error) {
	if err := s.pageArgs(roomKey, id, false); err != nil {
		return Page{}, err
	}
	limit = clampLimit(limit)
	var p Page
	err := s.viewPage(roomKey, func(tx *bolt.Tx) error {
		seqs, at, err := messageSlot(tx, roomKey, id)
		if err != nil {
			return err
		}
		// Find the window's first key: step back half the window, then
		// further while the forward side runs short.
		back := seqs.Cursor()
		back.Seek(at)
		first, steps := at, 0
		for steps < limit/2 {
			k, _ := back.Prev()
			if k == nil {
				break
			}
			first, steps = k, steps+1
		}
		fwd := seqs.Cursor()
		fwd.Seek(at)
		ahead := 0
		for ahead < limit-1-steps {
			k, _ := fwd.Next()
			if k == nil {
				break
			}
			ahead++
		}
		for steps+ahead < limit-1 {
			k, _ := back.Prev()
			if k == nil {
				break
			}
			first, steps = k, steps+1
		}
		c := seqs.Cursor()
		c.Seek(first)
		prev, _ := c.Prev()
		p.Older = prev != nil
		k, v := c.Seek(first)
		for ; k != nil && len(p.Messages) < steps+ahead+1; k, v = c.Next() {
			m, err := s.decodeMessage(roomKey, v)
			if err != nil {
				return err
			}
			p.Messages = append(p.Messages, m)
		}
		p.Newer = k != nil
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	return p, nil
}

// Search finds the room's messages whose text contains query (case is
// ignored), newest first, starting before the message before ("" for
// the newest). It stops at limit matches or after scanning a bounded
// number of messages, and says where to go on (Next). Texts are
// decrypted in memory only; deleted messages have none.
func (s *Store) Search(roomKey, query, before string, limit int) (SearchPage, error) {
	if err := s.pageArgs(roomKey, before, true); err != nil {
		return SearchPage{}, err
	}
	if query == "" || len(query) > MaxQueryBytes {
		return SearchPage{}, ErrBadQuery
	}
	limit = clampLimit(limit)
	needle := strings.ToLower(query)
	out := SearchPage{Matches: []Message{}}
	err := s.viewPage(roomKey, func(tx *bolt.Tx) error {
		c, k, v, err := cursorBefore(tx, roomKey, before)
		if err != nil || c == nil {
			return err
		}
		var last Message
		for ; k != nil; k, v = c.Prev() {
			if len(out.Matches) >= limit || out.Scanned >= searchScanBudget {
				out.Next = last.ID
				return nil
			}
			m, err := s.decodeMessage(roomKey, v)
			if err != nil {
				return err
			}
			out.Scanned++
			last = m
			if !m.Deleted && strings.Contains(strings.ToLower(m.Text), needle) {
				out.Matches = append(out.Matches, m)
			}
		}
		return nil
	})
	if err != nil {
		return SearchPage{}, err
	}
	return out, nil
}
