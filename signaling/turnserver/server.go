// Package turnserver is parley-signal's embedded TURN relay (and STUN
// server), built on pion/turn.
//
// It listens on one host:port over UDP and TCP, relays through UDP ports
// from a configured range announced with the server's public IP, and
// accepts only the credentials parley-signal mints for a member of a room
// (turncred), refusing them once the room has ended; STUN binding
// requests need no credentials.
//
// It must not be an open proxy: relays reach only public addresses (the
// peer filter, filter.go) unless the operator allows ranges, the server's
// own addresses only on relay ports (two relay-only peers talk relay to
// relay), never over TCP; allocations are capped per credential and per
// client IP, and TCP connections per client IP with deadlines.
package turnserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/turn/v5"

	"github.com/parley-chat/parley/signaling/protocol"
)

// socketBuffer is the kernel buffer each relay socket asks for (capped by
// net.core.rmem_max/wmem_max; docs/deploy.md). With Linux's default 208
// KiB, a fast relayed file transfer overflowed them, and every drop halves
// the peers' SCTP window.
const socketBuffer = 4 << 20

// listenPair listens on UDP and TCP on the same port. With port "0" the
// TCP side takes the port UDP got; when another process holds that TCP
// port it tries again with a new one (a few times).
func listenPair(host, port string) (net.PacketConn, net.Listener, error) {
	for attempt := 0; ; attempt++ {
		udp, err := net.ListenPacket("udp4", net.JoinHostPort(host, port))
		if err != nil {
			return nil, nil, fmt.Errorf("turn listen UDP %s: %w", net.JoinHostPort(host, port), err)
		}
		tcpPort := port
		if port == "0" {
			tcpPort = strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)
		}
		tcp, err := net.Listen("tcp4", net.JoinHostPort(host, tcpPort))
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		if port != "0" || attempt == 4 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, fmt.Errorf("turn listen TCP %s: %w", net.JoinHostPort(host, tcpPort), err)
		}
	}
}

// bufferedNet opens the relay sockets with socketBuffer buffers.
type bufferedNet struct{ *stdnet.Net }

func (n bufferedNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err == nil {
		setBuffers(c)
	}
	return c, err
}

func setBuffers(c net.PacketConn) {
	if u, ok := c.(*net.UDPConn); ok {
		_ = u.SetReadBuffer(socketBuffer)
		_ = u.SetWriteBuffer(socketBuffer)
	}
}

// Config says where and how the relay runs.
type Config struct {
	// Listen is the host:port for both UDP and TCP. Port 0 picks a free
	// port (the same for both); Addr reports it.
	Listen string
	// PublicIP is the address clients reach the server at, and that
	// relayed addresses are announced with.
	PublicIP string
	// Realm is the TURN realm. Default "parley".
	Realm string
	// RelayPorts is the UDP range for relayed addresses, "low-high".
	// Default 49152-65535.
	RelayPorts string
	// Secret is the TURN REST shared secret.
	Secret string

	// RoomLive reports whether the room a credential was minted for is
	// still live: false for a room that ended (destroyed, self-destructed,
	// expired idle, unknown), an error when it cannot tell (counted as
	// live). Credentials of a room that is not live are refused and its
	// relays closed. Nil accepts every room.
	RoomLive func(ctx context.Context, roomID string) (bool, error)
	// RoomCheckInterval is how long a RoomLive answer is reused, and how
	// often the rooms of live relays are checked again. Default 30s.
	RoomCheckInterval time.Duration
	// AllowPeers are ranges relayed to although the filter would refuse
	// them (private, loopback, ...): for a relay inside a LAN. Empty by
	// default. An allowed range that holds the server's own address
	// exposes all its UDP ports to relay clients.
	AllowPeers []netip.Prefix
	// MaxAllocationsPerCredential caps live allocations per credential
	// (one join). Default 8: a client allocates one per TURN URL (UDP and
	// TCP) for each peer connection it builds.
	MaxAllocationsPerCredential int
	// MaxAllocationsPerIP caps live allocations per client IPv4 address
	// or IPv6 /64. Default 32.
	MaxAllocationsPerIP int
	// MaxTCPConnsPerIP caps TURN TCP connections per client IP (IPv6:
	// per /64); more are closed at once. Default 32.
	MaxTCPConnsPerIP int
	// TCPFirstMessageTimeout is how long a new TURN TCP connection may
	// stay silent. Default 10s.
	TCPFirstMessageTimeout time.Duration
	// TCPIdleTimeout closes a TURN TCP connection without an allocation
	// that sent nothing for this long. Default 1m.
	TCPIdleTimeout time.Duration
	// TCPAllocationIdleTimeout closes a TURN TCP connection that holds an
	// allocation and sent nothing for this long. Default 6m (pion's
	// client refreshes its allocation every 5 minutes).
	TCPAllocationIdleTimeout time.Duration
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	if c.Realm == "" {
		c.Realm = "parley"
	}
	if c.RelayPorts == "" {
		c.RelayPorts = "49152-65535"
	}
	def(&c.RoomCheckInterval, 30*time.Second)
	def(&c.TCPFirstMessageTimeout, 10*time.Second)
	def(&c.TCPIdleTimeout, time.Minute)
	def(&c.TCPAllocationIdleTimeout, 6*time.Minute)
	defInt(&c.MaxAllocationsPerCredential, 8)
	defInt(&c.MaxAllocationsPerIP, 32)
	defInt(&c.MaxTCPConnsPerIP, 32)
	return c
}

