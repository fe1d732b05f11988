package turnserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/signaling/turncred"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	secret   = "test-secret"
	roomA    = "AAAAAAAAAAAAAAAAAAAAA"
	roomB    = "BBBBBBBBBBBBBBBBBBBBB"
	deadline = 5 * time.Second
)

// start runs the relay on 127.0.0.1 (its public IP too, as in every test
// of the repository) with the default peer filter.
func start(t *testing.T, edit ...func(*Config)) *Server {
	t.Helper()
	cfg := Config{Listen: "127.0.0.1:0", PublicIP: "127.0.0.1", RelayPorts: "50000-50999", Secret: secret}
	for _, e := range edit {
		e(&cfg)
	}
	s, err := Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// creds mints what parley-signal hands a member of room at join.
func creds(room string) (string, string) {
	return turncred.Mint(secret, room, time.Now().Add(time.Hour))
}

// client makes a pion TURN client over UDP or over TCP.
func client(t *testing.T, s *Server, overTCP bool, user, pass string) *turn.Client {
	t.Helper()
	var conn net.PacketConn
	if overTCP {
		c, err := net.Dial("tcp4", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn = turn.NewSTUNConn(c)
	} else {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	}
	cl, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: s.Addr().String(),
		TURNServerAddr: s.Addr().String(),
		Username:       user,
		Password:       pass,
		Realm:          "parley",
		Conn:           conn,
		RTO:            200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cl.Close()
		conn.Close()
	})
	return cl
}

