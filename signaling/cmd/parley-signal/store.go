package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/room/redisstore"
)

// redisTimeout bounds connecting to Redis at start-up, so a wrong --redis
// fails fast instead of hanging.
const redisTimeout = 5 * time.Second

// openStore returns the room store: in memory by default, Redis with
// --redis.
func openStore(ctx context.Context, o options, log *slog.Logger) (room.Store, error) {
	cfg := room.Config{IdleTTL: o.idleTTL, MaxRooms: o.maxRooms}
	if o.redisURL == "" {
		log.Info("room store", "kind", "memory")
		return room.NewRegistry(room.SystemClock(), cfg), nil
	}
	ropts, err := redis.ParseURL(o.redisURL)
	if err != nil {
		// A *url.Error quotes the URL, which may hold a password: never
		// echo it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("--redis: want redis://[user:password@]host:port/db (or rediss:// for TLS): %w", err)
	}
	// go-redis logs connection trouble on its own; route it through our
	// logger (its lines carry addresses, never passwords).
	redis.SetLogger(redisLog{log})
	client := redis.NewClient(ropts)
	cctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	if err := client.Ping(cctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("--redis: cannot reach Redis at %s (db %d): %w", ropts.Addr, ropts.DB, err)
	}
	s, err := redisstore.New(cctx, client, cfg, redisstore.WithLogger(log))
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("--redis: %w", err)
	}
	log.Info("room store", "kind", "redis", "addr", ropts.Addr, "db", ropts.DB, "tls", ropts.TLSConfig != nil, "node", s.NodeID())
	return redisRooms{Store: s, client: client}, nil
}

// redisRooms is the Redis store plus the client it owns; SharedKey is
// promoted, so the ticket key comes from Redis.
type redisRooms struct {
	*redisstore.Store
	client *redis.Client
}

// Close implements room.Store: it closes the store, then its client.
func (r redisRooms) Close() error {
	return errors.Join(r.Store.Close(), r.client.Close())
}

// redisLog adapts slog to go-redis's logger.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}
