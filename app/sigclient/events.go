package sigclient

import (
	"crypto/ed25519"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
)

// Event is one thing that happened on the signaling session: *Joined,
// PeerEvent, SignalEvent, Reconnecting or Closed. Values are delivered in
// order on Client.Events.
type Event interface{ isEvent() }

// Joined says the server admitted this client to the room. It is always the
// first event, and comes again (with Reconnected set) after every successful
// reconnect.
type Joined struct {
	// ICEServers are the STUN/TURN servers the server recommends; TURN
	// credentials in them are short-lived.
	ICEServers []protocol.ICEServer
	// ExpiresAt is when the room self-destructs; nil without a timer.
	ExpiresAt *time.Time
	// Peer is the other participant's key, nil if nobody else ever joined.
	Peer ed25519.PublicKey
	// PeerOnline reports whether Peer is connected right now.
	PeerOnline bool
	// Reconnected is false for the join made by Dial, true afterwards.
	Reconnected bool
	// Ticket is the server's room ticket (opaque). The client sends the
	// newest one with every join; keep it (Config.Ticket) so a later Dial
	// can bring the room back on a server that restarted.
	Ticket string
}

// PeerEvent reports the other participant's presence.
type PeerEvent struct {
	// Event is protocol.PeerJoined, protocol.PeerLeft or protocol.PeerRejoined.
	Event string
	// Key is the other participant's public key.
	Key ed25519.PublicKey
}

// SignalEvent carries a signal relayed from the other participant.
type SignalEvent struct {
	Signal protocol.Signal
}

// Reconnecting says the connection was lost and the client will try again
// after Delay. Attempt counts from 1 for each outage; Err is why the last
// connection or attempt failed.
type Reconnecting struct {
	Attempt int
	Err     error
	Delay   time.Duration
}

// Closed is the last event. Err is nil after Client.Close, an *Error when the
// server ended the session (ROOM_DESTROYED, TIMER_EXPIRED, REPLACED,
// ROOM_FULL, ...), or the transport error when reconnecting is off.
type Closed struct {
	Err error
}

func (Joined) isEvent()       {}
func (PeerEvent) isEvent()    {}
func (SignalEvent) isEvent()  {}
func (Reconnecting) isEvent() {}
func (Closed) isEvent()       {}
