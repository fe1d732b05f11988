package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/parley-chat/parley/signaling/room"
)

// openStore returns the room store: in memory by default, Redis with
// --redis.
func openStore(ctx context.Context, o options, log *slog.Logger) (room.Store, error) {
	if o.redisURL != "" {
		return nil, errors.New("--redis: not implemented yet")
	}
	return room.NewRegistry(room.SystemClock(), room.Config{IdleTTL: o.idleTTL, MaxRooms: o.maxRooms}), nil
}
