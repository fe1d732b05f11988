package turnserver

import (
	"context"
	"time"

	"github.com/pion/turn/v5"

	"github.com/parley-chat/parley/signaling/turncred"
)

// Reasons the relay refuses something, as counted by Refused.
const (
	// ReasonCredential: a malformed, forged or expired credential.
	ReasonCredential = "credential"
	// ReasonRoomEnded: a credential of a room that is no longer live.
	ReasonRoomEnded = "room_ended"
	// ReasonPeer: a permission for a peer address the filter refuses.
	ReasonPeer = "peer"
	// ReasonPeerPort: a datagram to one of the server's own addresses on
	// a port that is not a relay.
	ReasonPeerPort = "peer_port"
	// ReasonQuotaCredential: an allocation beyond the per-credential cap.
	ReasonQuotaCredential = "quota_credential"
	// ReasonQuotaIP: an allocation beyond the per-client-IP cap.
	ReasonQuotaIP = "quota_ip"
	// ReasonTCPAllocation: a TCP relay (RFC 6062) request.
	ReasonTCPAllocation = "tcp_allocation"
	// ReasonTCPConnLimit: a TCP connection beyond the per-IP cap.
	ReasonTCPConnLimit = "tcp_conn_limit"
)

// Reasons lists every reason Refused counts.
var Reasons = []string{ReasonCredential, ReasonRoomEnded, ReasonPeer, ReasonPeerPort,
	ReasonQuotaCredential, ReasonQuotaIP, ReasonTCPAllocation, ReasonTCPConnLimit}

// liveCheckTimeout bounds one RoomLive call: pion serves a UDP listener
// from one goroutine, so a slow store must not stall it.
const liveCheckTimeout = time.Second

type liveEntry struct {
	live bool
	at   time.Time
}

// auth is pion's AuthHandler: the credential must be one parley-signal
// minted (turncred) for a room that is still live. The user ID pion keys
// allocations and quotas by is the whole username, so each join's
// credential has its own quota.
func (s *Server) auth(ra *turn.RequestAttributes) (string, []byte, bool) {
	roomID, _, err := turncred.Open(s.cfg.Secret, ra.Username, time.Now())
	if err != nil {
		s.refuse(ReasonCredential)
		return "", nil, false
	}
	if !s.roomLive(roomID, false) {
		s.refuse(ReasonRoomEnded)
		return "", nil, false
	}
	return ra.Username, turn.GenerateAuthKey(ra.Username, ra.Realm, turncred.Password(s.cfg.Secret, ra.Username)), true
}

// roomOf returns the room a (verified) username was minted for.
func (s *Server) roomOf(username string) string {
	id, _, _ := turncred.Open(s.cfg.Secret, username, time.Time{})
	return id
}

// roomLive asks Config.RoomLive, through a cache of RoomCheckInterval
// (fresh forces a new answer). A store error counts as live: a Redis blip
// must not cut calls. A room found dead has its relays closed at once.
func (s *Server) roomLive(roomID string, fresh bool) bool {
	if s.cfg.RoomLive == nil {
		return true
	}
	now := time.Now()
	s.liveMu.Lock()
	e, ok := s.live[roomID]
	s.liveMu.Unlock()
	if ok && !fresh && now.Sub(e.at) < s.cfg.RoomCheckInterval {
		return e.live
	}
	ctx, cancel := context.WithTimeout(context.Background(), liveCheckTimeout)
	live, err := s.cfg.RoomLive(ctx, roomID)
	cancel()
	if err != nil {
		// Counted as live, and cached like an answer, so an unreachable
		// store costs one lookup (and one log line) per room and interval.
		s.log.Warn("turn: cannot tell whether a room is live; allowing", "err", err)
		live = true
	}
	s.liveMu.Lock()
	if len(s.live) > maxLiveEntries {
		for id, e := range s.live {
			if now.Sub(e.at) >= s.cfg.RoomCheckInterval {
				delete(s.live, id)
			}
		}
	}
	s.live[roomID] = liveEntry{live: live, at: now}
	s.liveMu.Unlock()
	if !live {
		s.relays.closeRoom(roomID)
	}
	return live
}

// maxLiveEntries is when the liveness cache sweeps stale entries.
const maxLiveEntries = 4096

// sweep checks the rooms of the live relays every RoomCheckInterval and
// closes the relays of rooms that ended, so a relay outlives its room by
// at most about one interval even when its client sends nothing
// authenticated.
func (s *Server) sweep() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.RoomCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for _, id := range s.relays.rooms() {
			if id == "" {
				continue
			}
			if !s.roomLive(id, true) {
				s.log.Debug("turn: closed the relays of a room that ended")
			}
		}
	}
}