// allocate makes a UDP relay for a member of room.
func allocate(t *testing.T, s *Server, overTCP bool, room string) net.PacketConn {
	t.Helper()
	user, pass := creds(room)
	relay, err := client(t, s, overTCP, user, pass).Allocate()
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	t.Cleanup(func() { relay.Close() })
	return relay
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exchange sends ping from a to b's address and pong back until both
// arrive. b first sends a hello towards a, which installs b's permission
// for a when b is a relay (TURN drops what comes from a peer without one,
// as ICE's checks in both directions do in a real call); the client binds
// a channel right after its first send, so early datagrams may be lost.
func exchange(t *testing.T, a net.PacketConn, b net.PacketConn, bAddr net.Addr) {
	t.Helper()
	_, _ = b.WriteTo([]byte("hello"), a.LocalAddr())
	if _, err := a.WriteTo([]byte("ping"), bAddr); err != nil {
		t.Fatal(err)
	}
	from := await(t, b, "ping")
	if from.String() != a.LocalAddr().String() {
		t.Fatalf("ping from %v, want %v", from, a.LocalAddr())
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	defer func() { close(stop); <-done }()
	go func() {
		defer close(done)
		for {
			_, _ = b.WriteTo([]byte("pong"), from)
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	await(t, a, "pong")
}

// await reads c until want arrives (skipping anything else).
func await(t *testing.T, c net.PacketConn, want string) net.Addr {
	t.Helper()
	buf := make([]byte, 64)
	_ = c.SetReadDeadline(time.Now().Add(deadline))
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%v waiting for %q: %v", c.LocalAddr(), want, err)
		}
		if string(buf[:n]) == want {
			return from
		}
	}
}

func udpListener(t *testing.T) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// With the peer range allowed explicitly (a relay inside a LAN), a relay
// reaches a plain UDP socket on loopback, over UDP and over TCP to the
// server.
func TestRelayToAllowedPeerOverUDPAndTCP(t *testing.T) {
	s := start(t, func(c *Config) { c.AllowPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	for _, overTCP := range []bool{false, true} {
		name := map[bool]string{false: "udp", true: "tcp"}[overTCP]
		t.Run(name, func(t *testing.T) {
			user, pass := creds(roomA)
			cl := client(t, s, overTCP, user, pass)
			if !overTCP { // STUN: no credentials needed
				mapped, err := cl.SendBindingRequest()
				if err != nil || !bytes.Contains([]byte(mapped.String()), []byte("127.0.0.1:")) {
					t.Fatalf("binding: %v %v", mapped, err)
				}
			}
			relay, err := cl.Allocate()
			if err != nil {
				t.Fatalf("allocate: %v", err)
			}
			defer relay.Close()
			ra := relay.LocalAddr().(*net.UDPAddr)
			if !ra.IP.Equal(net.IPv4(127, 0, 0, 1)) || ra.Port < 50000 || ra.Port > 50999 {
				t.Fatalf("relayed address %v outside 127.0.0.1:50000-50999", ra)
			}
			peer := udpListener(t)
			exchange(t, relay, peer, peer.LocalAddr())
		})
	}
	if s.AllocationsCreated() < 2 {
		t.Fatalf("allocations created: %d", s.AllocationsCreated())
	}
}

// Two relay-only peers talk relay to relay through the server's own
// address, with no allow-list: the one exception to "never the server
// itself".
func TestRelayToRelayWithoutAllowList(t *testing.T) {
	s := start(t)
	for _, overTCP := range []bool{false, true} {
		name := map[bool]string{false: "udp", true: "tcp"}[overTCP]
		t.Run(name, func(t *testing.T) {
			a := allocate(t, s, overTCP, roomA)
			b := allocate(t, s, false, roomA)
			exchange(t, a, b, b.LocalAddr())
		})
	}
}

// The open-proxy finding: a relay must not reach the server's loopback,
// its own ports (HTTP, Redis, ...) or private networks. Nothing may
// arrive at a loopback UDP listener, and the refusal is counted.
func TestRefusesRelayToLoopbackAndOwnPorts(t *testing.T) {
	s := start(t)
	var accepted atomic.Int64
	web := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	web.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			accepted.Add(1)
		}
	}
	web.Start()
	defer web.Close()
	webPort := web.Listener.Addr().(*net.TCPAddr).Port

	victim := udpListener(t)
	relay := allocate(t, s, false, roomA)
	witness := allocate(t, s, false, roomA) // relay to relay still works
	for _, to := range []net.Addr{
		victim.LocalAddr(),
		&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: webPort},
		&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(s.Addr().Port())}, // the TURN port itself
	} {
		_, _ = relay.WriteTo([]byte("GET /metrics HTTP/1.0\r\n\r\n"), to)
	}
	// The server handles one client's datagrams in order: once the
	// witness hears from the relay, the refused ones were handled too.
	exchange(t, relay, witness, witness.LocalAddr())
	_ = victim.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, from, err := victim.ReadFrom(make([]byte, 64)); err == nil {
		t.Fatalf("loopback listener received %d bytes from %v through the relay", n, from)
	}
	if got := s.Refused()[ReasonPeerPort]; got < 3 {
		t.Fatalf("peer_port refusals %d, want 3", got)
	}
	// TCP to the web port: no TCP relay at all (RFC 6062), so no Connect.
	user, pass := creds(roomA)
	if alloc, err := client(t, s, true, user, pass).AllocateTCP(); err == nil {
		defer alloc.Close()
		_, cerr := alloc.Dial("tcp", web.Listener.Addr().String())
		t.Fatalf("TCP allocation granted (dial to the web port: %v)", cerr)
	}
	if accepted.Load() != 0 {
		t.Fatalf("the web server accepted %d connections through the relay", accepted.Load())
	}
	if s.Refused()[ReasonTCPAllocation] == 0 {
		t.Fatal("TCP allocation refusal not counted")
	}
}

// Permissions name an IP: private, CGNAT, link-local (cloud metadata),
// multicast and the like are refused with 403 before any datagram could
// leave; no traffic is sent to them.
func TestRefusesPermissionsForPrivatePeers(t *testing.T) {
	s := start(t)
	user, pass := creds(roomA)
	cl := client(t, s, false, user, pass)
	relay, err := cl.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	for _, ip := range []string{"10.1.2.3", "192.168.1.1", "172.16.0.1", "100.64.0.1", "169.254.169.254", "224.0.0.1", "0.0.0.0", "127.0.0.2"} {
		t.Run(ip, func(t *testing.T) {
			if err := cl.CreatePermission(&net.UDPAddr{IP: net.ParseIP(ip), Port: 9}); err == nil {
				t.Fatalf("permission for %s granted", ip)
			}
		})
	}
	if s.Refused()[ReasonPeer] < 8 {
		t.Fatalf("peer refusals %d, want 8", s.Refused()[ReasonPeer])
	}
}

