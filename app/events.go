package app

import (
	"errors"
	"time"

	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/session"
)

// Event names pushed to the UI (docs/app-api.md).
const (
	EventRoomStatus  = "room:status"
	EventRoomMessage = "room:message"
	// EventRoomMessageChanged carries a MessageEvent: the peer edited,
	// deleted or reacted to a message (the UI replaces it by id).
	EventRoomMessageChanged = "room:message-changed"
	EventRoomDelivered      = "room:delivered"
	EventRoomTyping         = "room:typing"
	EventRoomClosed         = "room:closed"
	EventRoomsChanged       = "rooms:changed"
	// EventLinkPending carries a PendingLink: a room link from outside the
	// app waits for the person's confirmation.
	EventLinkPending = "app:link-pending"
	// EventCall carries a call.View on every change of a room's call.
	EventCall = "call"
	// eventFocus is emitted by the page itself (script injected on DOM
	// ready) when the window gains or loses focus; the UI ignores it.
	eventFocus = "app:focus"
)

// Settings is what GetSettings returns.
type Settings struct {
	Profile            string `json:"profile"`
	Fingerprint        string `json:"fingerprint"`
	Server             string `json:"server"`
	FirstRun           bool   `json:"firstRun"`
	LANServer          string `json:"lanServer"`
	AutoAcceptMaxBytes int64  `json:"autoAcceptMaxBytes"`
	// RelayOnly: rooms opened from now on connect only through the
	// server's TURN relay (hides this computer's IP address from the peer).
	RelayOnly bool `json:"relayOnly"`
}

// RoomSummary is one entry of the recent rooms list. ID identifies the
// room in every call and event: the room's history key (history.RoomKey:
// the room id, a dot and a tag of the server), because the same room id on
// another server is another room.
type RoomSummary struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Link        string `json:"link"`
	LastActive  int64  `json:"lastActive"`
	LastPreview string `json:"lastPreview"`
	ExpiresAt   *int64 `json:"expiresAt"`
	Open        bool   `json:"open"`
	// Ended is ROOM_DESTROYED or TIMER_EXPIRED when the server ended the
	// room without confirmation (history kept), "" otherwise.
	Ended string `json:"ended"`
	// KeyChanged: the other person's key changed and is not trusted yet.
	KeyChanged bool `json:"keyChanged"`
}

// KeyChange is the safety number the room had and the one it would have
// with the other person's changed key (RoomView.keyChange).
type KeyChange struct {
	OldSafetyNumber string `json:"oldSafetyNumber"`
	NewSafetyNumber string `json:"newSafetyNumber"`
}

// Message is one chat message as the UI shows it.
type Message struct {
	ID       string `json:"id"`
	RoomID   string `json:"roomId"`
	Outgoing bool   `json:"outgoing"`
	Text     string `json:"text"`
	SentAt   int64  `json:"sentAt"`
	State    string `json:"state"`
	// ReplyTo is the id of the message this one answers ("": none; the
	// message may not exist).
	ReplyTo string `json:"replyTo"`
	Edited  bool   `json:"edited"`
	// Deleted: deleted for both; Text is "".
	Deleted      bool   `json:"deleted"`
	MyReaction   string `json:"myReaction"`
	PeerReaction string `json:"peerReaction"`
}

// RoomView is a room with its status and messages. The fields of
// RoomSummary are repeated rather than embedded so the generated
// TypeScript model is flat like the contract's.
type RoomView struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Link        string `json:"link"`
	LastActive  int64  `json:"lastActive"`
	LastPreview string `json:"lastPreview"`
	ExpiresAt   *int64 `json:"expiresAt"`
	Open        bool   `json:"open"`
	Ended       string `json:"ended"`
	KeyChanged  bool   `json:"keyChanged"`
	Status      string `json:"status"`
	Route       string `json:"route"`
	Code        string `json:"code"`
	// Messages are the newest page (PageSize) of the room's history;
	// Older says there are more (OlderMessages).
	Messages     []Message `json:"messages"`
	Older        bool      `json:"older"`
	SafetyNumber string    `json:"safetyNumber"`
	// KeyChange is set while the other person's key changed and is not
	// trusted (TrustNewKey); nil otherwise.
	KeyChange *KeyChange `json:"keyChange"`
	// StatusSeq is the seq of the last room:status event the view
	// includes; the UI ignores status events with a seq not above it.
	StatusSeq uint64 `json:"statusSeq"`
}

// StatusEvent is the payload of room:status.
type StatusEvent struct {
	RoomID string `json:"roomId"`
	Status string `json:"status"`
	Route  string `json:"route"`
	Code   string `json:"code"`
	// Seq grows with every status event of the app. Events may reach the
	// page out of order (the dev server writes each from its own
	// goroutine); the UI keeps the status with the highest seq.
	Seq uint64 `json:"seq"`
}

