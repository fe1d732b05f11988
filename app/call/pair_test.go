package call

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/signaling/protocol"
)

// pair is two verified peer.Conns on loopback, optionally through a UDP
// proxy that drops a share of the packets both ways.
type pair struct {
	a, b  *peer.Conn
	proxy *lossyProxy
}

func newPair(t testing.TB, loss float64) *pair {
	t.Helper()
	ka, _, _ := ed25519.GenerateKey(nil)
	kb, _, _ := ed25519.GenerateKey(nil)
	secret := bytes.Repeat([]byte{7}, 16)
	var proxy *lossyProxy
	if loss > 0 {
		proxy = &lossyProxy{loss: loss, socks: map[string]*net.UDPConn{}}
	}
	toA, toB := make(chan protocol.Signal, 1024), make(chan protocol.Signal, 1024)
	mk := func(local, remote ed25519.PublicKey, polite bool, out chan protocol.Signal) *peer.Conn {
		c, err := peer.New(peer.Config{
			Polite: polite, RoomID: "callroom", Secret: secret, LocalKey: local, PeerKey: remote,
			SendSignal: func(s protocol.Signal) error {
				if proxy != nil && s.Candidate != nil {
					cand := *s.Candidate
					cand.Candidate = proxy.rewrite(t, cand.Candidate)
					s.Candidate = &cand
				}
				out <- s
				return nil
			},
			LoopbackOnly: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	p := &pair{a: mk(ka, kb, false, toB), b: mk(kb, ka, true, toA), proxy: proxy}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, r := range []struct {
		in  chan protocol.Signal
		dst *peer.Conn
	}{{toA, p.a}, {toB, p.b}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case s := <-r.in:
					_ = r.dst.HandleSignal(s)
				case <-stop:
					return
				}
			}
		}()
	}
	t.Cleanup(func() {
		_ = p.a.Close()
		_ = p.b.Close()
		close(stop)
		wg.Wait()
		if proxy != nil {
			proxy.close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range []*peer.Conn{p.a, p.b} {
		if _, err := c.WaitVerified(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// lossyProxy stands between two loopback peers: every host candidate is
// rewritten to a proxy socket that forwards to the real one and drops
// each packet with probability loss (netem without a namespace).
type lossyProxy struct {
	loss    float64
	mu      sync.Mutex
	socks   map[string]*net.UDPConn
	wg      sync.WaitGroup
	dropped atomic.Int64
	passed  atomic.Int64
}

// rewrite points a "candidate:..." line at a proxy socket for its address.
func (p *lossyProxy) rewrite(t testing.TB, cand string) string {
	f := strings.Fields(cand)
	if len(f) < 8 || strings.ToLower(f[2]) != "udp" {
		return cand
	}
	port, err := strconv.Atoi(f[5])
	if err != nil {
		return cand
	}
	real := &net.UDPAddr{IP: net.ParseIP(f[4]), Port: port}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.socks[real.String()]
	if !ok {
		s, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		p.socks[real.String()] = s
		p.wg.Add(1)
		go p.forward(s, real)
	}
	f[5] = strconv.Itoa(s.LocalAddr().(*net.UDPAddr).Port)
	return strings.Join(f, " ")
}

// forward relays between real (the peer behind this socket) and whoever
// last sent to the socket from elsewhere (the other peer).
func (p *lossyProxy) forward(s *net.UDPConn, real *net.UDPAddr) {
	defer p.wg.Done()
	buf := make([]byte, 1<<16)
	var other *net.UDPAddr
	for {
		n, from, err := s.ReadFromUDP(buf)
		if err != nil {
			return
		}
		dst := real
		if from.String() == real.String() {
			dst = other
		} else {
			other = from
		}
		if dst == nil {
			continue
		}
		if rand.Float64() < p.loss {
			p.dropped.Add(1)
			continue
		}
		p.passed.Add(1)
		_, _ = s.WriteToUDP(buf[:n], dst)
	}
}

func (p *lossyProxy) close() {
	p.mu.Lock()
	for _, s := range p.socks {
		_ = s.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
