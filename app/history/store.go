package history

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// State is the delivery state of an outgoing message.
type State string

// Delivery states. Incoming messages have no state ("").
const (
	StateSending   State = "sending"
	StateSent      State = "sent"
	StateDelivered State = "delivered"
	StateFailed    State = "failed"
)

func (s State) valid() bool {
	switch s {
	case "", StateSending, StateSent, StateDelivered, StateFailed:
		return true
	}
	return false
}

// Room is one conversation as this profile remembers it.
type Room struct {
	ID     string
	Server string
	// Link is the full room link including the #secret fragment.
	Link string
	// Name is the local display name; "" means none was given.
	Name       string
	CreatedAt  time.Time
	LastActive time.Time
	// LastPreview is the start (PreviewRunes runes) of the newest message.
	LastPreview string
	// ExpiresAt is the self-destruct time, nil without a timer.
	ExpiresAt *time.Time
	// PeerKey is the other participant's Ed25519 public key (32 bytes) once
	// known, nil before.
	PeerKey []byte
	// Ticket is the signaling server's newest room ticket (opaque), sent
	// with every join so a restarted server can bring the room back.
	Ticket string
}

// Message is one chat message.
type Message struct {
	// ID is chosen by the sender and unique within its room.
	ID       string
	RoomID   string
	Outgoing bool
	Text     string
	SentAt   time.Time
	// State is meaningful for outgoing messages only.
	State State
}

// Limits on what the store accepts.
const (
	// MaxTextBytes is the largest message body, in bytes of UTF-8.
	MaxTextBytes = 64 << 10
	// MaxIDBytes is the longest room or message id.
	MaxIDBytes = 128
	// MaxNameBytes is the longest local room name.
	MaxNameBytes = 256
	// MaxLinkBytes is the longest room link or server address.
	MaxLinkBytes = 2048
	// PreviewRunes is how much of the newest message LastPreview keeps.
	PreviewRunes = 80
	// peerKeySize is the size of an Ed25519 public key.
	peerKeySize = 32
)

// Errors callers branch on.
var (
	// ErrWrongKey: the store was encrypted with another key. Nothing can be
	// read with this one.
	ErrWrongKey = errors.New("history: wrong encryption key (the key in the keyring does not match this history file)")
	// ErrInUse: another process holds the history file open.
	ErrInUse = errors.New("history is in use by another Parley process")
	// ErrRoomNotFound: no room with that id.
	ErrRoomNotFound = errors.New("history: room not found")
	// ErrMessageNotFound: no message with that id in the room.
	ErrMessageNotFound = errors.New("history: message not found")
	// ErrCorrupt: a record failed to decrypt or decode although the key is
	// right.
	ErrCorrupt = errors.New("history: corrupt record")
)

// Bucket and key names. Layout:
//
//	meta     format → "1"; keycheck → sealed constant
//	rooms    <room id> → roomRecord (JSON)
//	messages <room id> → bucket {seq: <uint64 BE> → msgRecord, ids: <msg id> → <uint64 BE>}
var (
	bucketMeta     = []byte("meta")
	bucketRooms    = []byte("rooms")
	bucketMessages = []byte("messages")
	bucketSeq      = []byte("seq")
	bucketIDs      = []byte("ids")
	keyFormat      = []byte("format")
	keyKeyCheck    = []byte("keycheck")
)

const (
	formatVersion = "1"
	keyCheckPlain = "parley history key check v1"
	openTimeout   = time.Second
)

// Store is an open history file. Its methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB
	seal *sealer
	now  func() time.Time
}

// Open opens or creates the history file at path, encrypted with key
// (KeySize bytes). The parent directory is created with mode 0700 and the
// file with mode 0600. If another process has the file open, Open fails
// after a second with ErrInUse instead of waiting; if the file was written
// with another key it fails with ErrWrongKey.
func Open(path string, key []byte) (*Store, error) {
	return open(path, key, openTimeout)
}

func open(path string, key []byte, timeout time.Duration) (*Store, error) {
	seal, err := newSealer(key)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open history: create directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open history %s: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open history %s: %w", path, err)
	}
	// bolt only applies the mode on creation; tighten an older file too.
	if err := os.Chmod(path, 0o600); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open history %s: %w", path, err)
	}
	s := &Store{db: db, seal: seal, now: time.Now}
	if err := db.Update(s.init); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open history %s: %w", path, err)
	}
	return s, nil
}

