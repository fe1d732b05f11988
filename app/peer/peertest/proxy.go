package peertest

import (
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parley-chat/parley/signaling/protocol"
)

// LossyProxy stands between two loopback peers: every host candidate is
// rewritten to a proxy socket that forwards to the real one and drops
// each packet with probability loss (netem without a namespace).
type LossyProxy struct {
	t       testing.TB
	loss    float64
	mu      sync.Mutex
	socks   map[string]*net.UDPConn
	wg      sync.WaitGroup
	dropped atomic.Int64
	passed  atomic.Int64
}

// NewLossyProxy makes a proxy that drops with probability loss; it closes
// in cleanup.
func NewLossyProxy(t testing.TB, loss float64) *LossyProxy {
	p := &LossyProxy{t: t, loss: loss, socks: map[string]*net.UDPConn{}}
	t.Cleanup(p.close)
	return p
}

// Dropped and Passed count the packets the proxy dropped and forwarded.
func (p *LossyProxy) Dropped() int64 { return p.dropped.Load() }

// Passed counts the packets the proxy forwarded.
func (p *LossyProxy) Passed() int64 { return p.passed.Load() }

// Rewrite wraps a SendSignal so that the candidates it sends point at the
// proxy.
func (p *LossyProxy) Rewrite(send func(protocol.Signal) error) func(protocol.Signal) error {
	return func(s protocol.Signal) error {
		if s.Candidate != nil {
			cand := *s.Candidate
			cand.Candidate = p.rewrite(cand.Candidate)
			s.Candidate = &cand
		}
		return send(s)
	}
}

// rewrite points a "candidate:..." line at a proxy socket for its address.
func (p *LossyProxy) rewrite(cand string) string {
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
			p.t.Errorf("peertest: proxy socket: %v", err)
			return cand
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
func (p *LossyProxy) forward(s *net.UDPConn, real *net.UDPAddr) {
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

func (p *LossyProxy) close() {
	p.mu.Lock()
	for _, s := range p.socks {
		_ = s.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