// Server is a running relay.
type Server struct {
	cfg    Config
	log    *slog.Logger
	turn   *turn.Server
	addr   netip.AddrPort
	udp    net.PacketConn
	tcp    net.Listener
	filter *peerFilter
	relays *relaySet
	quotas *quotas

	allocations atomic.Int64 // created so far
	refusedMu   sync.Mutex
	refused     map[string]int64

	liveMu sync.Mutex
	live   map[string]liveEntry

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// ParsePortRange parses "low-high" (1024..65535, low <= high).
func ParsePortRange(s string) (lo, hi uint16, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("relay port range %q: want low-high, e.g. 49152-65535", s)
	}
	l, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	h, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if err1 != nil || err2 != nil || l < 1024 || l > h {
		return 0, 0, fmt.Errorf("relay port range %q: want two ports from 1024 to 65535, low first", s)
	}
	return uint16(l), uint16(h), nil
}

// errNoSecret is Start's error without Config.Secret.
var errNoSecret = errors.New("turn: a shared secret is required")

// Start validates cfg and starts the relay.
func Start(cfg Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if cfg.Secret == "" {
		return nil, errNoSecret
	}
	pub, err := netip.ParseAddr(cfg.PublicIP)
	if err != nil {
		return nil, fmt.Errorf("turn public IP %q: want a literal IP address", cfg.PublicIP)
	}
	pub = unmap(pub)
	lo, hi, err := ParsePortRange(cfg.RelayPorts)
	if err != nil {
		return nil, err
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("turn listen address %q: %w", cfg.Listen, err)
	}
	udp, tcp, err := listenPair(host, port)
	if err != nil {
		return nil, err
	}
	setBuffers(udp)
	udpAddr := udp.LocalAddr().(*net.UDPAddr)
	relayBind := host
	if relayBind == "" {
		relayBind = "0.0.0.0"
	}
	std, err := stdnet.NewNet()
	if err != nil {
		udp.Close()
		tcp.Close()
		return nil, fmt.Errorf("turn: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		log:     log,
		udp:     udp,
		tcp:     tcp,
		addr:    netip.AddrPortFrom(netip.MustParseAddr(udpAddr.IP.String()), uint16(udpAddr.Port)),
		relays:  newRelaySet(),
		quotas:  newQuotas(cfg.MaxAllocationsPerCredential, cfg.MaxAllocationsPerIP),
		refused: map[string]int64{},
		live:    map[string]liveEntry{},
		stop:    make(chan struct{}),
	}
	s.filter = &peerFilter{allow: cfg.AllowPeers, relayIPs: map[netip.Addr]bool{pub: true}, self: map[netip.Addr]bool{pub: true}, relays: s.relays}
	if b, err := netip.ParseAddr(relayBind); err == nil && !b.IsUnspecified() {
		s.filter.relayIPs[unmap(b)] = true
		s.filter.self[unmap(b)] = true
	}
	for _, a := range localAddrs() {
		s.filter.self[a] = true
	}
	gen := func() turn.RelayAddressGenerator {
		return relayGenerator{s: s, inner: &turn.RelayAddressGeneratorPortRange{
			Net:          bufferedNet{std},
			RelayAddress: net.IP(pub.AsSlice()),
			Address:      relayBind,
			MinPort:      lo,
			MaxPort:      hi,
		}}
	}
	permit := func(_ net.Addr, peer net.IP) bool {
		if s.filter.permit(peer) {
			return true
		}
		s.refuse(ReasonPeer)
		return false
	}
	lf := &slogFactory{log: log.With("component", "turn")}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:       cfg.Realm,
		AuthHandler: s.auth,
		QuotaHandler: func(user, _ string, src net.Addr) bool {
			ok, reason := s.quotas.reserve(user, src)
			if !ok {
				s.refuse(reason)
			}
			return ok
		},
		LoggerFactory: lf,
		EventHandler: turn.EventHandler{
			OnAllocationCreated: func(src, _ net.Addr, _ string, _ string, _ string, _ net.Addr, _ int) {
				s.allocations.Add(1)
				s.quotas.created(src)
			},
			OnAllocationDeleted: func(src, _ net.Addr, _, _, _ string) {
				s.quotas.deleted(src)
			},
		},
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: gen(), PermissionHandler: permit}},
		ListenerConfigs:   []turn.ListenerConfig{{Listener: newLimitedListener(tcp, s), RelayAddressGenerator: gen(), PermissionHandler: permit}},
	})
	if err != nil {
		udp.Close()
		tcp.Close()
		return nil, fmt.Errorf("turn: %w", err)
	}
	s.turn = srv
	if cfg.RoomLive != nil {
		s.wg.Add(1)
		go s.sweep()
	}
	return s, nil
}

