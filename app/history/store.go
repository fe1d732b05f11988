package history

import (
	"bytes"
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

	"github.com/parley-chat/parley/internal/logid"
)

// State is the delivery state of an outgoing message.
type State string

// Delivery states. Incoming messages have no state ("").
const (
	StateSending   State = "sending"
	StateSent      State = "sent"
	StateDelivered State = "delivered"
	StateFailed    State = "failed"
	// StateUndelivered is final: the message never reached the peer and is
	// never sent again, because the peer's key changed after it was
	// written (TrustNewPeerKey). It must not go to someone else.
	StateUndelivered State = "undelivered"
)

func (s State) valid() bool {
	switch s {
	case "", StateSending, StateSent, StateDelivered, StateFailed, StateUndelivered:
		return true
	}
	return false
}

// Room is one conversation as this profile remembers it. A room is
// identified by its server and room id together (Key): the same room id
// on another server is another room, so a link naming a hostile server
// can never reach a stored conversation.
type Room struct {
	// Key identifies the room in this store: RoomKey(Server, ID). PutRoom
	// fills it in; every other method takes it.
	Key    string
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
	// PeerKey is the other participant's Ed25519 public key (32 bytes),
	// pinned the first time a connection with it was verified (trust on
	// first use); nil before. A different key later is KEY_CHANGED.
	PeerKey []byte
	// NewPeerKey is the different key a later connection presented (not
	// trusted; nil when none). TrustNewPeerKey makes it the PeerKey.
	NewPeerKey []byte
	// Ended is the code (ROOM_DESTROYED, TIMER_EXPIRED) the server ended
	// the room with when that could not be confirmed (no authenticated
	// destroy from the peer, self-destruct time not reached): the history
	// is kept and the user may delete it. "" while the room is not ended.
	Ended string
	// Ticket is the signaling server's newest room ticket (opaque), sent
	// with every join so a restarted server can bring the room back.
	Ticket string
}

// Message is one chat message.
type Message struct {
	// ID is chosen by the sender and unique within its room.
	ID string
	// RoomKey is the Key of the message's room.
	RoomKey  string
	Outgoing bool
	Text     string
	SentAt   time.Time
	// State is meaningful for outgoing messages only.
	State State
	// ReplyTo is the id of the message this one answers ("": none); it
	// may name a message this store does not have.
	ReplyTo string
	// Edited: the text was changed after sending (UpdateMessage).
	Edited bool
	// Deleted: deleted for both; Text is "" (a tombstone).
	Deleted bool
	// MyReaction and PeerReaction are each side's reaction ("": none).
	MyReaction   string
	PeerReaction string
}

// msgExtras are the sealed fields of a message besides its text (record
// field "x"; absent in records from before them).
type msgExtras struct {
	ReplyTo      string `json:"re,omitempty"`
	Edited       bool   `json:"ed,omitempty"`
	Deleted      bool   `json:"del,omitempty"`
	MyReaction   string `json:"mr,omitempty"`
	PeerReaction string `json:"pr,omitempty"`
}

// MaxReactionBytes bounds a stored reaction (one emoji of chat.Reactions).
const MaxReactionBytes = 32

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

// Bucket and key names. Layout (format 2):
//
//	meta     format → "2"; keycheck → sealed constant
//	rooms    <room key> → roomRecord (JSON)
//	messages <room key> → bucket {seq: <uint64 BE> → msgRecord, ids: <msg id> → <uint64 BE>}
//
// Format 1 keyed rooms and messages by the room id alone; open migrates it.
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
	formatVersion = "2"
	// formatRoomID is the old layout keyed by room id alone.
	formatRoomID  = "1"
	keyCheckPlain = "parley history key check v1"
	// roomKeyLabel separates RoomKey's hash from other uses of SHA-256.
	roomKeyLabel = "parley-history-room-key-v1"
	openTimeout  = time.Second
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
	f := meta.Get(keyFormat)
	if f != nil && string(f) != formatVersion && string(f) != formatRoomID {
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
	if string(f) == formatRoomID {
		// In the same transaction as the check: a crash mid-way leaves
		// the old format, which the next open migrates again.
		if err := s.migrateRoomIDs(tx); err != nil {
			return fmt.Errorf("migrate history to format %s: %w", formatVersion, err)
		}
		return meta.Put(keyFormat, []byte(formatVersion))
	}
	return nil
}

