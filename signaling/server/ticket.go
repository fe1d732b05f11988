package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"

	"github.com/parley-chat/parley/signaling/room"
)

// Room tickets let a server that lost its rooms (a restart with the
// in-memory store) bring a room back when one of its participants rejoins,
// instead of answering ROOM_NOT_FOUND and ending every conversation.
//
// A ticket is base64url(version | createdAt ms | expiresAt ms | tag), where
// tag = HMAC-SHA256(ticket key, context | room id | the two times). Only a
// server holding the key can mint one, so a ticket proves the room was
// created here (or on a node sharing the key) with those times; clients
// treat it as opaque. It carries no participant: the first two keys to join
// a restored room own it, as with a new room. The key must survive restarts
// (parley-signal --state-dir, or Redis) for tickets to be useful.
const (
	ticketVersion = 1
	ticketContext = "parley-room-ticket-v1"
	ticketSize    = 1 + 8 + 8 + sha256.Size
	// TicketKeySize is the size of a ticket key.
	TicketKeySize = 32
)

var errBadTicket = errors.New("bad room ticket")

// mintTicket returns the ticket for a room.
func mintTicket(key []byte, info room.Info) string {
	b := make([]byte, 0, ticketSize)
	b = append(b, ticketVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(info.CreatedAt.UnixMilli()))
	var exp int64
	if !info.ExpiresAt.IsZero() {
		exp = info.ExpiresAt.UnixMilli()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(exp))
	b = append(b, ticketTag(key, info.ID, b[1:17])...)
	return b64.EncodeToString(b)
}

// parseTicket checks a ticket for room id and returns the room it vouches
// for. Any malformed or forged ticket gives errBadTicket.
func parseTicket(key []byte, id, ticket string) (room.Info, error) {
	b, err := b64.DecodeString(ticket)
	if err != nil || len(b) != ticketSize || b[0] != ticketVersion {
		return room.Info{}, errBadTicket
	}
	if !hmac.Equal(b[17:], ticketTag(key, id, b[1:17])) {
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
	return info, nil
}

func ticketTag(key []byte, id string, times []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ticketContext))
	mac.Write([]byte{0})
	mac.Write([]byte(id))
	mac.Write([]byte{0})
	mac.Write(times)
	return mac.Sum(nil)
}
