package server_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/room/roomtest"
	"github.com/parley-chat/parley/signaling/server"
	"github.com/parley-chat/parley/signaling/server/servertest"
)

// behindProxy makes the test's loopback address a trusted proxy, so each
// request can name its client address in X-Forwarded-For.
func behindProxy(c *server.Config) {
	c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// dialFrom opens /ws as the client at ip (via X-Forwarded-For). On a
// refusal it returns the HTTP status and error code.
func (e *env) dialFrom(t *testing.T, ip string, hdr http.Header) (ws *websocket.Conn, status int, code string) {
	t.Helper()
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set("X-Forwarded-For", ip)
	url := e.WSURL()
	ws, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if err == nil {
		resp.Body.Close()
		t.Cleanup(func() { _ = ws.Close() })
		return ws, http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("dial as %s: %v", ip, err)
	}
	defer resp.Body.Close()
	var body protocol.ErrorResponse
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	return nil, resp.StatusCode, body.Error
}

// waitDialFrom waits until ip may open a WebSocket again (its earlier
// connections have been counted out) and returns the connection.
func (e *env) waitDialFrom(t *testing.T, ip string) *websocket.Conn {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ws, status, code := e.dialFrom(t, ip, nil)
		if ws != nil {
			return ws
		}
		if status != http.StatusTooManyRequests || code != protocol.CodeServerBusy || time.Now().After(deadline) {
			t.Fatalf("%s still refused: %d %s", ip, status, code)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// createFrom creates a room as the client at ip and returns the status,
// the error code and the room id.
func (e *env) createFrom(t *testing.T, ip string) (status int, code, id string) {
	t.Helper()
	resp, b := e.do(t, http.MethodPost, "/api/rooms", "", "X-Forwarded-For", ip)
	var out struct {
		protocol.CreateRoomResponse
		protocol.ErrorResponse
	}
	_ = json.Unmarshal(b, &out)
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	return resp.StatusCode, out.Error, out.RoomID
}

// TestConnCapPerClient opens WebSockets as several clients: each IPv4
// address and each IPv6 /64 holds at most MaxConnsPerIP, each IPv6 /48 at
// most MaxConnsPer48; a refusal is 429 SERVER_BUSY and counted.
func TestConnCapPerClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) {
		behindProxy(c)
		c.MaxConnsPerIP = 2
		c.MaxConnsPer48 = 3
	})
	steps := []struct {
		ip    string
		admit bool
	}{
		{"203.0.113.1", true},
		{"203.0.113.1", true},
		{"203.0.113.1", false},         // the address holds 2
		{"::ffff:203.0.113.1", false},  // the same address, IPv4-mapped
		{"203.0.113.2", true},          // IPv4 neighbours are other clients
		{"2001:db8:1:1::1", true},      // /64 a
		{"2001:db8:1:1:ffff::2", true}, // /64 a, another host part
		{"2001:db8:1:1::3", false},     // /64 a holds 2
		{"2001:db8:1:2::1", true},      // /64 b: the /48 now holds 3
		{"2001:db8:1:3::1", false},     // /64 c is empty but the /48 is full
		{"2001:db8:2::1", true},        // another /48
	}
	var held []*websocket.Conn
	for i, st := range steps {
		ws, status, code := e.dialFrom(t, st.ip, nil)
		if st.admit != (ws != nil) {
			t.Fatalf("step %d (%s): status %d %s, want admitted=%v", i, st.ip, status, code, st.admit)
		}
		if ws != nil {
			held = append(held, ws)
		} else if status != http.StatusTooManyRequests || code != protocol.CodeServerBusy {
			t.Fatalf("step %d (%s): %d %s, want 429 SERVER_BUSY", i, st.ip, status, code)
		}
	}
	text := e.Metrics(t)
	for series, want := range map[string]float64{
		`parley_signal_client_cap_refused_total{resource="conns",scope="ip"}`:    3,
		`parley_signal_client_cap_refused_total{resource="conns",scope="net48"}`: 1,
		`parley_signal_client_cap_refused_total{resource="rooms",scope="ip"}`:    0,
		"parley_signal_connections": 7,
		// 203.0.113.1, 203.0.113.2, two /64s and one /48 under 2001:db8:1::, and 2001:db8:2:: (/64 and /48)
		"parley_signal_conn_cap_clients": 7,
	} {
		if got := servertest.Metric(text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	// Closing the connections gives every slot back.
	for _, ws := range held {
		_ = ws.Close()
	}
	e.WaitMetric(t, "parley_signal_conn_cap_clients", 0)
	e.WaitMetric(t, "parley_signal_connections", 0)
	for _, ip := range []string{"203.0.113.1", "203.0.113.1", "2001:db8:1:3::1"} {
		if ws, status, code := e.dialFrom(t, ip, nil); ws == nil {
			t.Fatalf("%s after the others closed: %d %s", ip, status, code)
		}
	}
}

// TestConnCapReleasedOnEveryExit ends a client's only allowed connection
// in each way a connection can end, and checks the client may connect
// again afterwards: the slot is given back on every path.
func TestConnCapReleasedOnEveryExit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) {
		behindProxy(c)
		c.MaxConnsPerIP = 1
		c.MaxBadFrames = 2
	})
	// joinAs connects as ip and joins room id with key.
	joinAs := func(t *testing.T, ip, id string, key ed25519.PrivateKey) *client {
		t.Helper()
		ws, status, code := e.dialFrom(t, ip, nil)
		if ws == nil {
			t.Fatalf("dial as %s: %d %s", ip, status, code)
		}
		c := &client{t: t, ws: ws, priv: key, pub: b64.EncodeToString(key.Public().(ed25519.PublicKey))}
		c.write(c.joinMsg(id, c.challenge()))
		if m := c.read(); m.Type != protocol.TypeJoined {
			t.Fatalf("join: %+v", m)
		}
		return c
	}
	tests := []struct {
		name string
		end  func(t *testing.T, ip string) // ends the connection(s) ip holds or tried to open
	}{
		{"refused upgrade: not a WebSocket", func(t *testing.T, ip string) {
			if resp, b := e.do(t, http.MethodGet, "/ws", "", "X-Forwarded-For", ip); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("plain GET /ws: %d %s", resp.StatusCode, b)
			}
		}},
		{"refused upgrade: foreign origin", func(t *testing.T, ip string) {
			if ws, status, _ := e.dialFrom(t, ip, http.Header{"Origin": {"https://evil.example"}}); ws != nil || status != http.StatusForbidden {
				t.Fatalf("foreign origin: status %d", status)
			}
		}},
		{"client hangs up before joining", func(t *testing.T, ip string) {
			ws, _, _ := e.dialFrom(t, ip, nil)
			_ = ws.Close()
		}},
		{"client hangs up after joining", func(t *testing.T, ip string) {
			c := joinAs(t, ip, e.create(t, "").RoomID, newKey(t))
			_ = c.ws.Close()
		}},
		{"client leaves", func(t *testing.T, ip string) {
			c := joinAs(t, ip, e.create(t, "").RoomID, newKey(t))
			c.write(protocol.Message{Type: protocol.TypeLeave})
			c.expectClosed()
		}},
		{"join refused", func(t *testing.T, ip string) {
			ws, _, _ := e.dialFrom(t, ip, nil)
			c := &client{t: t, ws: ws, priv: newKey(t)}
			c.pub = b64.EncodeToString(c.priv.Public().(ed25519.PublicKey))
			c.write(c.joinMsg("AAAAAAAAAAAAAAAAAAAAA", c.challenge()))
			c.expectError(protocol.CodeRoomNotFound)
		}},
		{"kicked for invalid frames", func(t *testing.T, ip string) {
			c := joinAs(t, ip, e.create(t, "").RoomID, newKey(t))
			c.write(map[string]string{"type": "bogus"})
			c.write(map[string]string{"type": "bogus"})
			c.expectError(protocol.CodeBadRequest)
		}},
		{"replaced by a newer connection", func(t *testing.T, ip string) {
			id, key := e.create(t, "").RoomID, newKey(t)
			old := joinAs(t, ip, id, key)
			joinAs(t, "198.51.100.200", id, key) // the same participant from elsewhere
			old.expectError(protocol.CodeReplaced)
		}},
		{"room destroyed by the peer", func(t *testing.T, ip string) {
			id := e.create(t, "").RoomID
			c := joinAs(t, ip, id, newKey(t))
			peer := joinAs(t, "198.51.100.201", id, newKey(t))
			peer.write(protocol.Message{Type: protocol.TypeDestroy})
			c.expectError(protocol.CodeRoomDestroyed)
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ip := "203.0.113." + strconv.Itoa(10+i)
			tc.end(t, ip)
			ws := e.waitDialFrom(t, ip)
			if _, status, code := e.dialFrom(t, ip, nil); status != http.StatusTooManyRequests || code != protocol.CodeServerBusy {
				t.Fatalf("second connection: %d %s, want the cap to hold", status, code)
			}
			_ = ws.Close()
		})
	}
	e.WaitMetric(t, "parley_signal_conn_cap_clients", 0)
}

