package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-chat/parley/signaling/protocol"
)

var b64 = base64.RawURLEncoding

// endpoint is one parley-signal node.
type endpoint struct {
	server  string // base URL
	wsURL   string
	metrics string // base URL of its metrics listener (--metrics-addr)
}

// loader holds what every room setup shares.
type loader struct {
	servers []endpoint
	next    atomic.Uint64 // rooms handed out, to spread them over servers
	timeout time.Duration
	hc      *http.Client
	dialer  *websocket.Dialer
	readers sync.WaitGroup // one per open connection
	// roomKey is the verifier key every room of the run is created with,
	// as the app does (one link secret for all rooms is enough here).
	roomKey ed25519.PrivateKey

	mu       sync.Mutex
	conns    []*websocket.Conn
	lat      []time.Duration
	errs     int
	firstErr string
}

// loadTest runs the whole measurement and returns its report.
func loadTest(ctx context.Context, o options, progress io.Writer) (*report, error) {
	var servers []endpoint
	metrics := strings.Split(o.metrics, ",")
	for i, s := range strings.Split(o.server, ",") {
		u, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(s), "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--server %q: want http(s)://host:port (or several, comma separated)", s)
		}
		ws := *u
		ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
		ws.Path += "/ws"
		if len(metrics) <= i {
			return nil, fmt.Errorf("--metrics: want one metrics URL per --server URL (%d)", len(strings.Split(o.server, ",")))
		}
		m, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(metrics[i]), "/"))
		if err != nil || (m.Scheme != "http" && m.Scheme != "https") || m.Host == "" {
			return nil, fmt.Errorf("--metrics %q: want http://host:port, the server's --metrics-addr (or several, comma separated)", metrics[i])
		}
		servers = append(servers, endpoint{server: u.String(), wsURL: ws.String(), metrics: m.String()})
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails
	l := &loader{
		roomKey: protocol.RoomKey(secret),
		servers: servers,
		timeout: o.timeout,
		hc: &http.Client{
			Timeout:   o.timeout,
			Transport: &http.Transport{MaxIdleConns: o.concurrency, MaxIdleConnsPerHost: o.concurrency},
		},
		// Small buffers and a shared write-buffer pool keep 2×rooms idle
		// connections cheap on this side too.
		dialer: &websocket.Dialer{
			HandshakeTimeout: o.timeout,
			ReadBufferSize:   512,
			WriteBufferSize:  512,
			WriteBufferPool:  &sync.Pool{},
		},
	}
	defer l.hc.CloseIdleConnections()

	before, err := l.scrape(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "setting up %d rooms (%d connections), %d at a time...\n", o.rooms, 2*o.rooms, o.concurrency)
	start := time.Now()
	jobs := make(chan struct{})
	var workers sync.WaitGroup
	for range o.concurrency {
		workers.Go(func() {
			for range jobs {
				l.room(ctx)
			}
		})
	}
feed:
	for i := range o.rooms {
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
			break feed
		}
		if (i+1)%max(o.rooms/10, 1) == 0 {
			fmt.Fprintf(progress, "  %d rooms in %v\n", i+1, time.Since(start).Round(time.Millisecond))
		}
	}
	close(jobs)
	workers.Wait()
	setup := time.Since(start)
	defer l.closeAll()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	fmt.Fprintf(progress, "holding %d connections for %v...\n", len(l.conns), o.hold)
	select {
	case <-time.After(o.hold):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	after, err := l.scrape(ctx)
	if err != nil {
		return nil, err
	}
	return newReport(o, l, setup, before, after), nil
}

// closeAll closes every held connection and waits for the readers.
func (l *loader) closeAll() {
	l.mu.Lock()
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	l.readers.Wait()
}

