package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room/roomtest"
	"github.com/parley-chat/parley/signaling/server"
)

var roomIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{21}$`)

func TestCreateRoom(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantTTL    int64 // seconds; 0 = no timer
	}{
		{"empty body", "", 201, 0},
		{"empty object", "{}", 201, 0},
		{"null timer", `{"selfDestructSeconds":null}`, 201, 0},
		{"one second", `{"selfDestructSeconds":1}`, 201, 1},
		{"a week", `{"selfDestructSeconds":604800}`, 201, 604800},
		{"spaces", " {\n \"selfDestructSeconds\" : 60 }\n", 201, 60},
		{"zero", `{"selfDestructSeconds":0}`, 400, 0},
		{"wrong case", `{"SelfDestructSeconds":5}`, 400, 0},
		{"duplicate key", `{"selfDestructSeconds":1,"selfDestructSeconds":2}`, 400, 0},
		{"negative", `{"selfDestructSeconds":-5}`, 400, 0},
		{"too long", `{"selfDestructSeconds":604801}`, 400, 0},
		{"huge", `{"selfDestructSeconds":99999999999999999999}`, 400, 0},
		{"float", `{"selfDestructSeconds":1.5}`, 400, 0},
		{"whole float", `{"selfDestructSeconds":10.0}`, 400, 0},
		{"exponent", `{"selfDestructSeconds":1e3}`, 400, 0},
		{"string", `{"selfDestructSeconds":"60"}`, 400, 0},
		{"bool", `{"selfDestructSeconds":true}`, 400, 0},
		{"unknown field", `{"foo":1}`, 400, 0},
		{"junk", `hello`, 400, 0},
		{"array", `[1]`, 400, 0},
		{"top-level null", `null`, 400, 0},
		{"trailing data", `{"selfDestructSeconds":5}{}`, 400, 0},
		{"leading zero", `{"selfDestructSeconds":05}`, 400, 0},
		{"too big body", `{"selfDestructSeconds":5` + strings.Repeat(" ", 4096) + `}`, 400, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := time.Now().UnixMilli()
			resp, b := e.do(t, http.MethodPost, "/api/rooms", tc.body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, tc.wantStatus)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.wantStatus != 201 {
				if strings.TrimSpace(string(b)) != `{"error":"BAD_REQUEST"}` {
					t.Fatalf("body %s", b)
				}
				return
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			if _, ok := raw["expiresAt"]; !ok {
				t.Fatalf("expiresAt missing from %s", b)
			}
			var out protocol.CreateRoomResponse
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			if !roomIDRe.MatchString(out.RoomID) {
				t.Fatalf("room id %q", out.RoomID)
			}
			if out.CreatedAt < before || out.CreatedAt > time.Now().UnixMilli() {
				t.Errorf("createdAt %d out of range", out.CreatedAt)
			}
			switch {
			case tc.wantTTL == 0 && out.ExpiresAt != nil:
				t.Errorf("expiresAt %d, want null", *out.ExpiresAt)
			case tc.wantTTL > 0 && (out.ExpiresAt == nil || *out.ExpiresAt != out.CreatedAt+tc.wantTTL*1000):
				t.Errorf("expiresAt %v, want createdAt+%ds", out.ExpiresAt, tc.wantTTL)
			}
		})
	}
}

func TestGetRoom(t *testing.T) {
	t.Parallel()
	clk := roomtest.NewClock(time.Now())
	e := newEnv(t, clk, nil)
	plain := e.create(t, "")
	timed := e.create(t, `{"selfDestructSeconds":30}`)
	gone := e.create(t, "")
	a, _ := e.join(t, gone.RoomID, newKey(t))
	a.write(protocol.Message{Type: protocol.TypeDestroy})
	a.expectError(protocol.CodeRoomDestroyed)
	joined := e.create(t, "")
	e.join(t, joined.RoomID, newKey(t))

	expired := e.create(t, `{"selfDestructSeconds":1}`)
	clk.Advance(time.Second)

	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantBody   string
		connected  int
	}{
		{"plain", "/api/rooms/" + plain.RoomID, 200, "", 0},
		{"timed", "/api/rooms/" + timed.RoomID, 200, "", 0},
		{"one connected", "/api/rooms/" + joined.RoomID, 200, "", 1},
		{"unknown", "/api/rooms/AAAAAAAAAAAAAAAAAAAAA", 404, `{"error":"ROOM_NOT_FOUND"}`, 0},
		{"destroyed", "/api/rooms/" + gone.RoomID, 410, `{"error":"ROOM_DESTROYED"}`, 0},
		{"timer expired", "/api/rooms/" + expired.RoomID, 410, `{"error":"TIMER_EXPIRED"}`, 0},
		{"short id", "/api/rooms/abc", 400, `{"error":"BAD_REQUEST"}`, 0},
		{"empty id", "/api/rooms/", 400, `{"error":"BAD_REQUEST"}`, 0},
		{"bad chars", "/api/rooms/AAAAAAAAAAAAAAAAAAAA%21", 400, `{"error":"BAD_REQUEST"}`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, b := e.do(t, http.MethodGet, tc.path, "")
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, tc.wantStatus)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.wantBody != "" {
				if got := strings.TrimSpace(string(b)); got != tc.wantBody {
					t.Fatalf("body %s, want %s", got, tc.wantBody)
				}
				return
			}
			var info protocol.RoomInfo
			if err := json.Unmarshal(b, &info); err != nil {
				t.Fatal(err)
			}
			if "/api/rooms/"+info.RoomID != tc.path || info.Connected != tc.connected {
				t.Fatalf("info %+v", info)
			}
		})
	}
	var info protocol.RoomInfo
	_, b := e.do(t, http.MethodGet, "/api/rooms/"+timed.RoomID, "")
	_ = json.Unmarshal(b, &info)
	if info.ExpiresAt == nil || *timed.ExpiresAt != *info.ExpiresAt || info.CreatedAt != timed.CreatedAt {
		t.Fatalf("GET %+v disagrees with create %+v", info, timed)
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	id := e.create(t, "").RoomID
	tests := []struct {
		method, path string
		wantStatus   int
		wantCT       string
	}{
		{"GET", "/healthz", 200, "text/plain; charset=utf-8"},
		{"GET", "/metrics", 404, ""}, // only on MetricsHandler, a separate listener
		{"GET", "/nope", 404, ""},
		{"GET", "/api/nope", 404, "application/json"},
		{"GET", "/api/rooms", 405, "application/json"},
		{"DELETE", "/api/rooms", 405, "application/json"},
		{"PUT", "/api/rooms/" + id, 405, "application/json"},
		{"POST", "/api/rooms/" + id, 405, "application/json"},
		{"POST", "/healthz", 405, ""},
		{"GET", "/r/" + id, 200, "text/html; charset=utf-8"},
		{"GET", "/r/bad", 400, ""},
		{"GET", "/ws", 400, "application/json"}, // not a WebSocket handshake
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			resp, b := e.do(t, tc.method, tc.path, "")
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, tc.wantStatus)
			}
			if tc.wantCT != "" && resp.Header.Get("Content-Type") != tc.wantCT {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tc.wantCT)
			}
			if tc.wantStatus == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestLandingPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	id := e.create(t, "").RoomID
	resp, b := e.do(t, "GET", "/r/"+id, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	page := string(b)
	host := strings.TrimPrefix(e.ts.URL, "http://")
	if !strings.Contains(page, `href="parley://`+host+`/r/`+id+`"`) {
		t.Fatalf("no parley:// link in page:\n%s", page)
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, " src=") {
		t.Error("page refers to external resources")
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	// Every inline script and style must be allowed by its hash.
	for _, tag := range []string{"script", "style"} {
		re := regexp.MustCompile(`(?s)<` + tag + `>(.*?)</` + tag + `>`)
		ms := re.FindAllStringSubmatch(page, -1)
		if len(ms) != 1 {
			t.Fatalf("%d <%s> elements", len(ms), tag)
		}
		sum := sha256.Sum256([]byte(ms[0][1]))
		if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, tag+"-src "+h) {
			t.Errorf("CSP %q does not allow the inline %s (%s)", csp, tag, h)
		}
	}
	if !strings.Contains(page, "location.hash") {
		t.Error("script does not carry the fragment over")
	}
}

func TestRateLimitRooms(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) { c.RateRooms = 3 })
	for i := range 3 {
		if resp, b := e.do(t, "POST", "/api/rooms", ""); resp.StatusCode != 201 {
			t.Fatalf("create %d: %d %s", i, resp.StatusCode, b)
		}
	}
	resp, b := e.do(t, "POST", "/api/rooms", "")
	if resp.StatusCode != http.StatusTooManyRequests || strings.TrimSpace(string(b)) != `{"error":"RATE_LIMITED"}` {
		t.Fatalf("4th create: %d %s", resp.StatusCode, b)
	}
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 20 {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	// GET is not limited.
	if resp, _ := e.do(t, "GET", "/api/rooms/AAAAAAAAAAAAAAAAAAAAA", ""); resp.StatusCode != 404 {
		t.Fatalf("GET status %d", resp.StatusCode)
	}
}

func TestRateLimitTrustedProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) {
		c.RateRooms = 1
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	// Behind a trusted proxy each forwarded client has its own bucket.
	for _, ip := range []string{"203.0.113.1", "203.0.113.2", "2001:db8::1"} {
		if resp, b := e.do(t, "POST", "/api/rooms", "", "X-Forwarded-For", ip); resp.StatusCode != 201 {
			t.Fatalf("client %s: %d %s", ip, resp.StatusCode, b)
		}
	}
	if resp, _ := e.do(t, "POST", "/api/rooms", "", "X-Forwarded-For", "203.0.113.1"); resp.StatusCode != 429 {
		t.Fatalf("second create from one client: %d", resp.StatusCode)
	}
	// Same /64.
	if resp, _ := e.do(t, "POST", "/api/rooms", "", "X-Forwarded-For", "2001:db8::2"); resp.StatusCode != 429 {
		t.Fatalf("second create from one /64: %d", resp.StatusCode)
	}
	// A spoofed left-most entry does not help: the proxy appends the real one.
	if resp, _ := e.do(t, "POST", "/api/rooms", "", "X-Forwarded-For", "198.51.100.7, 203.0.113.2"); resp.StatusCode != 429 {
		t.Fatalf("spoofed XFF: %d", resp.StatusCode)
	}
}

func TestRateLimitUntrustedXFF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *server.Config) { c.RateRooms = 1 })
	if resp, _ := e.do(t, "POST", "/api/rooms", "", "X-Forwarded-For", "203.0.113.1"); resp.StatusCode != 201 {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, "POST", "/api/rooms", "", "X-Forwarded-For", "203.0.113.2"); resp.StatusCode != 429 {
		t.Fatalf("XFF from an untrusted peer was believed: %d", resp.StatusCode)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	id := e.create(t, "").RoomID
	a, _ := e.join(t, id, newKey(t))
	b, _ := e.join(t, id, newKey(t))
	a.expectPeer(protocol.PeerJoined, b.pub)
	a.write(protocol.Message{Type: protocol.TypeSignal, Signal: &protocol.Signal{App: json.RawMessage(`"x"`)}})
	b.read()
	a.write(map[string]any{"type": "bogus"})
	a.read()
	text := e.Metrics(t)
	for _, want := range []string{
		"parley_signal_rooms 1",
		"parley_signal_connections 2",
		`parley_signal_joins_total{result="ok"} 2`,
		"parley_signal_messages_relayed_total 1",
		`parley_signal_messages_rejected_total{reason="bad_request"} 1`,
		"go_memstats_heap_inuse_bytes",
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