// RoomKey returns the key of the room with this id on server: the room id
// (so the key still shows which room it is), a dot, and 80 bits of
// SHA-256 over the normalized server address and the id. The same room id
// on another server gets another key, so a link naming another server can
// never reach a stored conversation; 80 bits are out of reach of anyone
// grinding server names for a collision. The key is the same in every
// profile (both windows of a conversation name it alike). It hides the
// server from a reader of the file, but one who guesses the server can
// confirm the guess.
func RoomKey(server, roomID string) string {
	h := sha256.New()
	h.Write([]byte(roomKeyLabel))
	h.Write([]byte{0})
	h.Write([]byte(normalizeServer(server)))
	h.Write([]byte{0})
	h.Write([]byte(roomID))
	return roomID + "." + hex.EncodeToString(h.Sum(nil)[:10])
}

// normalizeServer folds spellings of one server address together
// (session.ServerURL and session.ParseLink already produce this form).
func normalizeServer(server string) string {
	return strings.TrimRight(strings.ToLower(strings.TrimSpace(server)), "/")
}

// serverOfLink returns the scheme://host part of a stored room link, for
// format-1 records that never stored their server separately.
func serverOfLink(link string) string {
	server, _, ok := strings.Cut(link, "/r/")
	if !ok {
		return ""
	}
	return server
}

// migrateRoomIDs rewrites a format-1 file (rooms and messages keyed by
// room id alone) to room keys: each room moves to RoomKey(its stored
// server, its id) and every sealed value is sealed again, bound to the new
// key. Message sequence numbers and ids are kept.
func (s *Store) migrateRoomIDs(tx *bolt.Tx) error {
	rooms, msgs := tx.Bucket(bucketRooms), tx.Bucket(bucketMessages)
	type oldRoom struct {
		id  string
		rec []byte
	}
	var old []oldRoom
	if err := rooms.ForEach(func(k, v []byte) error {
		old = append(old, oldRoom{string(k), append([]byte(nil), v...)})
		return nil
	}); err != nil {
		return err
	}
	for _, o := range old {
		r, err := s.decodeRoomAD(o.id, o.rec, roomAD(o.id))
		if err != nil {
			return err
		}
		r.ID = o.id
		if r.Server == "" {
			r.Server = serverOfLink(r.Link)
		}
		r.Key = RoomKey(r.Server, r.ID)
		b, err := s.encodeRoom(r)
		if err != nil {
			return err
		}
		if err := rooms.Delete([]byte(o.id)); err != nil {
			return err
		}
		if err := rooms.Put([]byte(r.Key), b); err != nil {
			return err
		}
		if err := s.migrateMessages(msgs, o.id, r.Key); err != nil {
			return err
		}
	}
	return nil
}

// migrateMessages moves the messages bucket of room id to key, sealing
// each text again for its new place.
func (s *Store) migrateMessages(msgs *bolt.Bucket, id, key string) error {
	src := msgs.Bucket([]byte(id))
	if src == nil {
		return nil
	}
	dst, err := msgs.CreateBucket([]byte(key))
	if err != nil {
		return err
	}
	if oldSeqs := src.Bucket(bucketSeq); oldSeqs != nil {
		seqs, err := dst.CreateBucket(bucketSeq)
		if err != nil {
			return err
		}
		if err := oldSeqs.ForEach(func(k, v []byte) error {
			var rec msgRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("message in room %s: %w: %v", logid.Of(id), ErrCorrupt, err)
			}
			plain, err := s.seal.open(rec.Sealed, msgAD(id, rec.ID))
			if err != nil {
				return fmt.Errorf("message in room %s: %w: %v", logid.Of(id), ErrCorrupt, err)
			}
			if rec.Sealed, err = s.seal.seal(plain, msgAD(key, rec.ID)); err != nil {
				return err
			}
			b, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			return seqs.Put(append([]byte(nil), k...), b)
		}); err != nil {
			return err
		}
		if err := seqs.SetSequence(oldSeqs.Sequence()); err != nil {
			return err
		}
	}
	if oldIDs := src.Bucket(bucketIDs); oldIDs != nil {
		ids, err := dst.CreateBucket(bucketIDs)
		if err != nil {
			return err
		}
		if err := oldIDs.ForEach(func(k, v []byte) error {
			return ids.Put(append([]byte(nil), k...), append([]byte(nil), v...))
		}); err != nil {
			return err
		}
	}
	return msgs.DeleteBucket([]byte(id))
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
	Ended      string     `json:"x,omitempty"`
	Sealed     []byte     `json:"s"`
}

