package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/server"
	"github.com/parley-chat/parley/signaling/turnserver"
)

// startTURN runs the embedded TURN/STUN server of --turn-listen and adds it
// to cfg's ICE servers, with a TURN secret so every join gets short-lived
// credentials for it. The relay asks rooms whether the room a credential
// was minted for is still live.
func startTURN(o options, cfg *server.Config, rooms room.Store, log *slog.Logger) (io.Closer, error) {
	if o.turnPublicIP == "" {
		return nil, errors.New("--turn-listen needs --turn-public-ip (the address clients reach the relay at)")
	}
	secret := o.turnSecret
	if secret == "" {
		var b [32]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
		secret = base64.RawStdEncoding.EncodeToString(b[:])
		log.Info("turn: generated a shared secret for this run (set --turn-secret to share one with other nodes)")
	}
	allow, err := parsePrefixes(o.turnAllowPeers.vals)
	if err != nil {
		return nil, fmt.Errorf("--turn-allow-peers: %w", err)
	}
	t, err := turnserver.Start(turnserver.Config{
		Listen:     o.turnListen,
		PublicIP:   o.turnPublicIP,
		Realm:      o.turnRealm,
		RelayPorts: o.turnRelayPorts,
		Secret:     secret,
		AllowPeers: allow,
		RoomLive:   roomLive(rooms),
	}, log)
	if err != nil {
		return nil, fmt.Errorf("--turn-listen: %w", err)
	}
	cfg.TURNSecret = secret
	cfg.TURNAllocations = t.Allocations
	cfg.TURNRefused = t.Refused
	cfg.ICEServers = append(cfg.ICEServers, t.ICEServers()...)
	log.Info("turn listening", "addr", t.Addr().String(), "publicIP", o.turnPublicIP, "relayPorts", o.turnRelayPorts, "realm", o.turnRealm, "allowPeers", o.turnAllowPeers.String())
	return t, nil
}

// roomLive tells the relay whether a room is live (room.Live).
func roomLive(rooms room.Store) func(context.Context, string) (bool, error) {
	return func(ctx context.Context, id string) (bool, error) { return room.Live(ctx, rooms, id) }
}