// MessageEvent is the payload of room:message.
type MessageEvent struct {
	RoomID  string  `json:"roomId"`
	Message Message `json:"message"`
}

// DeliveredEvent is the payload of room:delivered.
type DeliveredEvent struct {
	RoomID string `json:"roomId"`
	ID     string `json:"id"`
}

// RoomEvent is the payload of room:typing.
type RoomEvent struct {
	RoomID string `json:"roomId"`
}

// ClosedEvent is the payload of room:closed.
type ClosedEvent struct {
	RoomID string `json:"roomId"`
	Code   string `json:"code"`
}

// Empty is the payload of rooms:changed.
type Empty struct{}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func messageOf(m history.Message) Message {
	st := string(m.State)
	switch {
	case !m.Outgoing:
		st = ""
	case m.State == history.StateUndelivered:
		st = string(history.StateFailed) // never sent again (the key changed)
	}
	return Message{ID: m.ID, RoomID: m.RoomKey, Outgoing: m.Outgoing, Text: m.Text, SentAt: unixMilli(m.SentAt), State: st,
		ReplyTo: m.ReplyTo, Edited: m.Edited, Deleted: m.Deleted, MyReaction: m.MyReaction, PeerReaction: m.PeerReaction}
}

func summaryOf(r history.Room, open bool) RoomSummary {
	s := RoomSummary{ID: r.Key, Name: r.Name, Link: r.Link, LastActive: unixMilli(r.LastActive), LastPreview: r.LastPreview, Open: open, Ended: r.Ended, KeyChanged: len(r.NewPeerKey) != 0}
	if r.ExpiresAt != nil {
		ms := r.ExpiresAt.UnixMilli()
		s.ExpiresAt = &ms
	}
	return s
}

// closeCode is the code a session ended with: "" after a polite leave.
func closeCode(err error) string {
	if err == nil {
		return ""
	}
	if se := session.AsError(err); se != nil {
		return se.Code
	}
	var ae *Error
	if errors.As(toAPI(err), &ae) {
		return ae.Code
	}
	return CodeInternal
}

// pump turns one session's events into UI events until the session ends.
func (a *App) pump(r *openRoom) {
	id := r.sess.Key()
	for ev := range r.sess.Events() {
		switch e := ev.(type) {
		case session.StatusChanged:
			if e.Status == session.StatusClosed {
				continue // reported with its code on Closed
			}
			a.mu.Lock()
			r.status, r.route = string(e.Status), string(e.Route)
			a.statusSeq++
			seq := a.statusSeq
			a.mu.Unlock()
			a.emit(EventRoomStatus, StatusEvent{RoomID: id, Status: string(e.Status), Route: string(e.Route), Seq: seq})
		case session.MessageReceived:
			// Notify first: once the UI has the message, everything the
			// app does for it has happened (tests rely on that order).
			a.notifyMessage(id)
			a.emit(EventRoomMessage, MessageEvent{RoomID: id, Message: messageOf(e.Message)})
			a.emit(EventRoomsChanged, Empty{})
		case session.MessageChanged:
			a.emit(EventRoomMessageChanged, MessageEvent{RoomID: id, Message: messageOf(e.Message)})
			a.emit(EventRoomsChanged, Empty{})
		case session.Delivered:
			a.emit(EventRoomDelivered, DeliveredEvent{RoomID: id, ID: e.ID})
		case session.PeerTyping:
			a.emit(EventRoomTyping, RoomEvent{RoomID: id})
		case session.RoomUpdated:
			a.emit(EventRoomsChanged, Empty{})
		case session.TransferChanged:
			a.onTransfer(id, e.Transfer)
		case session.CallChanged:
			a.emit(EventCall, e.View)
		case session.OfferWaiting:
			o := e.Transfer
			a.emit(EventTransferOffer, OfferEvent{RoomID: id, ID: o.ID, Name: o.Name, Size: o.Total, Folder: o.Folder, Files: o.Files})
		case session.Closed:
			code := closeCode(e.Err)
			a.mu.Lock()
			if a.rooms[id] == r {
				delete(a.rooms, id)
			}
			r.status, r.route, r.code = string(session.StatusClosed), "", code
			a.statusSeq++
			seq := a.statusSeq
			a.mu.Unlock()
			a.log.Info("room closed", "room", session.LogID(id), "code", code)
			a.emit(EventRoomStatus, StatusEvent{RoomID: id, Status: string(session.StatusClosed), Code: code, Seq: seq})
			if code != "" {
				a.emit(EventRoomClosed, ClosedEvent{RoomID: id, Code: code})
			}
			a.emit(EventRoomsChanged, Empty{})
		}
	}
}
