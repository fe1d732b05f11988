// Package servertest starts a real parley-signal server for tests: the
// server package's handlers on an httptest listener on loopback, with the
// room store, clock, limits, embedded TURN relay and metrics listener a
// test asks for, all stopped when the test ends. It is the one way tests
// on both sides (signaling and app) run a signaling server in process;
// tests that need the built binary use the e2e packages instead.
//
// Import cycle: servertest imports server, so the server package's own
// internal tests (package server) cannot use it. Its external tests
// (package server_test) can, and do; internal tests build what they need
// from the unexported parts directly.
package servertest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/room/redisstore"
	"github.com/parley-chat/parley/signaling/server"
	"github.com/parley-chat/parley/signaling/turnserver"
)

// Options says what server to start. The zero value is an in-memory
// server with production defaults except the per-client room and
// connection rates, which are off: every test client comes from 127.0.0.1.
type Options struct {
	// Config adjusts the server configuration after the kit's defaults
	// (server.DefaultConfig with RateRooms and RateJoins 0, or untouched
	// with DefaultLimits) and after the TURN wiring.
	Config func(*server.Config)
	// DefaultLimits keeps server.DefaultConfig's per-client rates, for
	// tests of what a client hitting them sees.
	DefaultLimits bool
	// Clock drives the in-memory registry's time (nil: the system clock),
	// e.g. a *roomtest.Clock. Ignored with Store or Redis.
	Clock room.Clock
	// Room configures the room store (idle TTL, room cap, ...).
	Room room.Config
	// Store is the room store to serve instead of a new in-memory
	// registry; the kit closes it when the test ends.
	Store room.Store
	// Redis is the host:port of a redis-server (signaling's redistest
	// starts one): the server then keeps its rooms in a redisstore.Store
	// there, as one node of a cluster. Servers started with the same
	// address share their rooms.
	Redis string
	// TURN runs the embedded TURN relay on 127.0.0.1 (UDP and TCP, a free
	// port) with a random shared secret, and hands it to joiners as the
	// parley-signal --turn-listen flag does. It may relay to loopback.
	TURN bool
	// Metrics serves the metrics handler on its own loopback listener
	// (MetricsURL), as --metrics-addr does.
	Metrics bool
	// Logger receives the server's logs (nil: discarded).
	Logger *slog.Logger
	// Wrap, when set, wraps the server's handler (to watch or alter the
	// requests a client makes).
	Wrap func(http.Handler) http.Handler
}

// Server is one running signaling server.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port.
	URL string
	// MetricsURL is the base URL of the metrics listener, with
	// Options.Metrics; empty otherwise.
	MetricsURL string
	// Server is the signaling server itself.
	Server *server.Server
	// HTTP is the listener serving URL.
	HTTP *httptest.Server
	// Store is the room store the server uses.
	Store room.Store
	// Registry is the in-memory registry, nil when the test gave a Store or
	// Redis (hostile-server tests make rooms with any id through
	// Registry.Restore).
	Registry *room.Registry
	// TURN is the embedded relay with Options.TURN, nil otherwise.
	TURN *turnserver.Server

	t       testing.TB
	opts    Options
	mu      sync.Mutex // guards Server and Store across Restart for the handlers and the relay
	cfg     server.Config
	handler atomic.Pointer[http.Handler]
	metrics *httptest.Server
}

// New starts a server and stops it (server shutdown, listeners, store,
// relay) when the test ends.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{t: t, opts: o}
	s.openStore()
	cfg := server.DefaultConfig()
	if !o.DefaultLimits {
		cfg.RateRooms, cfg.RateJoins = 0, 0
	}
	if o.TURN {
		s.startTURN(&cfg, o.Logger)
	}
	if o.Config != nil {
		o.Config(&cfg)
	}
	if len(cfg.TicketKey) == 0 {
		// One key for the kit's life, so a Restart honours the tickets
		// the first server handed out, as a restarted node does.
		cfg.TicketKey = make([]byte, server.TicketKeySize)
		_, _ = rand.Read(cfg.TicketKey)
	}
	s.cfg = cfg
	s.startServer()
	s.HTTP = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*s.handler.Load()).ServeHTTP(w, r)
	}))
	s.URL = s.HTTP.URL
	if o.Metrics {
		s.metrics = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.current().MetricsHandler().ServeHTTP(w, r)
		}))
		s.MetricsURL = s.metrics.URL
	}
	t.Cleanup(func() {
		s.HTTP.Close()
		if s.metrics != nil {
			s.metrics.Close()
		}
	})
	return s
}