// roomSecrets are the sealed fields of a room.
type roomSecrets struct {
	// ID is the room id (format 2; format 1 keyed records by it).
	ID      string `json:"id,omitempty"`
	Server  string `json:"server,omitempty"`
	Link    string `json:"link,omitempty"`
	Name    string `json:"name,omitempty"`
	Preview string `json:"preview,omitempty"`
	PeerKey []byte `json:"peerKey,omitempty"`
	// NewPeerKey is a changed key seen after PeerKey was pinned.
	NewPeerKey []byte `json:"newPeerKey,omitempty"`
	Ticket     string `json:"ticket,omitempty"`
}

// msgRecord is a message on disk; only the text is sealed.
type msgRecord struct {
	ID       string    `json:"i"`
	Outgoing bool      `json:"o,omitempty"`
	SentAt   time.Time `json:"t"`
	State    State     `json:"st,omitempty"`
	Sealed   []byte    `json:"s"`
	// Extras is the sealed msgExtras, absent when all are empty.
	Extras []byte `json:"x,omitempty"`
}

// roomAD and msgAD bind sealed values to their room key (format 2) or
// room id (format 1).
func roomAD(key string) []byte        { return []byte("room\x00" + key) }
func msgAD(roomKey, id string) []byte { return []byte("msg\x00" + roomKey + "\x00" + id) }
func extrasAD(roomKey, id string) []byte {
	return []byte("msgx\x00" + roomKey + "\x00" + id)
}

// encodeRoom seals r for its place, r.Key.
func (s *Store) encodeRoom(r Room) ([]byte, error) {
	plain, err := json.Marshal(roomSecrets{ID: r.ID, Server: r.Server, Link: r.Link, Name: r.Name, Preview: r.LastPreview, PeerKey: r.PeerKey, NewPeerKey: r.NewPeerKey, Ticket: r.Ticket})
	if err != nil {
		return nil, err
	}
	sealed, err := s.seal.seal(plain, roomAD(r.Key))
	if err != nil {
		return nil, err
	}
	return json.Marshal(roomRecord{CreatedAt: r.CreatedAt, LastActive: r.LastActive, ExpiresAt: r.ExpiresAt, Ended: r.Ended, Sealed: sealed})
}

func (s *Store) decodeRoom(key string, b []byte) (Room, error) {
	return s.decodeRoomAD(key, b, roomAD(key))
}

func (s *Store) decodeRoomAD(key string, b, ad []byte) (Room, error) {
	var rec roomRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return Room{}, fmt.Errorf("room %s: %w: %v", logid.Of(key), ErrCorrupt, err)
	}
	plain, err := s.seal.open(rec.Sealed, ad)
	if err != nil {
		return Room{}, fmt.Errorf("room %s: %w: %v", logid.Of(key), ErrCorrupt, err)
	}
	var sec roomSecrets
	if err := json.Unmarshal(plain, &sec); err != nil {
		return Room{}, fmt.Errorf("room %s: %w: %v", logid.Of(key), ErrCorrupt, err)
	}
	return Room{
		Key: key, ID: sec.ID, Server: sec.Server, Link: sec.Link, Name: sec.Name,
		CreatedAt: rec.CreatedAt, LastActive: rec.LastActive, LastPreview: sec.Preview,
		ExpiresAt: rec.ExpiresAt, Ended: rec.Ended, PeerKey: sec.PeerKey, NewPeerKey: sec.NewPeerKey, Ticket: sec.Ticket,
	}, nil
}