// room creates one room, joins A then B and records the latency from B's
// join to A's "peer joined". Failures are counted, not fatal.
func (l *loader) room(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	lat, conns, err := l.setupRoom(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns = append(l.conns, conns...)
	if err != nil {
		l.errs++
		if l.firstErr == "" {
			l.firstErr = err.Error()
		}
		return
	}
	l.lat = append(l.lat, lat)
}

// setupRoom creates room i on one server; with several servers, A joins
// that one and B the next, so the two participants are on different
// nodes.
func (l *loader) setupRoom(ctx context.Context) (time.Duration, []*websocket.Conn, error) {
	i := l.next.Add(1) - 1
	n := uint64(len(l.servers))
	srvA, srvB := l.servers[i%n], l.servers[(i+1)%n]
	id, err := l.create(ctx, srvA)
	if err != nil {
		return 0, nil, err
	}
	a, _, err := l.join(ctx, srvA, id)
	if err != nil {
		return 0, nil, fmt.Errorf("join A: %w", err)
	}
	peer := make(chan time.Time, 1)
	l.readers.Go(func() { read(a, peer) })
	b, sent, err := l.join(ctx, srvB, id)
	if err != nil {
		return 0, []*websocket.Conn{a}, fmt.Errorf("join B: %w", err)
	}
	l.readers.Go(func() { read(b, nil) })
	conns := []*websocket.Conn{a, b}
	select {
	case got := <-peer:
		return got.Sub(sent), conns, nil
	case <-ctx.Done():
		return 0, conns, fmt.Errorf("waiting for peer joined: %w", ctx.Err())
	}
}

// create makes a room and returns its id.
func (l *loader) create(ctx context.Context, e endpoint) (string, error) {
	createBody := `{"verifier":"` + b64.EncodeToString(l.roomKey.Public().(ed25519.PublicKey)) + `"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.server+"/api/rooms", strings.NewReader(createBody))
	if err != nil {
		return "", err
	}
	resp, err := l.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("create room: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		protocol.CreateRoomResponse
		protocol.ErrorResponse
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&body)
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create room: %s %s (is the server running with --rate-rooms 0 --max-rooms-per-ip 0?)", resp.Status, body.Error)
	}
	return body.RoomID, nil
}

// join dials /ws, answers the challenge with a fresh key and returns the
// joined connection and when its join message was sent.
func (l *loader) join(ctx context.Context, e endpoint, id string) (*websocket.Conn, time.Time, error) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, time.Time{}, err
	}
	conn, resp, err := l.dialer.DialContext(ctx, e.wsURL, nil)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%w: HTTP %s (is the server running with --rate-joins 0 --max-conns-per-ip 0 and a high --max-conns?)", err, resp.Status)
		}
		return nil, time.Time{}, err
	}
	dl, _ := ctx.Deadline()
	conn.SetReadDeadline(dl)
	conn.SetWriteDeadline(dl)
	var m protocol.Message
	if err := conn.ReadJSON(&m); err != nil || m.Type != protocol.TypeChallenge {
		conn.Close()
		return nil, time.Time{}, fmt.Errorf("read challenge: %v %s", err, m.Code)
	}
	nonce, err := b64.DecodeString(m.Nonce)
	if err != nil {
		conn.Close()
		return nil, time.Time{}, fmt.Errorf("decode nonce: %w", err)
	}
	sent := time.Now()
	pub := key.Public().(ed25519.PublicKey)
	err = conn.WriteJSON(protocol.Message{
		Type:      protocol.TypeJoin,
		Version:   protocol.Version,
		RoomID:    id,
		PublicKey: b64.EncodeToString(pub),
		Signature: b64.EncodeToString(ed25519.Sign(key, protocol.JoinSigningBytes(id, nonce))),
		Verifier:  b64.EncodeToString(l.roomKey.Public().(ed25519.PublicKey)),
		Proof:     b64.EncodeToString(ed25519.Sign(l.roomKey, protocol.ProofSigningBytes(id, nonce, pub))),
	})
	if err != nil {
		conn.Close()
		return nil, time.Time{}, fmt.Errorf("send join: %w", err)
	}
	m = protocol.Message{}
	if err := conn.ReadJSON(&m); err != nil || m.Type != protocol.TypeJoined {
		conn.Close()
		return nil, time.Time{}, fmt.Errorf("join refused: %v %s", err, m.Code)
	}
	conn.SetReadDeadline(time.Time{})
	conn.SetWriteDeadline(time.Time{})
	return conn, sent, nil
}

// read consumes a connection until it is closed, which also answers the
// server's pings. The first "peer joined" time goes to peer if non-nil.
func read(c *websocket.Conn, peer chan<- time.Time) {
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		if peer == nil {
			continue
		}
		now := time.Now()
		var m struct{ Type, Event string }
		if json.Unmarshal(data, &m) == nil && m.Type == protocol.TypePeer && m.Event == protocol.PeerJoined {
			peer <- now
			peer = nil
		}
	}
}

// serverStats are the /metrics values the report needs.
type serverStats struct {
	heap, stack, rss, goroutines float64
	// nextGC and gogc give the live heap marked by the last collection:
	// nextGC = live × (1 + gogc/100).
	nextGC, gogc float64
}

// liveHeap estimates the heap that survived the last garbage collection.
func (s serverStats) liveHeap() float64 {
	return s.nextGC / (1 + s.gogc/100)
}

// scrape reads the servers' Go and process collectors from /metrics and
// adds them up.
func (l *loader) scrape(ctx context.Context) (serverStats, error) {
	var sum serverStats
	for _, e := range l.servers {
		s, err := l.scrapeOne(ctx, e)
		if err != nil {
			return serverStats{}, err
		}
		sum.heap += s.heap
		sum.stack += s.stack
		sum.rss += s.rss
		sum.goroutines += s.goroutines
		sum.nextGC += s.nextGC
		sum.gogc = s.gogc // the same setting everywhere
	}
	return sum, nil
}

func (l *loader) scrapeOne(ctx context.Context, e endpoint) (serverStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.metrics+"/metrics", nil)
	if err != nil {
		return serverStats{}, err
	}
	resp, err := l.hc.Do(req)
	if err != nil {
		return serverStats{}, fmt.Errorf("scrape /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return serverStats{}, fmt.Errorf("scrape /metrics: %s", resp.Status)
	}
	vals, err := parseMetrics(resp.Body)
	if err != nil {
		return serverStats{}, fmt.Errorf("scrape /metrics: %w", err)
	}
	var s serverStats
	for name, dst := range map[string]*float64{
		"go_memstats_heap_inuse_bytes":  &s.heap,
		"go_memstats_stack_inuse_bytes": &s.stack,
		"process_resident_memory_bytes": &s.rss,
		"go_goroutines":                 &s.goroutines,
		"go_memstats_next_gc_bytes":     &s.nextGC,
		"go_gc_gogc_percent":            &s.gogc,
	} {
		v, ok := vals[name]
		if !ok {
			return serverStats{}, fmt.Errorf("server /metrics has no %s: it must register the Go and process collectors", name)
		}
		*dst = v
	}
	return s, nil
}

// parseMetrics reads the unlabelled samples of a Prometheus text exposition.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	vals := make(map[string]float64)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.Contains(f[0], "{") {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		vals[f[0]] = v
	}
	return vals, sc.Err()
}

// percentile returns the q-quantile (0 < q ≤ 1) of sorted, by nearest rank.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
