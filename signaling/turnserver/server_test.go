package turnserver

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/signaling/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "test-secret"

func start(t *testing.T) *Server {
	t.Helper()
	s, err := Start(Config{Listen: "127.0.0.1:0", PublicIP: "127.0.0.1", RelayPorts: "50000-50999", Secret: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// client makes a pion TURN client over UDP or over TCP with credentials
// minted the way parley-signal mints them for a join.
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

func TestRelayOverUDPAndTCP(t *testing.T) {
	s := start(t)
	user, pass := server.TURNCredentials(secret, "parley", time.Now().Add(time.Hour))
	for _, overTCP := range []bool{false, true} {
		name := map[bool]string{false: "udp", true: "tcp"}[overTCP]
		t.Run(name, func(t *testing.T) {
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
			peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			// Through the relay to the peer and back.
			if _, err := relay.WriteTo([]byte("ping"), peer.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, from, err := peer.ReadFrom(buf)
			if err != nil || string(buf[:n]) != "ping" || from.String() != ra.String() {
				t.Fatalf("peer got %q from %v (%v), want ping from %v", buf[:n], from, err, ra)
			}
			// The client binds a channel right after its first send; keep
			// answering until a pong gets through.
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for {
					_, _ = peer.WriteTo([]byte("pong"), from)
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			}()
			_ = relay.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _, err = relay.ReadFrom(buf)
			if err != nil || string(buf[:n]) != "pong" {
				t.Fatalf("client got %q (%v), want pong", buf[:n], err)
			}
		})
	}
	if s.AllocationsCreated() < 2 {
		t.Fatalf("allocations created: %d", s.AllocationsCreated())
	}
}

func TestRefusesExpiredAndForgedCredentials(t *testing.T) {
	s := start(t)
	for name, creds := range map[string][2]string{
		"expired": func() [2]string {
			u, p := server.TURNCredentials(secret, "parley", time.Now().Add(-time.Minute))
			return [2]string{u, p}
		}(),
		"forged": func() [2]string {
			u, p := server.TURNCredentials("another secret", "parley", time.Now().Add(time.Hour))
			return [2]string{u, p}
		}(),
		"static": {"parley", "password"},
	} {
		t.Run(name, func(t *testing.T) {
			cl := client(t, s, false, creds[0], creds[1])
			if relay, err := cl.Allocate(); err == nil {
				relay.Close()
				t.Fatal("allocation granted")
			}
		})
	}
	if n := s.Allocations(); n != 0 {
		t.Fatalf("%d live allocations", n)
	}
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
