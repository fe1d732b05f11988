// Command parley-signal is Parley's self-hostable signaling server: it
// creates rooms, admits the two participants of each room and relays their
// WebRTC signaling messages. It keeps rooms in memory (or in Redis with
// --redis); the only thing it may write to disk is the key that signs room
// tickets, in --state-dir. Prometheus metrics are served on a listener of
// their own (--metrics-addr, loopback by default), not on --addr.
//
// Every flag also reads an environment variable, PARLEY_SIGNAL_ followed by
// the flag name in upper case with dashes as underscores (--rate-rooms →
// PARLEY_SIGNAL_RATE_ROOMS); a flag on the command line wins.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/parley-chat/parley/internal/buildinfo"
	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/server"
	"github.com/parley-chat/parley/signaling/turnserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options is everything the command line configures.
type options struct {
	version        bool
	addr           string
	metricsAddr    string
	tlsCert        string
	tlsKey         string
	trustedProxies listFlag
	allowedOrigins listFlag
	idleTTL        time.Duration
	maxRooms       int
	maxConns       int
	maxConnsPerIP  int
	maxConnsPer48  int
	maxRoomsPerIP  int
	maxRoomsPer48  int
	rateRooms      int
	rateJoins      int
	rateLookups    int
	maxMessage     int
	pingInterval   time.Duration
	stun           listFlag
	turn           listFlag
	turnUser       string
	turnCredential string
	turnSecret     string
	turnTTL        time.Duration
	turnListen     string
	turnPublicIP   string
	turnRealm      string
	turnRelayPorts string
	turnAllowPeers listFlag
	redisURL       string
	stateDir       string
	logLevel       string
	logFormat      string
	shutdownWait   time.Duration
}

const envPrefix = "PARLEY_SIGNAL_"

// defaultMetricsAddr is where /metrics is served unless --metrics-addr
// says otherwise: loopback, so only the host's own monitoring reaches it.
const defaultMetricsAddr = "127.0.0.1:9787"

// metricsOff reports whether a --metrics-addr value turns the metrics
// listener off. "off" exists because an empty environment variable counts
// as unset.
func metricsOff(addr string) bool { return addr == "" || addr == "off" }