// TestConnCapReleasedOnShutdown: connections cut by Shutdown give their
// slots back before Shutdown returns.
func TestConnCapReleasedOnShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) {
		behindProxy(c)
		c.MaxConnsPerIP = 1
	})
	id := e.create(t, "").RoomID
	for _, ip := range []string{"203.0.113.1", "2001:db8::1"} {
		ws, status, code := e.dialFrom(t, ip, nil)
		if ws == nil {
			t.Fatalf("dial: %d %s", status, code)
		}
		c := &client{t: t, ws: ws, priv: newKey(t)}
		c.pub = b64.EncodeToString(c.priv.Public().(ed25519.PublicKey))
		c.write(c.joinMsg(id, c.challenge()))
		c.read()
	}
	if got := servertest.Metric(e.Metrics(t), "parley_signal_conn_cap_clients"); got != 3 {
		t.Fatalf("conn_cap_clients %v before shutdown, want 3", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := servertest.Metric(e.Metrics(t), "parley_signal_conn_cap_clients"); got != 0 {
		t.Fatalf("conn_cap_clients %v after shutdown, want 0", got)
	}
}

// TestRoomCapPerClient creates rooms as several clients: each IPv4 address
// and IPv6 /64 keeps at most MaxRoomsPerIP live rooms, each IPv6 /48 at
// most MaxRoomsPer48.
func TestRoomCapPerClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) {
		behindProxy(c)
		c.MaxRoomsPerIP = 2
		c.MaxRoomsPer48 = 3
	})
	steps := []struct {
		ip    string
		admit bool
	}{
		{"203.0.113.1", true},
		{"203.0.113.1", true},
		{"203.0.113.1", false},
		{"203.0.113.2", true},
		{"2001:db8:1:1::1", true},
		{"2001:db8:1:1::2", true},
		{"2001:db8:1:1::3", false}, // /64 full
		{"2001:db8:1:2::1", true},  // /48 now full
		{"2001:db8:1:3::1", false},
		{"2001:db8:2::1", true},
	}
	for i, st := range steps {
		status, code, _ := e.createFrom(t, st.ip)
		want := http.StatusCreated
		if !st.admit {
			want = http.StatusTooManyRequests
		}
		if status != want || (!st.admit && code != protocol.CodeServerBusy) {
			t.Fatalf("step %d (%s): %d %s, want %d", i, st.ip, status, code, want)
		}
	}
	text := e.Metrics(t)
	for series, want := range map[string]float64{
		`parley_signal_client_cap_refused_total{resource="rooms",scope="ip"}`:    2,
		`parley_signal_client_cap_refused_total{resource="rooms",scope="net48"}`: 1,
		"parley_signal_room_cap_tracked":                                         7,
		"parley_signal_rooms":                                                    7,
	} {
		if got := servertest.Metric(text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

// TestRoomCapFreedWhenRoomsEnd: a room stops counting against its creator
// once it is destroyed, self-destructs or expires idle.
func TestRoomCapFreedWhenRoomsEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		end  func(t *testing.T, e *env, clk *roomtest.Clock, id string)
	}{
		{"destroyed", "", func(t *testing.T, e *env, _ *roomtest.Clock, id string) {
			c, _ := e.join(t, id, newKey(t))
			c.write(protocol.Message{Type: protocol.TypeDestroy})
			c.expectError(protocol.CodeRoomDestroyed)
		}},
		{"self-destructed", `{"selfDestructSeconds":60}`, func(_ *testing.T, _ *env, clk *roomtest.Clock, _ string) {
			clk.Advance(time.Minute)
		}},
		{"expired idle", "", func(_ *testing.T, _ *env, clk *roomtest.Clock, _ string) {
			clk.Advance(room.DefaultIdleTTL + time.Second)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := roomtest.NewClock(time.Now())
			e := newEnv(t, clk, func(c *server.Config) {
				behindProxy(c)
				c.MaxRoomsPerIP = 1
			})
			ip := "2001:db8::1"
			resp, b := e.do(t, http.MethodPost, "/api/rooms", tc.body, "X-Forwarded-For", ip)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("first create: %d %s", resp.StatusCode, b)
			}
			var first protocol.CreateRoomResponse
			if err := json.Unmarshal(b, &first); err != nil {
				t.Fatal(err)
			}
			if status, code, _ := e.createFrom(t, ip); status != http.StatusTooManyRequests || code != protocol.CodeServerBusy {
				t.Fatalf("second create while the first lives: %d %s", status, code)
			}
			tc.end(t, e, clk, first.RoomID)
			if status, code, _ := e.createFrom(t, ip); status != http.StatusCreated {
				t.Fatalf("create after the room ended: %d %s", status, code)
			}
		})
	}
}