func (s *Store) decodeMessage(roomKey string, b []byte) (Message, error) {
	var rec msgRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return Message{}, fmt.Errorf("message in room %s: %w: %v", logid.Of(roomKey), ErrCorrupt, err)
	}
	plain, err := s.seal.open(rec.Sealed, msgAD(roomKey, rec.ID))
	if err != nil {
		return Message{}, fmt.Errorf("message in room %s: %w: %v", logid.Of(roomKey), ErrCorrupt, err)
	}
	m := Message{ID: rec.ID, RoomKey: roomKey, Outgoing: rec.Outgoing, Text: string(plain), SentAt: rec.SentAt, State: rec.State}
	if rec.Extras != nil {
		xp, err := s.seal.open(rec.Extras, extrasAD(roomKey, rec.ID))
		if err != nil {
			return Message{}, fmt.Errorf("message in room %s: %w: %v", logid.Of(roomKey), ErrCorrupt, err)
		}
		var x msgExtras
		if err := json.Unmarshal(xp, &x); err != nil {
			return Message{}, fmt.Errorf("message in room %s: %w: %v", logid.Of(roomKey), ErrCorrupt, err)
		}
		m.ReplyTo, m.Edited, m.Deleted, m.MyReaction, m.PeerReaction = x.ReplyTo, x.Edited, x.Deleted, x.MyReaction, x.PeerReaction
	}
	return m, nil
}

// encodeMessage seals m's text and extras into its record.
func (s *Store) encodeMessage(m Message) ([]byte, error) {
	sealed, err := s.seal.seal([]byte(m.Text), msgAD(m.RoomKey, m.ID))
	if err != nil {
		return nil, err
	}
	rec := msgRecord{ID: m.ID, Outgoing: m.Outgoing, SentAt: m.SentAt, State: m.State, Sealed: sealed}
	if x := (msgExtras{m.ReplyTo, m.Edited, m.Deleted, m.MyReaction, m.PeerReaction}); x != (msgExtras{}) {
		xp, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		if rec.Extras, err = s.seal.seal(xp, extrasAD(m.RoomKey, m.ID)); err != nil {
			return nil, err
		}
	}
	return json.Marshal(rec)
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

// checkKey checks a room key (RoomKey: a room id and 21 more characters).
func checkKey(key string) error {
	if key == "" || len(key) > MaxIDBytes+21 {
		return fmt.Errorf("history: room key of %d bytes", len(key))
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] > '~' {
			return fmt.Errorf("history: room key has a character outside printable ASCII")
		}
	}
	return nil
}