func TestAllocationQuotas(t *testing.T) {
	s := start(t, func(c *Config) {
		c.MaxAllocationsPerCredential = 2
		c.MaxAllocationsPerIP = 3
	})
	user, pass := creds(roomA)
	try := func(user, pass string) (net.PacketConn, error) {
		relay, err := client(t, s, false, user, pass).Allocate()
		if err == nil {
			t.Cleanup(func() { relay.Close() })
		}
		return relay, err
	}
	first, err := try(user, pass)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := try(user, pass); err != nil {
		t.Fatal(err)
	}
	if _, err := try(user, pass); err == nil {
		t.Fatal("third allocation on one credential granted")
	}
	other, otherPass := creds(roomA)
	if _, err := try(other, otherPass); err != nil {
		t.Fatalf("another credential: %v", err)
	}
	if _, err := try(other, otherPass); err == nil {
		t.Fatal("fourth allocation from one IP granted")
	}
	got := s.Refused()
	if got[ReasonQuotaCredential] != 1 || got[ReasonQuotaIP] != 1 {
		t.Fatalf("refusals %v", got)
	}
	// Closing an allocation frees its slot.
	before := s.Allocations()
	first.Close()
	waitFor(t, "the closed allocation to go", func() bool { return s.Allocations() < before })
	if _, err := try(user, pass); err != nil {
		t.Fatalf("allocation after one closed: %v", err)
	}
	if n := s.Allocations(); n != 3 {
		t.Fatalf("%d live allocations, want 3", n)
	}
}

// Many TCP connections racing for allocations on one credential get no
// more than the quota.
func TestAllocationQuotaHoldsUnderConcurrency(t *testing.T) {
	s := start(t, func(c *Config) { c.MaxAllocationsPerCredential = 3 })
	user, pass := creds(roomA)
	var wg sync.WaitGroup
	var granted atomic.Int64
	clients := make([]*turn.Client, 12)
	for i := range clients {
		clients[i] = client(t, s, true, user, pass)
	}
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if relay, err := cl.Allocate(); err == nil {
				granted.Add(1)
				t.Cleanup(func() { relay.Close() })
			}
		}()
	}
	wg.Wait()
	if granted.Load() != 3 || s.Allocations() != 3 {
		t.Fatalf("granted %d, live %d; want 3", granted.Load(), s.Allocations())
	}
}

// rooms is a fake room store: live or ended.
type rooms struct {
	mu   sync.Mutex
	live map[string]bool
	errs bool
}

func (r *rooms) check(_ context.Context, id string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.errs {
		return false, errors.New("store unreachable")
	}
	return r.live[id], nil
}

func (r *rooms) set(id string, live bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live[id] = live
}

func TestCredentialsAreBoundToLiveRooms(t *testing.T) {
	rs := &rooms{live: map[string]bool{roomA: true}}
	s := start(t, func(c *Config) {
		c.RoomLive = rs.check
		c.RoomCheckInterval = 50 * time.Millisecond
	})
	ended, endedPass := creds(roomB)
	expired, expiredPass := turncred.Mint(secret, roomA, time.Now().Add(-time.Minute))
	forged, forgedPass := turncred.Mint("another secret", roomA, time.Now().Add(time.Hour))
	const plain = "9999999999:parley" // the REST credentials parley-signal minted before
	for _, c := range []struct{ name, user, pass string }{
		{"ended room", ended, endedPass},
		{"expired", expired, expiredPass},
		{"forged", forged, forgedPass},
		{"plain REST", plain, turncred.Password(secret, plain)},
		{"static", "parley", "password"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if relay, err := client(t, s, false, c.user, c.pass).Allocate(); err == nil {
				relay.Close()
				t.Fatal("allocation granted")
			}
		})
	}
	if got := s.Refused(); got[ReasonRoomEnded] == 0 || got[ReasonCredential] < 4 {
		t.Fatalf("refusals %v", got)
	}

	// A live room's relay works until the room ends; then its relays are
	// closed without waiting for the client's next refresh, and its
	// credentials no longer allocate.
	a := allocate(t, s, false, roomA)
	b := allocate(t, s, false, roomA)
	exchange(t, a, b, b.LocalAddr())
	user, pass := creds(roomA)
	rs.set(roomA, false)
	waitFor(t, "the ended room's relays to close", func() bool { return s.Allocations() == 0 })
	if relay, err := client(t, s, false, user, pass).Allocate(); err == nil {
		relay.Close()
		t.Fatal("allocation for an ended room granted")
	}

	// A store that cannot answer does not cut calls.
	rs.mu.Lock()
	rs.errs = true
	rs.mu.Unlock()
	allocate(t, s, false, "CCCCCCCCCCCCCCCCCCCCC")
}

