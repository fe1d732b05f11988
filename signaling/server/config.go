package server

import (
	"net/netip"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
)

// Config tunes a Server. Start from DefaultConfig; zero fields fall back to
// the defaults, except the per-client rate limits and caps, where 0
// disables the limit.
type Config struct {
	// ICEServers are handed to every participant on join.
	ICEServers []protocol.ICEServer
	// TURNSecret, when set, makes the server mint TURN REST credentials
	// (turncred: username "<expiry>:<opaque room tag>", HMAC-SHA1
	// credential) for every joined member, for every ICE server with a
	// turn: or turns: URL and no fixed username, as coturn's
	// use-auth-secret expects; the embedded relay also refuses them once
	// the room has ended.
	TURNSecret string
	// TURNAllocations, when set, reports the embedded TURN relay's live
	// allocations for /metrics (parley_signal_turn_allocations).
	TURNAllocations func() int
	// TURNRefused, when set, reports what the embedded TURN relay refused
	// so far, by reason (parley_signal_turn_refused_total).
	TURNRefused func() map[string]int64
	// TicketKey signs room tickets (TicketKeySize bytes). Without one, New
	// draws a random key: tickets then work only until the process ends.
	TicketKey []byte
	// TURNCredentialTTL is the longest lifetime of minted TURN
	// credentials; a room's self-destruct time (plus 2 minutes) shortens
	// it. Default 12h: a relayed call keeps the credentials its peer
	// connection started with, so they must last as long as a call may.
	TURNCredentialTTL time.Duration

	// MaxMessageBytes caps one WebSocket message. Default
	// protocol.DefaultMaxMessageBytes.
	MaxMessageBytes int
	// PingInterval is how often the server pings; the read deadline is 2.5
	// times this. Default 20s.
	PingInterval time.Duration
	// WriteTimeout bounds every write. Default 10s.
	WriteTimeout time.Duration
	// JoinTimeout is how long a new connection may take to send its join.
	// Default 5s.
	JoinTimeout time.Duration
	// SendQueue is the per-connection outgoing queue length; a client whose
	// queue is full is dropped. Default 64.
	SendQueue int
	// MaxConns caps concurrent WebSocket connections; beyond it /ws
	// answers 503 SERVER_BUSY. Default 50,000.
	MaxConns int

	// MaxConnsPerIP caps the concurrent WebSocket connections of one
	// client: an IPv4 address or an IPv6 /64. Beyond it /ws answers 429
	// SERVER_BUSY. 0 disables the cap.
	MaxConnsPerIP int
	// MaxConnsPer48 caps the concurrent WebSocket connections of one IPv6
	// /48. 0 disables the cap.
	MaxConnsPer48 int
	// MaxRoomsPerIP caps the live rooms one client (IPv4 address or IPv6
	// /64) created through this server; beyond it POST /api/rooms answers
	// 429 SERVER_BUSY. A room counts until it is destroyed, self-destructs
	// or expires idle. 0 disables the cap.
	MaxRoomsPerIP int
	// MaxRoomsPer48 caps the live rooms created from one IPv6 /48. 0
	// disables the cap.
	MaxRoomsPer48 int

	// RateRooms is room creations per minute per client IP (burst the same
	// number); 0 disables the limit.
	RateRooms int
	// RateJoins is WebSocket connections per minute per client IP; 0
	// disables the limit.
	RateJoins int
	// RateLookups is GET /api/rooms/{id} requests per minute per client
	// IP; 0 disables the limit.
	RateLookups int
	// MessageRate and MessageBurst limit the messages one connection may
	// send (per second and burst). Exceeding it closes the connection with
	// RATE_LIMITED. Defaults 50 and 48 (the burst stays below SendQueue).
	MessageRate  float64
	MessageBurst int
	// MaxBadFrames is how many invalid frames a connection may send before
	// it is closed. Default 10.
	MaxBadFrames int

	// AllowedOrigins lists the Origin values (e.g. "https://example.org")
	// browsers may open /ws from. A request without Origin (native app) is
	// always allowed; with an empty list only same-host origins are.
	AllowedOrigins []string
	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// working out a client's IP for rate limits.
	TrustedProxies []netip.Prefix
}

// Default per-client caps: far above what people use (two participants
// per room, a few rooms each, a household behind one IPv4 address, the
// reconnects of a flaky network), far below the server-wide MaxConns and
// room.DefaultMaxRooms, so one client cannot take them.
const (
	DefaultMaxConnsPerIP = 200
	DefaultMaxConnsPer48 = 1000
	DefaultMaxRoomsPerIP = 500
	DefaultMaxRoomsPer48 = 2000
)

// DefaultConfig returns the configuration parley-signal starts from.
func DefaultConfig() Config {
	return Config{
		TURNCredentialTTL: 12 * time.Hour,
		MaxMessageBytes:   protocol.DefaultMaxMessageBytes,
		PingInterval:      20 * time.Second,
		WriteTimeout:      10 * time.Second,
		JoinTimeout:       5 * time.Second,
		SendQueue:         64,
		MaxConns:          50_000,
		RateRooms:         30,
		RateJoins:         120,
		RateLookups:       120,
		MaxConnsPerIP:     DefaultMaxConnsPerIP,
		MaxConnsPer48:     DefaultMaxConnsPer48,
		MaxRoomsPerIP:     DefaultMaxRoomsPerIP,
		MaxRoomsPer48:     DefaultMaxRoomsPer48,
		MessageRate:       50,
		MessageBurst:      48, // below SendQueue (64): a burst cannot overflow the other side's queue
		MaxBadFrames:      10,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.TURNCredentialTTL <= 0 {
		c.TURNCredentialTTL = d.TURNCredentialTTL
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.PingInterval <= 0 {
		c.PingInterval = d.PingInterval
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = d.JoinTimeout
	}
	if c.SendQueue <= 0 {
		c.SendQueue = d.SendQueue
	}
	if c.MaxConns <= 0 {
		c.MaxConns = d.MaxConns
	}
	if c.RateRooms < 0 {
		c.RateRooms = 0
	}
	if c.RateJoins < 0 {
		c.RateJoins = 0
	}
	c.RateLookups = max(c.RateLookups, 0)
	c.MaxConnsPerIP = max(c.MaxConnsPerIP, 0)
	c.MaxConnsPer48 = max(c.MaxConnsPer48, 0)
	c.MaxRoomsPerIP = max(c.MaxRoomsPerIP, 0)
	c.MaxRoomsPer48 = max(c.MaxRoomsPer48, 0)
	if c.MessageRate <= 0 {
		c.MessageRate = d.MessageRate
	}
	if c.MessageBurst <= 0 {
		c.MessageBurst = d.MessageBurst
	}
	if c.MaxBadFrames <= 0 {
		c.MaxBadFrames = d.MaxBadFrames
	}
	return c
}