func checkRoom(r Room) error {
	if err := checkID("room", r.ID); err != nil {
		return err
	}
	if r.Ended != "" && !validCode(r.Ended) {
		return fmt.Errorf("history: bad end code")
	}
	if len(r.NewPeerKey) != 0 && len(r.NewPeerKey) != peerKeySize {
		return fmt.Errorf("history: new peer key has %d bytes, want %d", len(r.NewPeerKey), peerKeySize)
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

// validCode reports whether c looks like an error code: A-Z and _, at
// most 32 characters.
func validCode(c string) bool {
	if len(c) == 0 || len(c) > 32 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if (c[i] < 'A' || c[i] > 'Z') && c[i] != '_' {
			return false
		}
	}
	return true
}

func checkMessage(m Message) error {
	if err := checkKey(m.RoomKey); err != nil {
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
	if m.ReplyTo != "" {
		if err := checkID("reply", m.ReplyTo); err != nil {
			return err
		}
	}
	if len(m.MyReaction) > MaxReactionBytes || len(m.PeerReaction) > MaxReactionBytes {
		return errors.New("history: reaction too long")
	}
	if m.Deleted && m.Text != "" {
		return errors.New("history: a deleted message keeps no text")
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

// PutRoom stores r under RoomKey(r.Server, r.ID) (whatever r.Key says),
// replacing every field of an existing room with that key (use Rename and
// AddMessage to change single fields). The room's messages are kept.
func (s *Store) PutRoom(r Room) error {
	if err := checkRoom(r); err != nil {
		return err
	}
	r.Key = RoomKey(r.Server, r.ID)
	b, err := s.encodeRoom(r)
	if err != nil {
		return fmt.Errorf("put room %s: %w", logid.Of(r.Key), err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRooms).Put([]byte(r.Key), b)
	})
	if err != nil {
		return fmt.Errorf("put room %s: %w", logid.Of(r.Key), err)
	}
	return nil
}

// Room returns the room with key; ok is false when there is none.
func (s *Store) Room(key string) (r Room, ok bool, err error) {
	if err := checkKey(key); err != nil {
		return Room{}, false, err
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRooms).Get([]byte(key))
		if b == nil {
			return nil
		}
		ok = true
		r, err = s.decodeRoom(key, b)
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
		return rooms[i].Key < rooms[j].Key
	})
	return rooms, nil
}

// updateRoom applies change to the stored room key inside tx. change may
// return an error to abort the transaction.
func (s *Store) updateRoom(tx *bolt.Tx, key string, change func(*Room) error) error {
	rooms := tx.Bucket(bucketRooms)
	b := rooms.Get([]byte(key))
	if b == nil {
		return ErrRoomNotFound
	}
	r, err := s.decodeRoom(key, b)
	if err != nil {
		return err
	}
	if err := change(&r); err != nil {
		return err
	}
	if err := checkRoom(r); err != nil {
		return err
	}
	nb, err := s.encodeRoom(r)
	if err != nil {
		return err
	}
	return rooms.Put([]byte(key), nb)
}

// UpdateRoom changes fields of the stored room key in one transaction:
// change gets the stored room and may return an error to change nothing.
// Key, ID and Server cannot change (they make the key).
func (s *Store) UpdateRoom(key string, change func(*Room) error) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return s.updateRoom(tx, key, func(r *Room) error {
			k, id, server := r.Key, r.ID, r.Server
			if err := change(r); err != nil {
				return err
			}
			r.Key, r.ID, r.Server = k, id, server
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("update room %s: %w", logid.Of(key), err)
	}
	return nil
}

// Rename sets the room's local display name ("" removes it). It is never
// sent to the peer.
func (s *Store) Rename(key, name string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkText("name", name, MaxNameBytes); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return s.updateRoom(tx, key, func(r *Room) error { r.Name = name; return nil })
	})
	if err != nil {
		return fmt.Errorf("rename room %s: %w", logid.Of(key), err)
	}
	return nil
}

// TrustNewPeerKey accepts the changed key a later connection presented
// (NewPeerKey; the user compared the new safety number): it becomes the
// pinned PeerKey. In the same transaction every outgoing message the old
// key had not acknowledged becomes StateUndelivered and its pending
// operations (PendingOps) are dropped, so nothing written to the old key
// is ever sent to the new one. Without a NewPeerKey it changes nothing.
func (s *Store) TrustNewPeerKey(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		changed := false
		if err := s.updateRoom(tx, key, func(r *Room) error {
			if len(r.NewPeerKey) == 0 {
				return nil
			}
			r.PeerKey, r.NewPeerKey, changed = r.NewPeerKey, nil, true
			return nil
		}); err != nil || !changed {
			return err
		}
		room := tx.Bucket(bucketMessages).Bucket([]byte(key))
		if room == nil {
			return nil
		}
		// Operations the old key never acked are dropped like its
		// messages: an edit's text must not go to the new key either.
		if err := deleteBucketIfExists(room, bucketOps); err != nil {
			return err
		}
		if room.Bucket(bucketSeq) == nil {
			return nil
		}
		seqs := room.Bucket(bucketSeq)
		type update struct{ k, v []byte }
		var updates []update
		if err := seqs.ForEach(func(k, v []byte) error {
			var rec msgRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
			if !rec.Outgoing || rec.State == StateDelivered || rec.State == StateUndelivered {
				return nil
			}
			rec.State = StateUndelivered
			b, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			updates = append(updates, update{append([]byte(nil), k...), b})
			return nil
		}); err != nil {
			return err
		}
		for _, u := range updates {
			if err := seqs.Put(u.k, u.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("trust new key of room %s: %w", logid.Of(key), err)
	}
	return nil
}

// ClearMessages deletes the room's messages on this device only and empties
// its preview; the room itself stays.
func (s *Store) ClearMessages(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := s.updateRoom(tx, key, func(r *Room) error { r.LastPreview = ""; return nil }); err != nil {
			return err
		}
		if err := deleteThumbs(tx, key); err != nil {
			return err
		}
		return deleteBucketIfExists(tx.Bucket(bucketMessages), []byte(key))
	})
	if err != nil {
		return fmt.Errorf("clear room %s: %w", logid.Of(key), err)
	}
	return nil
}