// init creates the buckets of a new file and checks the key of an old one.
func (s *Store) init(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	for _, name := range [][]byte{bucketRooms, bucketMessages} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	if f := meta.Get(keyFormat); f != nil && string(f) != formatVersion {
		return fmt.Errorf("history format %q is newer than this Parley understands (%s)", f, formatVersion)
	}
	check := meta.Get(keyKeyCheck)
	if check == nil {
		sealed, err := s.seal.seal([]byte(keyCheckPlain), keyKeyCheck)
		if err != nil {
			return err
		}
		if err := meta.Put(keyFormat, []byte(formatVersion)); err != nil {
			return err
		}
		return meta.Put(keyKeyCheck, sealed)
	}
	plain, err := s.seal.open(check, keyKeyCheck)
	if err != nil || string(plain) != keyCheckPlain {
		return ErrWrongKey
	}
	return nil
}

// Close closes the file. The Store must not be used afterwards.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close history: %w", err)
	}
	return nil
}

// ---- records ----

// roomRecord is a room on disk: indexable fields in clear, the rest sealed.
type roomRecord struct {
	CreatedAt  time.Time  `json:"c"`
	LastActive time.Time  `json:"a"`
	ExpiresAt  *time.Time `json:"e,omitempty"`
	Sealed     []byte     `json:"s"`
}

// roomSecrets are the sealed fields of a room.
type roomSecrets struct {
	Server  string `json:"server,omitempty"`
	Link    string `json:"link,omitempty"`
	Name    string `json:"name,omitempty"`
	Preview string `json:"preview,omitempty"`
	PeerKey []byte `json:"peerKey,omitempty"`
	Ticket  string `json:"ticket,omitempty"`
}

// msgRecord is a message on disk; only the text is sealed.
type msgRecord struct {
	ID       string    `json:"i"`
	Outgoing bool      `json:"o,omitempty"`
	SentAt   time.Time `json:"t"`
	State    State     `json:"st,omitempty"`
	Sealed   []byte    `json:"s"`
}

func roomAD(id string) []byte        { return []byte("room\x00" + id) }
func msgAD(roomID, id string) []byte { return []byte("msg\x00" + roomID + "\x00" + id) }

// shortID names a room in errors without spelling out its id.
func shortID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:4])
}

func (s *Store) encodeRoom(r Room) ([]byte, error) {
	plain, err := json.Marshal(roomSecrets{Server: r.Server, Link: r.Link, Name: r.Name, Preview: r.LastPreview, PeerKey: r.PeerKey, Ticket: r.Ticket})
	if err != nil {
		return nil, err
	}
	sealed, err := s.seal.seal(plain, roomAD(r.ID))
	if err != nil {
		return nil, err
	}
	return json.Marshal(roomRecord{CreatedAt: r.CreatedAt, LastActive: r.LastActive, ExpiresAt: r.ExpiresAt, Sealed: sealed})
}

func (s *Store) decodeRoom(id string, b []byte) (Room, error) {
	var rec roomRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return Room{}, fmt.Errorf("room %s: %w: %v", shortID(id), ErrCorrupt, err)
	}
	plain, err := s.seal.open(rec.Sealed, roomAD(id))
	if err != nil {
		return Room{}, fmt.Errorf("room %s: %w: %v", shortID(id), ErrCorrupt, err)
	}
	var sec roomSecrets
	if err := json.Unmarshal(plain, &sec); err != nil {
		return Room{}, fmt.Errorf("room %s: %w: %v", shortID(id), ErrCorrupt, err)
	}
	return Room{
		ID: id, Server: sec.Server, Link: sec.Link, Name: sec.Name,
		CreatedAt: rec.CreatedAt, LastActive: rec.LastActive, LastPreview: sec.Preview,
		ExpiresAt: rec.ExpiresAt, PeerKey: sec.PeerKey, Ticket: sec.Ticket,
	}, nil
}

func (s *Store) decodeMessage(roomID string, b []byte) (Message, error) {
	var rec msgRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return Message{}, fmt.Errorf("message in room %s: %w: %v", shortID(roomID), ErrCorrupt, err)
	}
	plain, err := s.seal.open(rec.Sealed, msgAD(roomID, rec.ID))
	if err != nil {
		return Message{}, fmt.Errorf("message in room %s: %w: %v", shortID(roomID), ErrCorrupt, err)
	}
	return Message{ID: rec.ID, RoomID: roomID, Outgoing: rec.Outgoing, Text: string(plain), SentAt: rec.SentAt, State: rec.State}, nil
}

// ---- validation ----

func checkID(kind, id string) error {
	if id == "" {
		return fmt.Errorf("history: empty %s id", kind)
	}
	if len(id) > MaxIDBytes {
		return fmt.Errorf("history: %s id too long (%d bytes, max %d)", kind, len(id), MaxIDBytes)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return fmt.Errorf("history: %s id has a character outside printable ASCII", kind)
		}
	}
	return nil
}

func checkText(field, s string, maxBytes int) error {
	if len(s) > maxBytes {
		return fmt.Errorf("history: %s too long (%d bytes, max %d)", field, len(s), maxBytes)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("history: %s is not valid UTF-8", field)
	}
	return nil
}