// envName is the environment variable that backs a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	def := server.DefaultConfig()
	var o options
	fs := flag.NewFlagSet("parley-signal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.version, "version", false, "print the version and the commit it was built from, then exit")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8787", "`host:port` to listen on; port 0 picks a free port (the log line shows the real one)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", defaultMetricsAddr, "`host:port` of a separate plain-HTTP listener serving only GET /metrics (Prometheus); the main --addr does not serve it. Keep it on loopback or a private network: the counters show when rooms are used. \"off\" (or \"\") disables it; port 0 picks a free port")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate `file` (PEM); with --tls-key serves HTTPS/WSS, otherwise plain HTTP for use behind a TLS proxy")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS private key `file` (PEM)")
	fs.Var(&o.trustedProxies, "trusted-proxies", "`CIDRs` (comma list or repeated) of reverse proxies whose X-Forwarded-For is believed for per-IP limits")
	fs.Var(&o.allowedOrigins, "allowed-origins", "browser `origins` (e.g. https://example.org) allowed to open /ws; requests without Origin (the app) are always allowed")
	fs.DurationVar(&o.idleTTL, "idle-ttl", room.DefaultIdleTTL, "how long a room lives with nobody connected")
	fs.IntVar(&o.maxRooms, "max-rooms", room.DefaultMaxRooms, "most live rooms; creating more answers 503 SERVER_BUSY")
	fs.IntVar(&o.maxConns, "max-conns", def.MaxConns, "most concurrent WebSocket connections; more answer 503 SERVER_BUSY")
	fs.IntVar(&o.maxConnsPerIP, "max-conns-per-ip", def.MaxConnsPerIP, "most concurrent WebSocket connections of one client (an IPv4 address or an IPv6 /64); more answer 429 SERVER_BUSY (0 disables; counted per node with --redis)")
	fs.IntVar(&o.maxConnsPer48, "max-conns-per-48", def.MaxConnsPer48, "most concurrent WebSocket connections from one IPv6 /48; more answer 429 SERVER_BUSY (0 disables; per node)")
	fs.IntVar(&o.maxRoomsPerIP, "max-rooms-per-ip", def.MaxRoomsPerIP, "most live rooms one client (an IPv4 address or an IPv6 /64) created; more creations answer 429 SERVER_BUSY until one is destroyed or expires (0 disables; counts the rooms created through this node)")
	fs.IntVar(&o.maxRoomsPer48, "max-rooms-per-48", def.MaxRoomsPer48, "most live rooms created from one IPv6 /48; more answer 429 SERVER_BUSY (0 disables; per node)")
	fs.IntVar(&o.rateRooms, "rate-rooms", def.RateRooms, "room creations per minute per client IP (0 disables)")
	fs.IntVar(&o.rateJoins, "rate-joins", def.RateJoins, "WebSocket connections per minute per client IP (0 disables)")
	fs.IntVar(&o.rateLookups, "rate-lookups", def.RateLookups, "room lookups (GET /api/rooms/{id}) per minute per client IP (0 disables)")
	fs.IntVar(&o.maxMessage, "max-message-bytes", protocol.DefaultMaxMessageBytes, "largest WebSocket message accepted; a bigger one closes that connection")
	fs.DurationVar(&o.pingInterval, "ping-interval", def.PingInterval, "WebSocket ping interval; a client silent for 2.5x this is dropped")
	fs.Var(&o.stun, "stun", "STUN `URLs` handed to clients on join (comma list or repeated), e.g. stun:stun.example.org:3478")
	fs.Var(&o.turn, "turn", "TURN `URLs` handed to clients on join (comma list or repeated), e.g. turn:turn.example.org:3478?transport=udp")
	fs.StringVar(&o.turnUser, "turn-username", "", "fixed TURN username (prefer --turn-secret)")
	fs.StringVar(&o.turnCredential, "turn-credential", "", "fixed TURN password (prefer --turn-secret)")
	fs.StringVar(&o.turnSecret, "turn-secret", "", "shared secret for short-lived TURN REST credentials (coturn use-auth-secret / static-auth-secret)")
	fs.DurationVar(&o.turnTTL, "turn-ttl", def.TURNCredentialTTL, "longest lifetime of the TURN credentials a join gets (--turn-secret or --turn-listen); a room's self-destruct time shortens it, and the embedded relay refuses them once the room has ended")
	fs.StringVar(&o.turnListen, "turn-listen", "", "run the embedded TURN/STUN server on this UDP and TCP `host:port` (e.g. 0.0.0.0:3478); clients get short-lived credentials for it")
	fs.StringVar(&o.turnPublicIP, "turn-public-ip", "", "the `IP` clients reach the embedded TURN server at, and that relayed addresses are announced with (required with --turn-listen)")
	fs.StringVar(&o.turnRealm, "turn-realm", "parley", "TURN `realm` of the embedded server")
	fs.StringVar(&o.turnRelayPorts, "turn-relay-ports", "49152-65535", "UDP `range` (low-high) the embedded TURN server allocates relayed addresses from")
	fs.Var(&o.turnAllowPeers, "turn-allow-peers", "`CIDRs` (comma list or repeated) the embedded TURN server may relay to although they are private, loopback or link-local (a relay inside a LAN); default none")
	fs.StringVar(&o.redisURL, "redis", "", "share rooms between several nodes through Redis at this `URL` (redis://host:port/db); default keeps rooms in memory")
	fs.StringVar(&o.stateDir, "state-dir", "", "`directory` for the key that signs room tickets, so rooms survive a restart (systemd: $STATE_DIRECTORY); empty keeps the key in memory")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.DurationVar(&o.shutdownWait, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take before connections are cut")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: parley-signal [flags]\n\n"+
			"Parley's signaling server: creates rooms and relays WebRTC signaling between the two\n"+
			"participants of a room. Keeps rooms in memory, or in Redis with --redis. Each flag can also be set with the\n"+
			"environment variable %s<FLAG_NAME> (e.g. PARLEY_SIGNAL_ADDR); flags win.\n\n"+
			"Prometheus metrics are served only on --metrics-addr (default %s), never on --addr.\n"+
			"Each client (an IPv4 address, an IPv6 /64, and per IPv6 /48) gets at most --max-conns-per-ip\n"+
			"WebSockets and --max-rooms-per-ip live rooms (and the -per-48 caps); these count per node.\n\n", envPrefix, defaultMetricsAddr)
		fs.PrintDefaults()
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s: %w", envName(f.Name), err)
			}
			if lf, ok := f.Value.(*listFlag); ok {
				lf.fromEnv = true // a command-line value replaces it
			}
		}
	})
	if envErr != nil {
		return o, envErr
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if !metricsOff(o.metricsAddr) {
		if _, _, err := net.SplitHostPort(o.metricsAddr); err != nil {
			return o, fmt.Errorf("--metrics-addr %q: want host:port or off", o.metricsAddr)
		}
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return o, errors.New("--tls-cert and --tls-key go together")
	}
	if o.turnListen != "" {
		if o.turnPublicIP == "" {
			return o, errors.New("--turn-listen needs --turn-public-ip (the address clients reach the relay at)")
		}
		if _, err := netip.ParseAddr(o.turnPublicIP); err != nil {
			return o, fmt.Errorf("--turn-public-ip %q: want a literal IP address", o.turnPublicIP)
		}
		if _, _, err := turnserver.ParsePortRange(o.turnRelayPorts); err != nil {
			return o, fmt.Errorf("--turn-relay-ports: %w", err)
		}
	}
	if _, err := parsePrefixes(o.turnAllowPeers.vals); err != nil {
		return o, fmt.Errorf("--turn-allow-peers: %w", err)
	}
	if len(o.turnAllowPeers.vals) > 0 && o.turnListen == "" {
		return o, errors.New("--turn-allow-peers applies to the embedded relay: it needs --turn-listen")
	}
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"--rate-rooms must be 0 or more", o.rateRooms >= 0},
		{"--rate-joins must be 0 or more", o.rateJoins >= 0},
		{"--rate-lookups must be 0 or more", o.rateLookups >= 0},
		{"--max-conns-per-ip must be 0 or more", o.maxConnsPerIP >= 0},
		{"--max-conns-per-48 must be 0 or more", o.maxConnsPer48 >= 0},
		{"--max-rooms-per-ip must be 0 or more", o.maxRoomsPerIP >= 0},
		{"--max-rooms-per-48 must be 0 or more", o.maxRoomsPer48 >= 0},
		{"--max-rooms must be at least 1", o.maxRooms >= 1},
		{"--max-conns must be at least 2", o.maxConns >= 2},
		{"--max-message-bytes must be at least 4096 (an SDP must fit)", o.maxMessage >= 4096},
		{"--idle-ttl must be positive", o.idleTTL > 0},
		{"--ping-interval must be positive", o.pingInterval > 0},
		{"--shutdown-timeout must be positive", o.shutdownWait > 0},
	} {
		if !c.ok {
			return o, errors.New(c.name)
		}
	}
	return o, nil
}