// Forget deletes the room and all its messages from this device. Forgetting
// an unknown room is not an error.
func (s *Store) Forget(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketRooms).Delete([]byte(key)); err != nil {
			return err
		}
		if err := deleteThumbs(tx, key); err != nil {
			return err
		}
		return deleteBucketIfExists(tx.Bucket(bucketMessages), []byte(key))
	})
	if err != nil {
		return fmt.Errorf("forget room %s: %w", logid.Of(key), err)
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

// AddMessage appends m to its room (m.RoomKey), which must exist. It is
// idempotent on (RoomKey, ID): adding a message again changes nothing and returns
// added=false. In the same transaction the room's LastPreview becomes the
// start of m.Text and LastActive moves forward to m.SentAt (capped at the
// current time, so a peer's fast clock cannot pin a room to the top). When
// AddMessage returns, the message is on disk.
func (s *Store) AddMessage(m Message) (added bool, err error) {
	if err := checkMessage(m); err != nil {
		return false, err
	}
	rec, err := s.encodeMessage(m)
	if err != nil {
		return false, fmt.Errorf("add message: %w", err)
	}
	active := m.SentAt
	if now := s.now(); active.After(now) {
		active = now
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := s.updateRoom(tx, m.RoomKey, func(r *Room) error {
			r.LastPreview = Preview(m.Text)
			if active.After(r.LastActive) {
				r.LastActive = active
			}
			return nil
		}); err != nil {
			return err
		}
		room, err := tx.Bucket(bucketMessages).CreateBucketIfNotExists([]byte(m.RoomKey))
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
		key, err := putNext(seqs, rec)
		if err != nil {
			return err
		}
		return ids.Put([]byte(m.ID), key)
	})
	if errors.Is(err, errDuplicate) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("add message to room %s: %w", logid.Of(m.RoomKey), err)
	}
	return true, nil
}

// putNext stores v in b under b's next sequence number (8 bytes, big
// endian, so keys sort in insertion order) and returns that key.
func putNext(b *bolt.Bucket, v []byte) ([]byte, error) {
	n, err := b.NextSequence()
	if err != nil {
		return nil, err
	}
	key := binary.BigEndian.AppendUint64(nil, n)
	return key, b.Put(key, v)
}

// SetState records the delivery state of a message. Delivered is final: a
// late "sent" or "failed" for a delivered message is ignored, because the
// peer's acknowledgement can overtake the local send confirmation.
// Undelivered is final too (see TrustNewPeerKey).
func (s *Store) SetState(roomKey, msgID string, st State) error {
	if err := checkKey(roomKey); err != nil {
		return err
	}
	if err := checkID("message", msgID); err != nil {
		return err
	}
	if st == "" || !st.valid() {
		return fmt.Errorf("history: unknown message state %q", st)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		seqs, key, err := messageSlot(tx, roomKey, msgID)
		if err != nil {
			return err
		}
		var rec msgRecord
		if err := json.Unmarshal(seqs.Get(key), &rec); err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if rec.State == st || rec.State == StateDelivered || rec.State == StateUndelivered {
			return nil
		}
		rec.State = st
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return seqs.Put(key, b)
	})
	if err != nil {
		return fmt.Errorf("set message state in room %s: %w", logid.Of(roomKey), err)
	}
	return nil
}

// messageSlot finds a stored message: its room's seq bucket and its key
// there (a copy, usable for Put). ErrRoomNotFound, ErrMessageNotFound.
func messageSlot(tx *bolt.Tx, roomKey, msgID string) (*bolt.Bucket, []byte, error) {
	if tx.Bucket(bucketRooms).Get([]byte(roomKey)) == nil {
		return nil, nil, ErrRoomNotFound
	}
	room := tx.Bucket(bucketMessages).Bucket([]byte(roomKey))
	if room == nil {
		return nil, nil, ErrMessageNotFound
	}
	key := room.Bucket(bucketIDs).Get([]byte(msgID))
	if key == nil {
		return nil, nil, ErrMessageNotFound
	}
	return room.Bucket(bucketSeq), append([]byte(nil), key...), nil
}