func checkRoom(r Room) error {
	if err := checkID("room", r.ID); err != nil {
		return err
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"server", r.Server, MaxLinkBytes},
		{"link", r.Link, MaxLinkBytes},
		{"name", r.Name, MaxNameBytes},
		{"preview", r.LastPreview, MaxTextBytes},
		{"ticket", r.Ticket, MaxLinkBytes},
	} {
		if err := checkText(f.name, f.value, f.max); err != nil {
			return err
		}
	}
	if len(r.PeerKey) != 0 && len(r.PeerKey) != peerKeySize {
		return fmt.Errorf("history: peer key has %d bytes, want %d", len(r.PeerKey), peerKeySize)
	}
	return nil
}

func checkMessage(m Message) error {
	if err := checkID("room", m.RoomID); err != nil {
		return err
	}
	if err := checkID("message", m.ID); err != nil {
		return err
	}
	if err := checkText("message text", m.Text, MaxTextBytes); err != nil {
		return err
	}
	if !m.State.valid() {
		return fmt.Errorf("history: unknown message state %q", m.State)
	}
	return nil
}

// Preview returns what LastPreview shows for a message text: its first
// PreviewRunes runes on one line, with an ellipsis when cut.
func Preview(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) <= PreviewRunes {
		return text
	}
	r := []rune(text)
	return string(r[:PreviewRunes]) + "…"
}

// ---- rooms ----

// PutRoom stores r, replacing every field of an existing room with the same
// id (use Rename and AddMessage to change single fields). The room's
// messages are kept.
func (s *Store) PutRoom(r Room) error {
	if err := checkRoom(r); err != nil {
		return err
	}
	b, err := s.encodeRoom(r)
	if err != nil {
		return fmt.Errorf("put room %s: %w", shortID(r.ID), err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRooms).Put([]byte(r.ID), b)
	})
	if err != nil {
		return fmt.Errorf("put room %s: %w", shortID(r.ID), err)
	}
	return nil
}

// Room returns the room with id; ok is false when there is none.
func (s *Store) Room(id string) (r Room, ok bool, err error) {
	if err := checkID("room", id); err != nil {
		return Room{}, false, err
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRooms).Get([]byte(id))
		if b == nil {
			return nil
		}
		ok = true
		r, err = s.decodeRoom(id, b)
		return err
	})
	if err != nil {
		return Room{}, false, fmt.Errorf("get room: %w", err)
	}
	return r, ok, nil
}

// Rooms returns every room, most recently active first (an empty, non-nil
// slice when there are none).
func (s *Store) Rooms() ([]Room, error) {
	rooms := []Room{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRooms).ForEach(func(k, v []byte) error {
			r, err := s.decodeRoom(string(k), v)
			if err != nil {
				return err
			}
			rooms = append(rooms, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	sort.SliceStable(rooms, func(i, j int) bool {
		if !rooms[i].LastActive.Equal(rooms[j].LastActive) {
			return rooms[i].LastActive.After(rooms[j].LastActive)
		}
		return rooms[i].ID < rooms[j].ID
	})
	return rooms, nil
}

// updateRoom applies change to the stored room id inside tx.
func (s *Store) updateRoom(tx *bolt.Tx, id string, change func(*Room)) error {
	rooms := tx.Bucket(bucketRooms)
	b := rooms.Get([]byte(id))
	if b == nil {
		return ErrRoomNotFound
	}
	r, err := s.decodeRoom(id, b)
	if err != nil {
		return err
	}
	change(&r)
	nb, err := s.encodeRoom(r)
	if err != nil {
		return err
	}
	return rooms.Put([]byte(id), nb)
}

// Rename sets the room's local display name ("" removes it). It is never
// sent to the peer.
func (s *Store) Rename(id, name string) error {
	if err := checkID("room", id); err != nil {
		return err
	}
	if err := checkText("name", name, MaxNameBytes); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return s.updateRoom(tx, id, func(r *Room) { r.Name = name })
	})
	if err != nil {
		return fmt.Errorf("rename room %s: %w", shortID(id), err)
	}
	return nil
}

// ClearMessages deletes the room's messages on this device only and empties
// its preview; the room itself stays.
func (s *Store) ClearMessages(id string) error {
	if err := checkID("room", id); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := s.updateRoom(tx, id, func(r *Room) { r.LastPreview = "" }); err != nil {
			return err
		}
		return deleteBucketIfExists(tx.Bucket(bucketMessages), []byte(id))
	})
	if err != nil {
		return fmt.Errorf("clear room %s: %w", shortID(id), err)
	}
	return nil
}

