package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room"
)

// Room tickets let a server that lost its rooms (a restart with the
// in-memory store) bring a room back when one of its participants rejoins,
// instead of answering ROOM_NOT_FOUND and ending every conversation.
//
// A ticket is base64url(version | createdAt ms | expiresAt ms | tag), where
// tag = HMAC-SHA256(ticket key, context | room id | the two times), for a
// room without a verifier (version 1). A room with a verifier gets
// version 2, which also carries the verifier (32 bytes, after the times,
// and covered by the tag under its own context string), so a restored
// room keeps demanding proof of the link secret. Only a server holding the
// key can mint one, so a ticket proves the room was created here (or on a
// node sharing the key) with those times and that verifier; clients treat
// it as opaque. It carries no participant: the first two keys to join a
// restored room own it, as with a new room. The key must survive restarts
// (parley-signal --state-dir, or Redis) for tickets to be useful.
const (
	ticketVersion   = 1
	ticketVersion2  = 2
	ticketContext   = "parley-room-ticket-v1"
	ticketContext2  = "parley-room-ticket-v2"
	ticketSize      = 1 + 8 + 8 + sha256.Size
	ticketSize2     = 1 + 8 + 8 + protocol.VerifierSize + sha256.Size
	ticketFieldsEnd = 17 // version and the two times
	// TicketKeySize is the size of a ticket key.
	TicketKeySize = 32
)

var errBadTicket = errors.New("bad room ticket")

// mintTicket returns the ticket for a room, or "" when the room's
// verifier is malformed (a ticket without it would restore the room
// unprotected).
func mintTicket(key []byte, info room.Info) string {
	version, context, size := byte(ticketVersion), ticketContext, ticketSize
	var verifier []byte
	if info.Verifier != "" {
		v, err := b64.DecodeString(info.Verifier)
		if err != nil || len(v) != protocol.VerifierSize {
			return ""
		}
		version, context, size, verifier = ticketVersion2, ticketContext2, ticketSize2, v
	}
	b := make([]byte, 0, size)
	b = append(b, version)
	b = binary.BigEndian.AppendUint64(b, uint64(info.CreatedAt.UnixMilli()))
	var exp int64
	if !info.ExpiresAt.IsZero() {
		exp = info.ExpiresAt.UnixMilli()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(exp))
	b = append(b, verifier...)
	b = append(b, ticketTag(key, context, info.ID, b[1:])...)
	return b64.EncodeToString(b)
}

// parseTicket checks a ticket for room id and returns the room it vouches
// for. Any malformed or forged ticket gives errBadTicket.
func parseTicket(key []byte, id, ticket string) (room.Info, error) {
	b, err := b64.DecodeString(ticket)
	if err != nil || len(b) < ticketFieldsEnd {
		return room.Info{}, errBadTicket
	}
	var context string
	switch {
	case b[0] == ticketVersion && len(b) == ticketSize:
		context = ticketContext
	case b[0] == ticketVersion2 && len(b) == ticketSize2:
		context = ticketContext2
	default:
		return room.Info{}, errBadTicket
	}
	fields := b[1 : len(b)-sha256.Size]
	if !hmac.Equal(b[len(b)-sha256.Size:], ticketTag(key, context, id, fields)) {
		return room.Info{}, errBadTicket
	}
	created := int64(binary.BigEndian.Uint64(b[1:9]))
	exp := int64(binary.BigEndian.Uint64(b[9:17]))
	if created <= 0 || exp < 0 {
		return room.Info{}, errBadTicket
	}
	info := room.Info{ID: id, CreatedAt: time.UnixMilli(created)}
	if exp > 0 {
		info.ExpiresAt = time.UnixMilli(exp)
	}
	if b[0] == ticketVersion2 {
		info.Verifier = b64.EncodeToString(b[ticketFieldsEnd : ticketFieldsEnd+protocol.VerifierSize])
	}
	return info, nil
}

// ticketTag is HMAC-SHA256(key, context | 0 | room id | 0 | fields), where
// fields are the ticket's bytes between its version and its tag.
func ticketTag(key []byte, context, id string, fields []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(context))
	mac.Write([]byte{0})
	mac.Write([]byte(id))
	mac.Write([]byte{0})
	mac.Write(fields)
	return mac.Sum(nil)
}
