package server

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room"
)

// maxLimiterEntries bounds the memory of each per-IP rate limiter.
const maxLimiterEntries = 100_000

// Server serves the HTTP API and the /ws relay for one room.Store.
type Server struct {
	cfg      Config
	rooms    room.Store
	log      *slog.Logger
	metrics  *metrics
	upgrader websocket.Upgrader
	origins  map[string]bool

	roomLimiter   *ipLimiter // nil when disabled
	joinLimiter   *ipLimiter // nil when disabled
	lookupLimiter *ipLimiter // nil when disabled
	connCaps      *connCaps  // nil when both caps are off
	roomCaps      *roomCaps  // nil when both caps are off

	mu       sync.Mutex
	conns    map[*conn]struct{}
	reserved int // connections admitted but not yet upgraded
	shutting bool
	wg       sync.WaitGroup // one per /ws connection (its handler and write pump)
}

// New returns a Server for rooms. A nil logger discards logs.
func New(cfg Config, rooms room.Store, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if len(cfg.TicketKey) == 0 {
		cfg.TicketKey = make([]byte, TicketKeySize)
		_, _ = rand.Read(cfg.TicketKey) // crypto/rand.Read never fails on supported platforms
	}
	s := &Server{
		cfg:     cfg,
		rooms:   rooms,
		log:     logger,
		metrics: newMetrics(rooms.Len, cfg.TURNAllocations),
		origins: make(map[string]bool),
		conns:   make(map[*conn]struct{}),
	}
	if cfg.TURNRefused != nil {
		s.metrics.reg.MustRegister(turnRefusedCollector(cfg.TURNRefused))
	}
	for _, o := range cfg.AllowedOrigins {
		s.origins[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	if cfg.RateRooms > 0 {
		s.roomLimiter = newIPLimiter(cfg.RateRooms, maxLimiterEntries, nil)
	}
	if cfg.RateJoins > 0 {
		s.joinLimiter = newIPLimiter(cfg.RateJoins, maxLimiterEntries, nil)
	}
	if cfg.RateLookups > 0 {
		s.lookupLimiter = newIPLimiter(cfg.RateLookups, maxLimiterEntries, nil)
	}
	if cfg.MaxConnsPerIP > 0 || cfg.MaxConnsPer48 > 0 {
		s.connCaps = newConnCaps(cfg.MaxConnsPerIP, cfg.MaxConnsPer48)
	}
	if cfg.MaxRoomsPerIP > 0 || cfg.MaxRoomsPer48 > 0 {
		s.roomCaps = newRoomCaps(cfg.MaxRoomsPerIP, cfg.MaxRoomsPer48, rooms)
	}
	s.metrics.watchCaps(s.connCaps.clients, s.roomCaps.counts)
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// Small buffers and a pooled write buffer keep idle connections
		// cheap; larger messages are simply read and written in pieces.
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     s.checkOrigin,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, _ error) {
			writeError(w, status, protocol.CodeBadRequest)
		},
	}
	return s
}

// Handler returns the server's HTTP routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/rooms", s.handleCreate)
	mux.HandleFunc("GET /api/rooms/{id}", s.handleGet)
	mux.HandleFunc("GET /api/rooms/{$}", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusBadRequest, protocol.CodeBadRequest) // an empty room id is a malformed one
	})
	// Same paths without a method: anything but the methods above is 405.
	mux.HandleFunc("/api/rooms", methodNotAllowed(http.MethodPost))
	mux.HandleFunc("/api/rooms/{id}", methodNotAllowed(http.MethodGet, http.MethodHead))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "NOT_FOUND")
	})
	mux.HandleFunc("GET /r/{id}", s.handlePage)
	mux.HandleFunc("GET /ws", s.handleWS)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	return mux
}

// MetricsHandler serves the Prometheus metrics at /metrics. It is not part
// of Handler: the counters and gauges reveal when rooms are created and
// joined, so they belong on a listener only monitoring reaches.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler())
	return mux
}

// pinger is a room store that can tell whether its backend answers (the
// Redis store).
type pinger interface {
	Ping(ctx context.Context) error
}

// handleHealth answers 200 "ok", or 503 when the shared room store does not
// answer: a load balancer then sends clients to another node.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if p, ok := s.rooms.(pinger); ok {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := p.Ping(ctx); err != nil {
			s.log.Warn("health check: room store does not answer", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("room store unavailable\n"))
			return
		}
	}
	_, _ = w.Write([]byte("ok\n"))
}

// Shutdown tells every connected client SHUTTING_DOWN, closes their
// connections cleanly and waits for all connection goroutines. New /ws
// connections are refused from the start. If ctx ends first, remaining
// connections are cut and ctx's error is returned. Shutdown does not stop
// the HTTP listener: the caller's http.Server does that.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutting = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(protocol.Message{Type: protocol.TypeError, Code: protocol.CodeShuttingDown, RetryAfter: 1})
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			_ = c.ws.NetConn().Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // native clients send none
	}
	if s.origins[strings.ToLower(strings.TrimRight(origin, "/"))] {
		return true
	}
	if len(s.origins) > 0 {
		return false
	}
	// No list: same host only, as gorilla's default does.
	rest, ok := strings.CutPrefix(strings.ToLower(origin), "https://")
	if !ok {
		rest, ok = strings.CutPrefix(strings.ToLower(origin), "http://")
	}
	return ok && rest == strings.ToLower(r.Host)
}

func validID(id string) bool { return protocol.ValidRoomID(id) }
