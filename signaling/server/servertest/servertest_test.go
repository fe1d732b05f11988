package servertest_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/app/sigclient"
	"github.com/parley-chat/parley/signaling/internal/redistest"
	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/room/roomtest"
	"github.com/parley-chat/parley/signaling/server"
	"github.com/parley-chat/parley/signaling/server/servertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// create makes a room on base and returns the answer.
func create(t *testing.T, base, body string) (int, protocol.CreateRoomResponse) {
	t.Helper()
	resp, err := http.Post(base+"/api/rooms", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out protocol.CreateRoomResponse
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestOptions(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name  string
		opts  func(*testing.T) servertest.Options
		check func(*testing.T, *servertest.Server)
	}{
		{
			name: "defaults: no metrics listener, no client rates",
			opts: func(*testing.T) servertest.Options { return servertest.Options{} },
			check: func(t *testing.T, s *servertest.Server) {
				if s.MetricsURL != "" || s.TURN != nil || s.Registry == nil {
					t.Fatalf("defaults: %+v", s)
				}
				for range 40 { // beyond the production 30 rooms a minute
					if code, _ := create(t, s.URL, ""); code != http.StatusCreated {
						t.Fatalf("create: %d", code)
					}
				}
				if !strings.HasPrefix(s.WSURL(), "ws://127.0.0.1:") || !strings.HasSuffix(s.WSURL(), "/ws") {
					t.Fatalf("WSURL %q", s.WSURL())
				}
			},
		},
		{
			name: "default limits",
			opts: func(*testing.T) servertest.Options {
				return servertest.Options{DefaultLimits: true, Config: func(c *server.Config) { c.RateRooms = 1 }}
			},
			check: func(t *testing.T, s *servertest.Server) {
				create(t, s.URL, "")
				if code, _ := create(t, s.URL, ""); code != http.StatusTooManyRequests {
					t.Fatalf("second create: %d, want 429", code)
				}
			},
		},
		{
			name: "clock",
			opts: func(*testing.T) servertest.Options { return servertest.Options{Clock: roomtest.NewClock(start)} },
			check: func(t *testing.T, s *servertest.Server) {
				if _, r := create(t, s.URL, ""); r.CreatedAt != start.UnixMilli() {
					t.Fatalf("createdAt %d, want the injected clock's %d", r.CreatedAt, start.UnixMilli())
				}
			},
		},
		{
			name: "metrics listener",
			opts: func(*testing.T) servertest.Options { return servertest.Options{Metrics: true} },
			check: func(t *testing.T, s *servertest.Server) {
				if get(t, s.MetricsURL+"/metrics") != 200 || get(t, s.URL+"/metrics") != 404 {
					t.Fatal("metrics not on their own listener")
				}
				create(t, s.URL, "")
				s.WaitMetric(t, "parley_signal_rooms", 1)
				if got := servertest.Metric(s.Metrics(t), "parley_signal_turn_allocations"); got != -1 {
					t.Fatalf("turn allocations without TURN: %v", got)
				}
			},
		},
		{
			name: "TURN",
			opts: func(*testing.T) servertest.Options { return servertest.Options{TURN: true} },
			check: func(t *testing.T, s *servertest.Server) {
				if s.TURN == nil || !s.TURN.Addr().Addr().IsLoopback() {
					t.Fatalf("TURN relay %v", s.TURN)
				}
				if got := servertest.Metric(s.Metrics(t), "parley_signal_turn_allocations"); got != 0 {
					t.Fatalf("turn allocations = %v, want 0", got)
				}
				// A joiner gets the relay with credentials minted for it.
				ice := joinedICE(t, s)
				relay := s.TURN.ICEServers()
				if len(ice) != len(relay) || ice[1].URLs[0] != relay[1].URLs[0] || ice[1].Username == "" || ice[1].Credential == "" {
					t.Fatalf("joined ICE servers %+v, want the relay %+v with credentials", ice, relay)
				}
			},
		},
		{
			name: "wrap",
			opts: func(t *testing.T) servertest.Options {
				var hits atomic.Int64
				t.Cleanup(func() {
					if hits.Load() != 1 {
						t.Errorf("wrapped handler saw %d requests, want 1", hits.Load())
					}
				})
				return servertest.Options{Wrap: func(h http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); h.ServeHTTP(w, r) })
				}}
			},
			check: func(t *testing.T, s *servertest.Server) { get(t, s.URL+"/healthz") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, servertest.New(t, tt.opts(t)))
		})
	}
}

// TestRedisNodesShareRooms: two servers on one Redis serve the same rooms.
func TestRedisNodesShareRooms(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a := servertest.New(t, servertest.Options{Redis: rs.Addr})
	b := servertest.New(t, servertest.Options{Redis: rs.Addr})
	if a.Registry != nil {
		t.Fatal("a Redis server has an in-memory registry")
	}
	_, r := create(t, a.URL, "")
	if code := get(t, b.URL+"/api/rooms/"+r.RoomID); code != http.StatusOK {
		t.Fatalf("room of node a on node b: %d", code)
	}
	if code := get(t, b.URL+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}
}

// TestRestart: the same address serves a fresh server; an in-memory one
// has forgotten its rooms, one on Redis still has them.
func TestRestart(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	tests := []struct {
		name     string
		opts     servertest.Options
		wantCode int // GET of the room after the restart
	}{
		{"in memory", servertest.Options{Metrics: true}, http.StatusNotFound},
		{"redis", servertest.Options{Redis: rs.Addr, Room: room.Config{}}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := servertest.New(t, tt.opts)
			_, r := create(t, s.URL, "")
			first, firstReg := s.Server, s.Registry
			s.Restart(t)
			if s.Server == first || (firstReg != nil && s.Registry == firstReg) {
				t.Fatal("Restart kept the old server or registry")
			}
			if code := get(t, s.URL+"/api/rooms/"+r.RoomID); code != tt.wantCode {
				t.Fatalf("room after restart: %d, want %d", code, tt.wantCode)
			}
			if code, _ := create(t, s.URL, ""); code != http.StatusCreated {
				t.Fatalf("create after restart: %d", code)
			}
			if s.MetricsURL != "" {
				s.WaitMetric(t, "parley_signal_rooms", 1) // the new server's count
			}
		})
	}
}

// joinedICE creates a room on s, joins it with sigclient as an app does,
// and returns the ICE servers of the joined message.
func joinedICE(t *testing.T, s *servertest.Server) []protocol.ICEServer {
	t.Helper()
	roomKey := protocol.RoomKey([]byte("servertest-room!"))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r, err := sigclient.CreateRoom(ctx, nil, s.URL, 0, roomKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	c, err := sigclient.Dial(ctx, sigclient.Config{ServerURL: s.URL, RoomID: r.RoomID, Key: key, RoomKey: roomKey})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case ev := <-c.Events():
		j, ok := ev.(sigclient.Joined)
		if !ok {
			t.Fatalf("first event %T %+v, want Joined", ev, ev)
		}
		return j.ICEServers
	case <-ctx.Done():
		t.Fatal("no Joined event")
	}
	return nil
}
