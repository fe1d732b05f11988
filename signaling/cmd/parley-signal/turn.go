package main

import (
	"errors"
	"io"
	"log/slog"

	"github.com/parley-chat/parley/signaling/server"
)

// startTURN runs the embedded TURN/STUN server of --turn-listen and adds it
// to cfg's ICE servers (with a TURN secret for short-lived credentials).
func startTURN(o options, cfg *server.Config, log *slog.Logger) (io.Closer, error) {
	return nil, errors.New("--turn-listen: not implemented yet")
}