// Forget deletes the room and all its messages from this device. Forgetting
// an unknown room is not an error.
func (s *Store) Forget(id string) error {
	if err := checkID("room", id); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketRooms).Delete([]byte(id)); err != nil {
			return err
		}
		return deleteBucketIfExists(tx.Bucket(bucketMessages), []byte(id))
	})
	if err != nil {
		return fmt.Errorf("forget room %s: %w", shortID(id), err)
	}
	return nil
}

func deleteBucketIfExists(parent *bolt.Bucket, name []byte) error {
	if err := parent.DeleteBucket(name); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
		return err
	}
	return nil
}

// ---- messages ----

// errDuplicate rolls back AddMessage's transaction when the message exists.
var errDuplicate = errors.New("duplicate message")

// AddMessage appends m to its room, which must exist. It is idempotent on
// (RoomID, ID): adding a message again changes nothing and returns
// added=false. In the same transaction the room's LastPreview becomes the
// start of m.Text and LastActive moves forward to m.SentAt (capped at the
// current time, so a peer's fast clock cannot pin a room to the top). When
// AddMessage returns, the message is on disk.
func (s *Store) AddMessage(m Message) (added bool, err error) {
	if err := checkMessage(m); err != nil {
		return false, err
	}
	sealed, err := s.seal.seal([]byte(m.Text), msgAD(m.RoomID, m.ID))
	if err != nil {
		return false, fmt.Errorf("add message: %w", err)
	}
	rec, err := json.Marshal(msgRecord{ID: m.ID, Outgoing: m.Outgoing, SentAt: m.SentAt, State: m.State, Sealed: sealed})
	if err != nil {
		return false, fmt.Errorf("add message: %w", err)
	}
	active := m.SentAt
	if now := s.now(); active.After(now) {
		active = now
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := s.updateRoom(tx, m.RoomID, func(r *Room) {
			r.LastPreview = Preview(m.Text)
			if active.After(r.LastActive) {
				r.LastActive = active
			}
		}); err != nil {
			return err
		}
		room, err := tx.Bucket(bucketMessages).CreateBucketIfNotExists([]byte(m.RoomID))
		if err != nil {
			return err
		}
		ids, err := room.CreateBucketIfNotExists(bucketIDs)
		if err != nil {
			return err
		}
		if ids.Get([]byte(m.ID)) != nil {
			return errDuplicate
		}
		seqs, err := room.CreateBucketIfNotExists(bucketSeq)
		if err != nil {
			return err
		}
		n, err := seqs.NextSequence()
		if err != nil {
			return err
		}
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], n)
		if err := seqs.Put(key[:], rec); err != nil {
			return err
		}
		return ids.Put([]byte(m.ID), key[:])
	})
	if errors.Is(err, errDuplicate) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("add message to room %s: %w", shortID(m.RoomID), err)
	}
	return true, nil
}

// SetState records the delivery state of a message. Delivered is final: a
// late "sent" or "failed" for a delivered message is ignored, because the
// peer's acknowledgement can overtake the local send confirmation.
func (s *Store) SetState(roomID, msgID string, st State) error {
	if err := checkID("room", roomID); err != nil {
		return err
	}
	if err := checkID("message", msgID); err != nil {
		return err
	}
	if st == "" || !st.valid() {
		return fmt.Errorf("history: unknown message state %q", st)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRooms).Get([]byte(roomID)) == nil {
			return ErrRoomNotFound
		}
		room := tx.Bucket(bucketMessages).Bucket([]byte(roomID))
		if room == nil {
			return ErrMessageNotFound
		}
		key := room.Bucket(bucketIDs).Get([]byte(msgID))
		if key == nil {
			return ErrMessageNotFound
		}
		seqs := room.Bucket(bucketSeq)
		var rec msgRecord
		if err := json.Unmarshal(seqs.Get(key), &rec); err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if rec.State == st || rec.State == StateDelivered {
			return nil
		}
		rec.State = st
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return seqs.Put(append([]byte(nil), key...), b)
	})
	if err != nil {
		return fmt.Errorf("set message state in room %s: %w", shortID(roomID), err)
	}
	return nil
}

// Messages returns the room's messages in the order they were added, oldest
// first. An unknown room is ErrRoomNotFound.
func (s *Store) Messages(roomID string) ([]Message, error) {
	if err := checkID("room", roomID); err != nil {
		return nil, err
	}
	msgs := []Message{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRooms).Get([]byte(roomID)) == nil {
			return ErrRoomNotFound
		}
		room := tx.Bucket(bucketMessages).Bucket([]byte(roomID))
		if room == nil {
			return nil
		}
		seqs := room.Bucket(bucketSeq)
		if seqs == nil {
			return nil
		}
		return seqs.ForEach(func(_, v []byte) error {
			m, err := s.decodeMessage(roomID, v)
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list messages of room %s: %w", shortID(roomID), err)
	}
	return msgs, nil
}