// listFlag is a repeatable flag that also accepts comma lists.
type listFlag struct {
	vals    []string
	fromEnv bool
}

func (l *listFlag) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.vals, ",")
}

func (l *listFlag) Set(s string) error {
	if l.fromEnv {
		l.vals, l.fromEnv = nil, false
	}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			l.vals = append(l.vals, v)
		}
	}
	return nil
}

func (o options) serverConfig() (server.Config, error) {
	cfg := server.DefaultConfig()
	cfg.MaxMessageBytes = o.maxMessage
	cfg.PingInterval = o.pingInterval
	cfg.MaxConns = o.maxConns
	cfg.RateRooms = o.rateRooms
	cfg.RateJoins = o.rateJoins
	cfg.RateLookups = o.rateLookups
	cfg.MaxConnsPerIP = o.maxConnsPerIP
	cfg.MaxConnsPer48 = o.maxConnsPer48
	cfg.MaxRoomsPerIP = o.maxRoomsPerIP
	cfg.MaxRoomsPer48 = o.maxRoomsPer48
	cfg.AllowedOrigins = o.allowedOrigins.vals
	cfg.TURNSecret = o.turnSecret
	cfg.TURNCredentialTTL = o.turnTTL
	for _, p := range o.trustedProxies.vals {
		pref, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return cfg, fmt.Errorf("--trusted-proxies %q: %w", p, err)
			}
			pref = netip.PrefixFrom(a, a.BitLen())
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, pref.Masked())
	}
	for _, u := range o.stun.vals {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") {
			return cfg, fmt.Errorf("--stun %q: want a stun: or stuns: URL", u)
		}
		cfg.ICEServers = append(cfg.ICEServers, protocol.ICEServer{URLs: []string{u}})
	}
	if len(o.turn.vals) > 0 {
		for _, u := range o.turn.vals {
			if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
				return cfg, fmt.Errorf("--turn %q: want a turn: or turns: URL", u)
			}
		}
		if o.turnSecret == "" && o.turnUser == "" {
			return cfg, errors.New("--turn needs --turn-secret or --turn-username/--turn-credential")
		}
		cfg.ICEServers = append(cfg.ICEServers, protocol.ICEServer{
			URLs:       o.turn.vals,
			Username:   o.turnUser,
			Credential: o.turnCredential,
		})
	}
	return cfg, nil
}