// TestRoomCapSlotReturnedWhenCreateFails: a creation the store refuses
// (server full) does not keep the client's slot.
func TestRoomCapSlotReturnedWhenCreateFails(t *testing.T) {
	t.Parallel()
	e := envOf(servertest.New(t, servertest.Options{
		DefaultLimits: true,
		Room:          room.Config{MaxRooms: 1},
		Config: func(c *server.Config) {
			behindProxy(c)
			c.MaxRoomsPerIP = 1
		},
	}))
	_, _, id := e.createFrom(t, "203.0.113.1")
	if status, code, _ := e.createFrom(t, "203.0.113.2"); status != http.StatusServiceUnavailable || code != protocol.CodeServerBusy {
		t.Fatalf("create on a full server: %d %s, want 503 SERVER_BUSY", status, code)
	}
	c, _ := e.join(t, id, newKey(t))
	c.write(protocol.Message{Type: protocol.TypeDestroy})
	c.expectError(protocol.CodeRoomDestroyed)
	if status, code, _ := e.createFrom(t, "203.0.113.2"); status != http.StatusCreated {
		t.Fatalf("create after the refused one: %d %s (slot kept)", status, code)
	}
}

func TestRateLimitLookups(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) { c.RateLookups = 2 })
	id := e.create(t, "").RoomID
	for i := range 2 {
		if resp, b := e.do(t, "GET", "/api/rooms/"+id, ""); resp.StatusCode != 200 {
			t.Fatalf("lookup %d: %d %s", i, resp.StatusCode, b)
		}
	}
	resp, b := e.do(t, "GET", "/api/rooms/AAAAAAAAAAAAAAAAAAAAA", "")
	if resp.StatusCode != http.StatusTooManyRequests || strings.TrimSpace(string(b)) != `{"error":"RATE_LIMITED"}` || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("3rd lookup: %d %s", resp.StatusCode, b)
	}
	if got := servertest.Metric(e.Metrics(t), `parley_signal_rate_limited_total{endpoint="get"}`); got != 1 {
		t.Fatalf("rate_limited_total{get} = %v", got)
	}
	// Creating is limited separately.
	e.create(t, "")
}

