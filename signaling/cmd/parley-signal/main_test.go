package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, o options)
		wantErr bool
	}{
		{name: "defaults", check: func(t *testing.T, o options) {
			if o.addr != "127.0.0.1:8787" || o.rateRooms != 30 || o.idleTTL != 24*time.Hour || o.maxMessage != 64<<10 {
				t.Errorf("defaults %+v", o)
			}
		}},
		{name: "env fallback", env: map[string]string{"PARLEY_SIGNAL_ADDR": "127.0.0.1:0", "PARLEY_SIGNAL_RATE_ROOMS": "0", "PARLEY_SIGNAL_STUN": "stun:a:1,stun:b:2"},
			check: func(t *testing.T, o options) {
				if o.addr != "127.0.0.1:0" || o.rateRooms != 0 || len(o.stun.vals) != 2 {
					t.Errorf("got %+v", o)
				}
			}},
		{name: "flag beats env", args: []string{"--addr", "127.0.0.1:9", "--stun", "stun:c:3", "--stun", "stun:d:4"},
			env: map[string]string{"PARLEY_SIGNAL_ADDR": "127.0.0.1:0", "PARLEY_SIGNAL_STUN": "stun:a:1"},
			check: func(t *testing.T, o options) {
				if o.addr != "127.0.0.1:9" || strings.Join(o.stun.vals, " ") != "stun:c:3 stun:d:4" {
					t.Errorf("got addr %s stun %v", o.addr, o.stun.vals)
				}
			}},
		{name: "bad env value", env: map[string]string{"PARLEY_SIGNAL_MAX_CONNS": "many"}, wantErr: true},
		{name: "client caps and metrics default", check: func(t *testing.T, o options) {
			if o.metricsAddr != "127.0.0.1:9787" || o.maxConnsPerIP != 200 || o.maxConnsPer48 != 1000 ||
				o.maxRoomsPerIP != 500 || o.maxRoomsPer48 != 2000 || o.rateLookups != 120 {
				t.Errorf("defaults %+v", o)
			}
		}},
		{name: "client caps from env", env: map[string]string{
			"PARLEY_SIGNAL_MAX_CONNS_PER_IP": "0", "PARLEY_SIGNAL_MAX_CONNS_PER_48": "7",
			"PARLEY_SIGNAL_MAX_ROOMS_PER_IP": "8", "PARLEY_SIGNAL_MAX_ROOMS_PER_48": "9",
			"PARLEY_SIGNAL_RATE_LOOKUPS": "0", "PARLEY_SIGNAL_METRICS_ADDR": "off",
		}, check: func(t *testing.T, o options) {
			if o.maxConnsPerIP != 0 || o.maxConnsPer48 != 7 || o.maxRoomsPerIP != 8 || o.maxRoomsPer48 != 9 || o.rateLookups != 0 || !metricsOff(o.metricsAddr) {
				t.Errorf("got %+v", o)
			}
			cfg, err := o.serverConfig()
			if err != nil || cfg.MaxConnsPerIP != 0 || cfg.MaxConnsPer48 != 7 || cfg.MaxRoomsPerIP != 8 || cfg.MaxRoomsPer48 != 9 || cfg.RateLookups != 0 {
				t.Errorf("config %+v, %v", cfg, err)
			}
		}},
		{name: "metrics off by empty flag", args: []string{"--metrics-addr", ""}, check: func(t *testing.T, o options) {
			if !metricsOff(o.metricsAddr) {
				t.Errorf("metrics %q", o.metricsAddr)
			}
		}},
		{name: "metrics addr without port", args: []string{"--metrics-addr", "127.0.0.1"}, wantErr: true},
		{name: "negative conn cap", args: []string{"--max-conns-per-ip", "-1"}, wantErr: true},
		{name: "negative /48 room cap", args: []string{"--max-rooms-per-48", "-1"}, wantErr: true},
		{name: "negative lookup rate", args: []string{"--rate-lookups", "-1"}, wantErr: true},
		{name: "bad duration", args: []string{"--idle-ttl", "soon"}, wantErr: true},
		{name: "cert without key", args: []string{"--tls-cert", "x.pem"}, wantErr: true},
		{name: "stray argument", args: []string{"serve"}, wantErr: true},
		{name: "negative rate", args: []string{"--rate-rooms", "-1"}, wantErr: true},
		{name: "zero message size", args: []string{"--max-message-bytes", "0"}, wantErr: true},
		{name: "zero idle ttl", args: []string{"--idle-ttl", "0s"}, wantErr: true},
		{name: "turn without public ip", args: []string{"--turn-listen", "127.0.0.1:3478"}, wantErr: true},
		{name: "turn public ip not an ip", args: []string{"--turn-listen", "127.0.0.1:3478", "--turn-public-ip", "relay.example.org"}, wantErr: true},
		{name: "turn relay ports backwards", args: []string{"--turn-listen", "127.0.0.1:3478", "--turn-public-ip", "127.0.0.1", "--turn-relay-ports", "60000-50000"}, wantErr: true},
		{name: "turn", args: []string{"--turn-listen", "127.0.0.1:3478", "--turn-public-ip", "127.0.0.1"}, check: func(t *testing.T, o options) {
			if o.turnListen != "127.0.0.1:3478" || o.turnPublicIP != "127.0.0.1" || o.turnRealm != "parley" || o.turnRelayPorts != "49152-65535" || len(o.turnAllowPeers.vals) != 0 {
				t.Errorf("got %+v", o)
			}
		}},
		{name: "turn allow peers", args: []string{"--turn-listen", "127.0.0.1:3478", "--turn-public-ip", "127.0.0.1", "--turn-allow-peers", "10.0.0.0/8,192.168.1.7", "--turn-allow-peers", "fd00::/8"}, check: func(t *testing.T, o options) {
			if got, err := parsePrefixes(o.turnAllowPeers.vals); err != nil || len(got) != 3 || got[1].String() != "192.168.1.7/32" {
				t.Errorf("allow peers %v (%v)", got, err)
			}
		}},
		{name: "turn allow peers from env", args: []string{"--turn-listen", "127.0.0.1:3478", "--turn-public-ip", "127.0.0.1"}, env: map[string]string{"PARLEY_SIGNAL_TURN_ALLOW_PEERS": "172.16.0.0/12"}, check: func(t *testing.T, o options) {
			if o.turnAllowPeers.String() != "172.16.0.0/12" {
				t.Errorf("allow peers %v", o.turnAllowPeers.vals)
			}
		}},
		{name: "turn allow peers not a CIDR", args: []string{"--turn-listen", "127.0.0.1:3478", "--turn-public-ip", "127.0.0.1", "--turn-allow-peers", "lan"}, wantErr: true},
		{name: "turn allow peers without the relay", args: []string{"--turn-allow-peers", "10.0.0.0/8"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := parseFlags(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, o)
			}
		})
	}
}

func TestServerConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		wantErr bool
		ice     int
	}{
		{args: []string{"--stun", "stun:s:3478", "--turn", "turn:t:3478", "--turn-secret", "x"}, ice: 2},
		{args: []string{"--turn", "turn:t:3478"}, wantErr: true}, // no credentials
		{args: []string{"--stun", "http://x"}, wantErr: true},
		{args: []string{"--trusted-proxies", "10.0.0.0/8,192.0.2.1"}},
		{args: []string{"--trusted-proxies", "nonsense"}, wantErr: true},
	}
	for _, tc := range tests {
		o, err := parseFlags(tc.args, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := o.serverConfig()
		if (err != nil) != tc.wantErr {
			t.Fatalf("%v: err %v", tc.args, err)
		}
		if err == nil && len(cfg.ICEServers) != tc.ice {
			t.Fatalf("%v: %d ICE servers", tc.args, len(cfg.ICEServers))
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	var out, errs strings.Builder
	if code := run(context.Background(), []string{"--version"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	// A test binary is not linked with a version: "dev".
	if !strings.HasPrefix(out.String(), "parley-signal dev (commit ") || !strings.HasSuffix(out.String(), ")\n") {
		t.Fatalf("--version printed %q", out.String())
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if code := run(context.Background(), []string{"--help"}, io.Discard, &b); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"-addr", "-rate-rooms", "-rate-joins", "-idle-ttl", "-stun", "-turn", "-turn-allow-peers", "-log-level", "PARLEY_SIGNAL_",
		"--metrics-addr", "-max-conns-per-ip", "-max-conns-per-48", "-max-rooms-per-ip", "-max-rooms-per-48", "-rate-lookups"} {
		if !strings.Contains(b.String(), f) {
			t.Errorf("--help does not mention %s", f)
		}
	}
}

// TestRunListensAndStops runs the whole command on port 0, finds the real
// addresses in the log, serves requests and shuts down on cancel. /metrics
// is only on the metrics listener, or nowhere with --metrics-addr off.
func TestRunListensAndStops(t *testing.T) {
	tests := []struct {
		name    string
		metrics string
	}{
		{"metrics on a listener of their own", "127.0.0.1:0"},
		{"metrics off", "off"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--metrics-addr", tc.metrics}, io.Discard, pw)
				_ = pw.Close()
			}()
			sc := bufio.NewScanner(pr)
			addrRe := regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
			metricsRe := regexp.MustCompile(`msg=metrics addr=(127\.0\.0\.1:\d+) path=/metrics|msg="metrics off"`)
			var addr, metricsAddr string
			metricsLogged := false
			for sc.Scan() {
				if m := addrRe.FindStringSubmatch(sc.Text()); m != nil {
					addr = m[1]
				}
				if m := metricsRe.FindStringSubmatch(sc.Text()); m != nil {
					metricsAddr, metricsLogged = m[1], true
				}
				if addr != "" && metricsLogged {
					break
				}
			}
			drained := make(chan struct{})
			go func() { _, _ = io.Copy(io.Discard, pr); close(drained) }()
			if addr == "" || strings.HasSuffix(addr, ":0") {
				t.Fatalf("no real address logged (%q)", addr)
			}
			if (metricsAddr != "") != (tc.metrics != "off") {
				t.Fatalf("metrics address logged: %q", metricsAddr)
			}
			hc := &http.Client{Transport: &http.Transport{}}
			get := func(url string) (int, string) {
				t.Helper()
				resp, err := hc.Get(url)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			if code, _ := get("http://" + addr + "/healthz"); code != 200 {
				t.Fatalf("healthz %d", code)
			}
			if code, _ := get("http://" + addr + "/metrics"); code != 404 {
				t.Fatalf("/metrics on the main listener: %d, want 404", code)
			}
			if metricsAddr != "" {
				if code, body := get("http://" + metricsAddr + "/metrics"); code != 200 || !strings.Contains(body, "parley_signal_rooms 0") {
					t.Fatalf("/metrics on the metrics listener: %d\n%s", code, body)
				}
				if code, _ := get("http://" + metricsAddr + "/healthz"); code != 404 {
					t.Fatalf("/healthz on the metrics listener: %d, want 404", code)
				}
			}
			hc.CloseIdleConnections()
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Fatalf("exit %d", code)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("run did not stop")
			}
			<-drained
			if metricsAddr != "" {
				if c, err := net.Dial("tcp", metricsAddr); err == nil {
					c.Close()
					t.Fatal("metrics listener still open after shutdown")
				}
			}
		})
	}
}

// TestRunMetricsAddrTaken: a metrics address that cannot be bound stops
// the server at start with a message naming it.
func TestRunMetricsAddrTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var out strings.Builder
	if code := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--metrics-addr", ln.Addr().String()}, io.Discard, &out); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "listen for metrics") {
		t.Fatalf("log does not say what failed:\n%s", out.String())
	}
}
