package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/signaling/internal/redistest"
	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/room/redisstore"
	"github.com/parley-chat/parley/signaling/server"
)

// TestRunTwoNodes loads two servers sharing one real Redis: every room's
// participants sit on different nodes, so each "peer joined" crosses
// Redis pub/sub.
func TestRunTwoNodes(t *testing.T) {
	rs := redistest.Start(t)
	var urls, metrics []string
	for range 2 {
		client := redis.NewClient(&redis.Options{Addr: rs.Addr})
		store, err := redisstore.New(t.Context(), client, room.Config{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := server.DefaultConfig()
		cfg.RateRooms, cfg.RateJoins = 0, 0
		cfg.MaxConnsPerIP, cfg.MaxRoomsPerIP = 0, 0
		srv := server.New(cfg, store, nil)
		hs := httptest.NewServer(srv.Handler())
		ms := httptest.NewServer(srv.MetricsHandler())
		t.Cleanup(func() {
			_ = srv.Shutdown(t.Context())
			hs.Close()
			ms.Close()
			_ = store.Close()
			_ = client.Close()
		})
		urls = append(urls, hs.URL)
		metrics = append(metrics, ms.URL)
	}
	r, _ := runReport(t, "--server", strings.Join(urls, ","), "--metrics", strings.Join(metrics, ","), "--rooms", "20", "--concurrency", "4", "--hold", "10ms")
	if r.Rooms != 20 || r.Connections != 40 || r.Errors != 0 || r.LatencyP50Ms <= 0 || r.Server != strings.Join(urls, ",") {
		t.Errorf("report = %+v", r)
	}
}
