package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/server"
	"github.com/parley-chat/parley/signaling/turnserver"
)

// startTURN runs the embedded TURN/STUN server of --turn-listen and adds it
// to cfg's ICE servers, with a TURN secret so every join gets short-lived
// credentials for it.
func startTURN(o options, cfg *server.Config, log *slog.Logger) (io.Closer, error) {
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
	t, err := turnserver.Start(turnserver.Config{
		Listen:     o.turnListen,
		PublicIP:   o.turnPublicIP,
		Realm:      o.turnRealm,
		RelayPorts: o.turnRelayPorts,
		Secret:     secret,
	}, log)
	if err != nil {
		return nil, fmt.Errorf("--turn-listen: %w", err)
	}
	hostPort := net.JoinHostPort(o.turnPublicIP, strconv.Itoa(int(t.Addr().Port())))
	cfg.TURNSecret = secret
	cfg.TURNAllocations = t.Allocations
	cfg.ICEServers = append(cfg.ICEServers,
		protocol.ICEServer{URLs: []string{"stun:" + hostPort}},
		protocol.ICEServer{URLs: []string{"turn:" + hostPort + "?transport=udp", "turn:" + hostPort + "?transport=tcp"}},
	)
	log.Info("turn listening", "addr", t.Addr().String(), "publicIP", o.turnPublicIP, "relayPorts", o.turnRelayPorts, "realm", o.turnRealm)
	return t, nil
}