// Addr is the bound address (UDP and TCP share the port).
func (s *Server) Addr() netip.AddrPort { return s.addr }

// ICEServers are the entries a client gets for this relay: STUN, and TURN
// over UDP and TCP, at Config.PublicIP and the bound port. The TURN
// credentials are minted per join (turncred), so the entries carry none.
func (s *Server) ICEServers() []protocol.ICEServer {
	hostPort := net.JoinHostPort(s.cfg.PublicIP, strconv.Itoa(int(s.addr.Port())))
	return []protocol.ICEServer{
		{URLs: []string{"stun:" + hostPort}},
		{URLs: []string{"turn:" + hostPort + "?transport=udp", "turn:" + hostPort + "?transport=tcp"}},
	}
}

// Allocations returns the number of live allocations.
func (s *Server) Allocations() int { return s.turn.AllocationCount() }

// AllocationsCreated returns how many allocations were made since Start.
func (s *Server) AllocationsCreated() int64 { return s.allocations.Load() }

// Refused returns how often the relay refused something, by reason
// (Reasons lists them all).
func (s *Server) Refused() map[string]int64 {
	s.refusedMu.Lock()
	defer s.refusedMu.Unlock()
	out := make(map[string]int64, len(Reasons))
	for _, r := range Reasons {
		out[r] = s.refused[r]
	}
	return out
}

func (s *Server) refuse(reason string) {
	s.refusedMu.Lock()
	s.refused[reason]++
	s.refusedMu.Unlock()
}

// Close stops the relay and its allocations.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		err = s.turn.Close()
		s.wg.Wait()
	})
	return err
}

// slogFactory routes pion's logs into slog: pion's errors are a client's
// mistakes (expired credentials, bad packets), so they are warnings at
// most, and everything else is debug.
type slogFactory struct{ log *slog.Logger }

func (f *slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLogger{f.log.With("scope", scope)}
}

type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Trace(string)              {}
func (l slogLogger) Tracef(string, ...any)     {}
func (l slogLogger) Debug(m string)            { l.log.Debug(m) }
func (l slogLogger) Debugf(f string, a ...any) { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l slogLogger) Info(m string)             { l.log.Debug(m) }
func (l slogLogger) Infof(f string, a ...any)  { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l slogLogger) Warn(m string)             { l.log.Debug(m) }
func (l slogLogger) Warnf(f string, a ...any)  { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l slogLogger) Error(m string)            { l.log.Warn(m) }
func (l slogLogger) Errorf(f string, a ...any) { l.log.Warn(fmt.Sprintf(f, a...)) }