// openStore makes the room store the options ask for; it is closed when
// the test ends, after the server that uses it.
func (s *Server) openStore() {
	t, o := s.t, s.opts
	switch {
	case o.Store != nil:
		s.setStore(o.Store, nil)
	case o.Redis != "":
		client := redis.NewClient(&redis.Options{Addr: o.Redis})
		t.Cleanup(func() { _ = client.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := redisstore.New(ctx, client, o.Room)
		if err != nil {
			t.Fatalf("servertest: redis store on %s: %v", o.Redis, err)
		}
		s.setStore(st, nil)
	default:
		reg := room.NewRegistry(o.Clock, o.Room)
		s.setStore(reg, reg)
	}
	st := s.Store
	t.Cleanup(func() { _ = st.Close() })
}

// startServer builds the signaling server on s.Store and puts it behind
// the listener; it is shut down when the test ends.
func (s *Server) startServer() {
	srv := server.New(s.cfg, s.Store, s.opts.Logger)
	s.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			s.t.Errorf("servertest: shutdown: %v", err)
		}
	})
	h := srv.Handler()
	if s.opts.Wrap != nil {
		h = s.opts.Wrap(h)
	}
	s.mu.Lock()
	s.Server = srv
	s.mu.Unlock()
	s.handler.Store(&h)
}

func (s *Server) setStore(st room.Store, reg *room.Registry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Store, s.Registry = st, reg
}

func (s *Server) current() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Server
}

// Restart replaces the server behind URL as a restarted parley-signal
// process would: the running one tells its clients SHUTTING_DOWN and
// closes, and a fresh one with the same configuration and ticket key
// takes over the same address. An in-memory registry starts empty (rooms
// come back only through tickets), a Redis store keeps its rooms. It
// cannot restart a Store the test gave. Server, Store and Registry name
// the new ones afterwards.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.opts.Store != nil {
		t.Fatal("servertest: Restart with a test's own Store")
	}
	if err := s.Shutdown(); err != nil {
		t.Fatalf("servertest: shutdown before restart: %v", err)
	}
	s.openStore()
	s.startServer()
}

func (s *Server) startTURN(cfg *server.Config, log *slog.Logger) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret := base64.RawStdEncoding.EncodeToString(b[:])
	ts, err := turnserver.Start(turnserver.Config{
		Listen:     "127.0.0.1:0",
		PublicIP:   "127.0.0.1",
		Secret:     secret,
		AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		RoomLive: func(ctx context.Context, id string) (bool, error) {
			s.mu.Lock()
			st := s.Store // the current one, across a Restart
			s.mu.Unlock()
			return room.Live(ctx, st, id)
		},
	}, log)
	if err != nil {
		s.t.Fatalf("servertest: start TURN: %v", err)
	}
	s.TURN = ts
	s.t.Cleanup(func() { _ = ts.Close() })
	cfg.TURNSecret = secret
	cfg.TURNAllocations = ts.Allocations
	cfg.TURNRefused = ts.Refused
	cfg.ICEServers = append(cfg.ICEServers, ts.ICEServers()...)
}

// WSURL is the WebSocket endpoint, ws://127.0.0.1:port/ws.
func (s *Server) WSURL() string { return "ws" + strings.TrimPrefix(s.URL, "http") + "/ws" }

// Shutdown tells every connected client SHUTTING_DOWN and waits (at most
// 10 s) for their connections to end, as a stopping parley-signal does;
// the listener stays open (new /ws connections are refused). The kit calls
// it again when the test ends, which is harmless.
func (s *Server) Shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.current().Shutdown(ctx)
}

// Metrics scrapes the server's metrics (the Prometheus text format). It
// works with or without Options.Metrics.
func (s *Server) Metrics(t testing.TB) string {
	t.Helper()
	base := s.MetricsURL
	if base == "" {
		ms := httptest.NewServer(s.current().MetricsHandler())
		defer ms.Close()
		base = ms.URL
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("servertest: metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("servertest: metrics: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

// Metric returns the value of one sample ("name" or `name{labels}`) in a
// Metrics text, or -1 when it is missing.
func Metric(text, series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return f
			}
		}
	}
	return -1
}

// WaitMetric waits (at most 10 s) until series has the value want.
func (s *Server) WaitMetric(t testing.TB, series string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := Metric(s.Metrics(t), series)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("servertest: %s = %v, want %v", series, got, want)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}
