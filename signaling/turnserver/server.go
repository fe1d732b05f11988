// Package turnserver is parley-signal's embedded TURN relay (and STUN
// server), built on pion/turn.
//
// It listens on one host:port over UDP and TCP, relays through UDP ports
// from a configured range announced with the server's public IP, and
// accepts only TURN REST credentials (username "<unix expiry>:<user>",
// password base64(HMAC-SHA1(secret, username))) that parley-signal mints
// for each join, so no static password ever reaches a client. STUN binding
// requests need no credentials.
package turnserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/turn/v5"
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
}

// Server is a running relay.
type Server struct {
	turn *turn.Server
	addr netip.AddrPort
	udp  net.PacketConn
	tcp  net.Listener

	allocations atomic.Int64 // created so far
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

// Start validates cfg and starts the relay.
func Start(cfg Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Realm == "" {
		cfg.Realm = "parley"
	}
	if cfg.RelayPorts == "" {
		cfg.RelayPorts = "49152-65535"
	}
	if cfg.Secret == "" {
		return nil, errors.New("turn: a shared secret is required")
	}
	pub, err := netip.ParseAddr(cfg.PublicIP)
	if err != nil {
		return nil, fmt.Errorf("turn public IP %q: want a literal IP address", cfg.PublicIP)
	}
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
	gen := func() turn.RelayAddressGenerator {
		return &turn.RelayAddressGeneratorPortRange{
			Net:          bufferedNet{std},
			RelayAddress: net.IP(pub.AsSlice()),
			Address:      relayBind,
			MinPort:      lo,
			MaxPort:      hi,
		}
	}
	s := &Server{udp: udp, tcp: tcp, addr: netip.AddrPortFrom(netip.MustParseAddr(udpAddr.IP.String()), uint16(udpAddr.Port))}
	lf := &slogFactory{log: log.With("component", "turn")}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   turn.LongTermTURNRESTAuthHandler(cfg.Secret, lf.NewLogger("auth")),
		LoggerFactory: lf,
		EventHandler: turn.EventHandler{
			OnAllocationCreated: func(_, _ net.Addr, _ string, _ string, _ string, _ net.Addr, _ int) {
				s.allocations.Add(1)
			},
		},
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: gen()}},
		ListenerConfigs:   []turn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: gen()}},
	})
	if err != nil {
		udp.Close()
		tcp.Close()
		return nil, fmt.Errorf("turn: %w", err)
	}
	s.turn = srv
	return s, nil
}

// Addr is the bound address (UDP and TCP share the port).
func (s *Server) Addr() netip.AddrPort { return s.addr }

// Allocations returns the number of live allocations.
func (s *Server) Allocations() int { return s.turn.AllocationCount() }

// AllocationsCreated returns how many allocations were made since Start.
func (s *Server) AllocationsCreated() int64 { return s.allocations.Load() }

// Close stops the relay and its allocations.
func (s *Server) Close() error { return s.turn.Close() }

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
