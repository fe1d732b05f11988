package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/server"
)

// lanServer is parley-signal's room registry and HTTP/WebSocket server,
// running inside the app on a LAN address until the app quits.
type lanServer struct {
	url  string
	reg  *room.Registry
	srv  *server.Server
	hs   *http.Server
	done chan error
}

// startLAN listens on addr port 0 and serves the signaling API there.
func startLAN(addr netip.Addr, log *slog.Logger) (*lanServer, error) {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		return nil, fmt.Errorf("start LAN server: %w", err)
	}
	reg := room.NewRegistry(room.SystemClock(), room.Config{})
	srv := server.New(server.DefaultConfig(), reg, log.With("component", "lan-server"))
	l := &lanServer{
		url:  "http://" + ln.Addr().String(),
		reg:  reg,
		srv:  srv,
		hs:   &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second},
		done: make(chan error, 1),
	}
	go func() { l.done <- l.hs.Serve(ln) }()
	return l, nil
}

// stop closes the listener, tells connected clients SHUTTING_DOWN, waits
// for the connection goroutines and stops the registry's timers.
func (l *lanServer) stop(ctx context.Context) error {
	herr := l.hs.Shutdown(ctx)
	werr := l.srv.Shutdown(ctx)
	serr := <-l.done
	if errors.Is(serr, http.ErrServerClosed) {
		serr = nil
	}
	return errors.Join(herr, werr, serr, l.reg.Close())
}

// lanAddr picks the address for the LAN server among the machine's
// interface addresses: the first private IPv4 (192.168/16, 10/8,
// 172.16/12), else the first other global unicast IPv4.
func lanAddr(addrs []net.Addr) (netip.Addr, error) {
	var fallback netip.Addr
	for _, a := range addrs {
		pfx, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := pfx.Addr().Unmap()
		if !ip.Is4() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || !ip.IsGlobalUnicast() {
			continue
		}
		if ip.IsPrivate() {
			return ip, nil
		}
		if !fallback.IsValid() {
			fallback = ip
		}
	}
	if fallback.IsValid() {
		return fallback, nil
	}
	return netip.Addr{}, errors.New("this computer has no IPv4 address on a local network")
}

// interfaceLANAddr is lanAddr over the addresses of the interfaces that are up.
func interfaceLANAddr() (netip.Addr, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("list network interfaces: %w", err)
	}
	var addrs []net.Addr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		a, err := ifc.Addrs()
		if err != nil {
			continue
		}
		addrs = append(addrs, a...)
	}
	return lanAddr(addrs)
}
