package main

import (
	"strings"
	"testing"

	"github.com/parley-chat/parley/signaling/internal/redistest"
	"github.com/parley-chat/parley/signaling/server/servertest"
)

// TestRunTwoNodes loads two servers sharing one real Redis: every room's
// participants sit on different nodes, so each "peer joined" crosses
// Redis pub/sub.
func TestRunTwoNodes(t *testing.T) {
	rs := redistest.Start(t)
	var urls, metrics []string
	for range 2 {
		s := servertest.New(t, servertest.Options{Redis: rs.Addr, Metrics: true, Config: noCaps})
		urls = append(urls, s.URL)
		metrics = append(metrics, s.MetricsURL)
	}
	r, _ := runReport(t, "--server", strings.Join(urls, ","), "--metrics", strings.Join(metrics, ","), "--rooms", "20", "--concurrency", "4", "--hold", "10ms")
	if r.Rooms != 20 || r.Connections != 40 || r.Errors != 0 || r.LatencyP50Ms <= 0 || r.Server != strings.Join(urls, ",") {
		t.Errorf("report = %+v", r)
	}
}