// parsePrefixes parses CIDRs; a bare address is a one-address prefix.
func parsePrefixes(vals []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range vals {
		pref, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return nil, fmt.Errorf("%q: %w", p, err)
			}
			pref = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, pref.Masked())
	}
	return out, nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "parley-signal:", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, buildinfo.Read().Line("parley-signal"))
		return 0
	}
	log, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "parley-signal:", err)
		return 2
	}
	cfg, err := o.serverConfig()
	if err != nil {
		fmt.Fprintln(stderr, "parley-signal:", err)
		return 2
	}
	if err := serve(ctx, o, cfg, log); err != nil {
		log.Error("parley-signal stopped", "err", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, o options, cfg server.Config, log *slog.Logger) error {
	reg, err := openStore(ctx, o, log)
	if err != nil {
		return err
	}
	defer reg.Close()
	if cfg.TicketKey, err = ticketKey(ctx, o, reg, log); err != nil {
		return err
	}
	if o.turnListen != "" {
		turnSrv, err := startTURN(o, &cfg, reg, log)
		if err != nil {
			return err
		}
		defer turnSrv.Close()
	}
	srv := server.New(cfg, reg, log)

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	tlsOn := o.tlsCert != ""
	if tlsOn {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("load TLS key pair: %w", err)
		}
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	var ms *http.Server
	var mln net.Listener
	if !metricsOff(o.metricsAddr) {
		if mln, err = net.Listen("tcp", o.metricsAddr); err != nil {
			_ = ln.Close()
			return fmt.Errorf("listen for metrics on %s: %w", o.metricsAddr, err)
		}
		ms = &http.Server{
			Handler:           srv.MetricsHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
	}
	log.Info("listening", "addr", ln.Addr().String(), "tls", tlsOn,
		"rateRooms", cfg.RateRooms, "rateJoins", cfg.RateJoins, "maxConns", cfg.MaxConns, "idleTTL", o.idleTTL,
		"maxConnsPerIP", cfg.MaxConnsPerIP, "maxRoomsPerIP", cfg.MaxRoomsPerIP)
	if ms != nil {
		log.Info("metrics", "addr", mln.Addr().String(), "path", "/metrics")
	} else {
		log.Info("metrics off")
	}

	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	running := 1
	if ms != nil {
		go func() { errc <- ms.Serve(mln) }()
		running++
	}
	var serveErr error
	select {
	case serveErr = <-errc:
		running--
	case <-ctx.Done():
	}
	if serveErr != nil {
		log.Error("a listener failed, shutting down", "err", serveErr)
	} else {
		log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownWait)
	defer cancel()
	// Stop accepting first, then tell WebSocket clients; http.Server does
	// not track hijacked connections, server.Shutdown does.
	herr := hs.Shutdown(sctx)
	var merr error
	if ms != nil {
		merr = ms.Shutdown(sctx)
	}
	werr := srv.Shutdown(sctx)
	for ; running > 0; running-- {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && serveErr == nil {
			serveErr = err
		}
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	if err := errors.Join(herr, merr, werr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