// TestMetricsHandler: the metrics live only on MetricsHandler, which
// serves nothing else.
func TestMetricsHandler(t *testing.T) {
	t.Parallel()
	e := servertest.New(t, servertest.Options{Metrics: true})
	for _, tc := range []struct {
		base       string
		path       string
		wantStatus int
	}{
		{e.MetricsURL, "/metrics", 200},
		{e.MetricsURL, "/healthz", 404},
		{e.MetricsURL, "/api/rooms/AAAAAAAAAAAAAAAAAAAAA", 404},
		{e.URL, "/metrics", 404},
	} {
		resp, err := http.Get(tc.base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.wantStatus {
			t.Errorf("%s on %s: %d, want %d", tc.path, tc.base, resp.StatusCode, tc.wantStatus)
		}
	}
}

// TestConnCapReleasedWhenServerBusy: a connection refused by the
// server-wide MaxConns does not keep its client's slot.
func TestConnCapReleasedWhenServerBusy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) {
		behindProxy(c)
		c.MaxConns = 1
		c.MaxConnsPerIP = 1
	})
	first, _, _ := e.dialFrom(t, "203.0.113.1", nil)
	if ws, status, code := e.dialFrom(t, "203.0.113.2", nil); ws != nil || status != http.StatusServiceUnavailable || code != protocol.CodeServerBusy {
		t.Fatalf("dial on a full server: %d %s, want 503 SERVER_BUSY", status, code)
	}
	_ = first.Close()
	e.WaitMetric(t, "parley_signal_connections", 0)
	if ws, status, code := e.dialFrom(t, "203.0.113.2", nil); ws == nil {
		t.Fatalf("dial after the server had room again: %d %s (slot kept)", status, code)
	}
}