// Message returns one message of the room.
func (s *Store) Message(roomKey, msgID string) (m Message, ok bool, err error) {
	if err := checkKey(roomKey); err != nil {
		return Message{}, false, err
	}
	if err := checkID("message", msgID); err != nil {
		return Message{}, false, err
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		seqs, key, err := messageSlot(tx, roomKey, msgID)
		if errors.Is(err, ErrMessageNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		m, err = s.decodeMessage(roomKey, seqs.Get(key))
		ok = err == nil
		return err
	})
	if err != nil {
		return Message{}, false, fmt.Errorf("read message in room %s: %w", logid.Of(roomKey), err)
	}
	return m, ok, nil
}

// UpdateMessage changes a stored message in one transaction (a kill -9
// leaves the old or the new message, never a mix): change gets the stored
// message and may return an error to change nothing. ID, RoomKey,
// Outgoing, SentAt and State cannot change; a Deleted message keeps no
// text. When the message is the room's newest, LastPreview follows its
// new text. An unknown message is ErrMessageNotFound.
func (s *Store) UpdateMessage(roomKey, msgID string, change func(*Message) error) (Message, error) {
	if err := checkKey(roomKey); err != nil {
		return Message{}, err
	}
	if err := checkID("message", msgID); err != nil {
		return Message{}, err
	}
	var out Message
	err := s.db.Update(func(tx *bolt.Tx) (err error) {
		out, err = s.updateMessage(tx, roomKey, msgID, change)
		return err
	})
	if err != nil {
		return Message{}, fmt.Errorf("update message in room %s: %w", logid.Of(roomKey), err)
	}
	return out, nil
}

// updateMessage is UpdateMessage inside tx.
func (s *Store) updateMessage(tx *bolt.Tx, roomKey, msgID string, change func(*Message) error) (Message, error) {
	seqs, key, err := messageSlot(tx, roomKey, msgID)
	if err != nil {
		return Message{}, err
	}
	m, err := s.decodeMessage(roomKey, seqs.Get(key))
	if err != nil {
		return Message{}, err
	}
	id, rk, outgoing, sentAt, state := m.ID, m.RoomKey, m.Outgoing, m.SentAt, m.State
	if err := change(&m); err != nil {
		return Message{}, err
	}
	m.ID, m.RoomKey, m.Outgoing, m.SentAt, m.State = id, rk, outgoing, sentAt, state
	if m.Deleted {
		m.Text = ""
	}
	if err := checkMessage(m); err != nil {
		return Message{}, err
	}
	rec, err := s.encodeMessage(m)
	if err != nil {
		return Message{}, err
	}
	if err := seqs.Put(key, rec); err != nil {
		return Message{}, err
	}
	if last, _ := seqs.Cursor().Last(); !bytes.Equal(last, key) {
		return m, nil
	}
	return m, s.updateRoom(tx, roomKey, func(r *Room) error {
		r.LastPreview = Preview(m.Text)
		return nil
	})
}

// Messages returns the room's messages in the order they were added, oldest
// first. An unknown room is ErrRoomNotFound.
func (s *Store) Messages(roomKey string) ([]Message, error) {
	if err := checkKey(roomKey); err != nil {
		return nil, err
	}
	msgs := []Message{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRooms).Get([]byte(roomKey)) == nil {
			return ErrRoomNotFound
		}
		room := tx.Bucket(bucketMessages).Bucket([]byte(roomKey))
		if room == nil {
			return nil
		}
		seqs := room.Bucket(bucketSeq)
		if seqs == nil {
			return nil
		}
		return seqs.ForEach(func(_, v []byte) error {
			m, err := s.decodeMessage(roomKey, v)
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list messages of room %s: %w", logid.Of(roomKey), err)
	}
	return msgs, nil
}
