package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/signaling/server"
	"github.com/parley-chat/parley/signaling/server/servertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRunAgainstServer runs a small load against a real in-process server
// and checks the JSON report.
func TestRunAgainstServer(t *testing.T) {
	s := servertest.New(t, servertest.Options{Metrics: true, Config: noCaps})

	r, out := runReport(t, "--server", s.URL, "--metrics", s.MetricsURL, "--rooms", "25", "--concurrency", "4", "--hold", "10ms")
	if r.Rooms != 25 || r.Connections != 50 || r.Errors != 0 || r.JoinsPerSecond <= 0 ||
		r.LatencyP50Ms <= 0 || r.LatencyMaxMs < r.LatencyP99Ms || r.ServerGoroutinesPerConn <= 0 {
		t.Errorf("report = %+v", r)
	}
	if !strings.Contains(out, "join → peer joined") {
		t.Errorf("no human table:\n%s", out)
	}
}

// noCaps turns off the per-client caps: all the load comes from 127.0.0.1.
func noCaps(c *server.Config) { c.MaxConnsPerIP, c.MaxRoomsPerIP = 0, 0 }

// runReport runs the load program with args, which must succeed, and
// returns the JSON report from its last line and the whole output.
func runReport(t *testing.T, args ...string) (report, string) {
	t.Helper()
	var out bytes.Buffer
	if err := run(t.Context(), args, &out, io.Discard); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var r report
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not the JSON report: %v\n%s", err, out.String())
	}
	return r, out.String()
}

func TestRunRefusedByRateLimit(t *testing.T) {
	s := servertest.New(t, servertest.Options{Metrics: true, DefaultLimits: true}) // 30 rooms/min
	var out bytes.Buffer
	err := run(t.Context(), []string{"--server", s.URL, "--metrics", s.MetricsURL, "--rooms", "40", "--concurrency", "2", "--hold", "0s"}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "rate-rooms 0") {
		t.Errorf("run = %v, want a failure that names --rate-rooms 0", err)
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantErr bool
	}{
		{args: nil},
		{args: []string{"--rooms", "0"}, wantErr: true},
		{args: []string{"--concurrency", "-1"}, wantErr: true},
		{args: []string{"--hold", "-1s"}, wantErr: true},
		{args: []string{"extra"}, wantErr: true},
	}
	for _, tt := range tests {
		o, err := parseFlags(tt.args, io.Discard)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseFlags(%q) = %+v, %v; wantErr %v", tt.args, o, err, tt.wantErr)
		}
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0.001, time.Millisecond}}
	for _, tt := range tests {
		if got := percentile(d, tt.q); got != tt.want {
			t.Errorf("percentile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile(nil) = %v", got)
	}
}

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	in := "# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 9\n" +
		"go_memstats_heap_inuse_bytes 1.654784e+06\nhttp{code=\"200\"} 3\nbroken\nbad NaNx\n"
	got, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["go_goroutines"] != 9 || got["go_memstats_heap_inuse_bytes"] != 1654784 {
		t.Errorf("parseMetrics = %v", got)
	}
}