// The TURN TCP listener caps connections per IP, closes a connection that
// says nothing, and one that goes idle without an allocation; one holding
// an allocation stays.
func TestTCPListenerLimits(t *testing.T) {
	s := start(t, func(c *Config) {
		c.MaxTCPConnsPerIP = 3
		// Long enough that the four dials below happen before the first
		// deadline even on a loaded machine.
		c.TCPFirstMessageTimeout = time.Second
		c.TCPIdleTimeout = time.Second
	})
	closed := func(c net.Conn) <-chan error {
		ch := make(chan error, 1)
		go func() {
			_ = c.SetReadDeadline(time.Now().Add(deadline))
			_, err := io.Copy(io.Discard, c)
			if err == nil {
				err = io.EOF
			}
			ch <- err
		}()
		return ch
	}
	isClosedByServer := func(t *testing.T, ch <-chan error, what string) {
		t.Helper()
		err := <-ch
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: still open after %v", what, deadline)
		}
	}

	// One connection holding an allocation, over pion's client.
	user, pass := creds(roomA)
	cl := client(t, s, true, user, pass)
	relay, err := cl.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()

	silent, err := net.Dial("tcp4", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silentClosed := closed(silent)
	third, err := net.Dial("tcp4", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	// A fourth connection from this IP is over the cap.
	over, err := net.Dial("tcp4", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	isClosedByServer(t, closed(over), "connection over the per-IP cap")
	waitFor(t, "the cap refusal to be counted", func() bool { return s.Refused()[ReasonTCPConnLimit] >= 1 })

	// The third talks once (a STUN binding request) and then goes idle.
	if _, err := third.Write(bindingRequest()); err != nil {
		t.Fatal(err)
	}
	resp := make([]byte, 20)
	_ = third.SetReadDeadline(time.Now().Add(deadline))
	if _, err := io.ReadFull(third, resp); err != nil || resp[0] != 0x01 || resp[1] != 0x01 {
		t.Fatalf("binding response %x (%v)", resp, err)
	}
	isClosedByServer(t, silentClosed, "silent connection")
	isClosedByServer(t, closed(third), "idle connection")

	// The allocation holder outlived both short deadlines and still works.
	peer := allocate(t, s, false, roomA)
	exchange(t, relay, peer, peer.LocalAddr())
}

// bindingRequest is a STUN binding request (RFC 5389 header, no
// attributes).
func bindingRequest() []byte {
	b := []byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42}
	return append(b, []byte("parleytest12")...)
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Listen: "127.0.0.1:0", PublicIP: "relay.example.org", Secret: "s"},
		{Listen: "127.0.0.1:0", PublicIP: "127.0.0.1", Secret: ""},
		{Listen: "127.0.0.1:0", PublicIP: "127.0.0.1", Secret: "s", RelayPorts: "60000-50000"},
		{Listen: "127.0.0.1:0", PublicIP: "127.0.0.1", Secret: "s", RelayPorts: "80-90"},
		{Listen: "127.0.0.1:0", PublicIP: "127.0.0.1", Secret: "s", RelayPorts: "5000"},
		{Listen: "nonsense", PublicIP: "127.0.0.1", Secret: "s"},
	} {
		if s, err := Start(c, nil); err == nil {
			s.Close()
			t.Errorf("Start(%+v) accepted", c)
		}
	}
}

// TestICEServers: the entries handed to joiners name the public address
// and the bound port, STUN plus TURN over UDP and TCP, and no credential
// (those are minted per join).
func TestICEServers(t *testing.T) {
	s := start(t, func(c *Config) { c.PublicIP = "203.0.113.7" })
	hp := "203.0.113.7:" + strconv.Itoa(int(s.Addr().Port()))
	got := s.ICEServers()
	want := [][]string{{"stun:" + hp}, {"turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"}}
	if len(got) != len(want) {
		t.Fatalf("ICEServers = %+v", got)
	}
	for i := range want {
		if !slices.Equal(got[i].URLs, want[i]) || got[i].Username != "" || got[i].Credential != "" {
			t.Errorf("entry %d = %+v, want URLs %q and no credential", i, got[i], want[i])
		}
	}
}
