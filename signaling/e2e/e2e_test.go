package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/app/sigclient"
	"github.com/parley-chat/parley/internal/proctest"
	"github.com/parley-chat/parley/signaling/protocol"
)

// signalBin is the parley-signal binary built by TestMain.
var signalBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parley-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	signalBin = filepath.Join(dir, "parley-signal")
	build := exec.Command("go", "build", "-o", signalBin, "github.com/parley-chat/parley/signaling/cmd/parley-signal")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build parley-signal:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(dir) }))
}

// timeout bounds every wait in these tests.
const timeout = 15 * time.Second

// listenRE finds the bound address in parley-signal's "listening" log line.
var listenRE = regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:[1-9][0-9]*)`)

// signalProc is one running parley-signal process.
type signalProc struct {
	*proctest.Proc
	URL string
}

// startSignal runs parley-signal on 127.0.0.1:0 with extra flags and waits
// for its listen address. The process is killed in t.Cleanup if it is
// still running, and its log is shown when the test failed.
func startSignal(t *testing.T, args ...string) *signalProc {
	t.Helper()
	// Keep-alive connections to the dead process would otherwise linger as
	// goroutines until their reads fail. (Registered first, so it runs
	// after proctest has killed the process.)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	cmd := exec.Command(signalBin, append([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "off", "--log-level", "debug"}, args...)...)
	cmd.Env = cleanEnv()
	p := proctest.StartCmd(t, "parley-signal", cmd)
	line := p.WaitStderr(listenRE.String(), 1, timeout)
	return &signalProc{Proc: p, URL: "http://" + listenRE.FindStringSubmatch(line)[1]}
}

// cleanEnv is the test's environment without PARLEY_SIGNAL_* variables, so
// a developer's settings cannot change what the flags say.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARLEY_SIGNAL_") {
			env = append(env, kv)
		}
	}
	return env
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// testRoomKey is the room key of every room these tests create, as if
// all their links shared one secret; testVerifier is its public half.
var (
	testRoomKey  = protocol.RoomKey([]byte("signal-e2e-test!"))
	testVerifier = testRoomKey.Public().(ed25519.PublicKey)
)

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// join dials a sigclient into the room and consumes its Joined event.
func join(t *testing.T, url, roomID string, key ed25519.PrivateKey) (*sigclient.Client, sigclient.Joined) {
	t.Helper()
	c, err := sigclient.Dial(ctxT(t), sigclient.Config{ServerURL: url, RoomID: roomID, Key: key, RoomKey: testRoomKey})
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, expect[sigclient.Joined](t, c)
}

func expect[T sigclient.Event](t *testing.T, c *sigclient.Client) T {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		v, isT := ev.(T)
		if !ok || !isT {
			var zero T
			t.Fatalf("got event %T %+v (open=%v), want %T", ev, ev, ok, zero)
		}
		return v
	case <-time.After(timeout):
		t.Fatal("timed out waiting for an event")
		panic("unreachable")
	}
}

// expectPeer waits for a peer event of the given kind about key.
func expectPeer(t *testing.T, c *sigclient.Client, event string, key ed25519.PrivateKey) {
	t.Helper()
	pe := expect[sigclient.PeerEvent](t, c)
	if pe.Event != event || !bytes.Equal(pe.Key, key.Public().(ed25519.PublicKey)) {
		t.Fatalf("peer event %q for another key, want %q", pe.Event, event)
	}
}

// expectEnd waits for Closed with the given code.
func expectEnd(t *testing.T, c *sigclient.Client, code string) {
	t.Helper()
	cl := expect[sigclient.Closed](t, c)
	if !sigclient.IsCode(cl.Err, code) {
		t.Fatalf("Closed with %v, want %s", cl.Err, code)
	}
}

// relay sends s from one client and checks the other receives it intact.
func relay(t *testing.T, from, to *sigclient.Client, s protocol.Signal) {
	t.Helper()
	if err := from.Send(ctxT(t), s); err != nil {
		t.Fatalf("send: %v", err)
	}
	if got := expect[sigclient.SignalEvent](t, to).Signal; !reflect.DeepEqual(got, s) {
		t.Fatalf("relayed %+v, want %+v", got, s)
	}
}

// getStatus does GET /api/rooms/{id} by hand to see the raw status.
func getStatus(t *testing.T, url, id string) (int, protocol.ErrorResponse) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, url+"/api/rooms/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body protocol.ErrorResponse
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestRoomLifecycle(t *testing.T) {
	t.Parallel()
	p := startSignal(t)
	r, err := sigclient.CreateRoom(ctxT(t), nil, p.URL, 0, testVerifier)
	if err != nil {
		t.Fatal(err)
	}
	ka, kb := newKey(t), newKey(t)
	a, ja := join(t, p.URL, r.RoomID, ka)
	if ja.Peer != nil || ja.PeerOnline {
		t.Errorf("first joiner sees a peer: %+v", ja)
	}
	b, jb := join(t, p.URL, r.RoomID, kb)
	if !bytes.Equal(jb.Peer, ka.Public().(ed25519.PublicKey)) || !jb.PeerOnline {
		t.Errorf("second joiner does not see the first online: %+v", jb)
	}
	expectPeer(t, a, protocol.PeerJoined, kb)

	offer := protocol.Signal{Session: "1", Description: &protocol.SessionDescription{Type: "offer", SDP: "v=0\r\n"}}
	answer := protocol.Signal{Session: "1", Description: &protocol.SessionDescription{Type: "answer", SDP: "v=0\r\n"}}
	mid := "0"
	cand := protocol.Signal{Session: "1", Candidate: &protocol.ICECandidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", SDPMid: &mid}}
	relay(t, a, b, offer)
	relay(t, b, a, answer)
	relay(t, a, b, cand)
	relay(t, b, a, cand)

	// B leaves and comes back with the same key.
	b.Close()
	expectPeer(t, a, protocol.PeerLeft, kb)
	b, _ = join(t, p.URL, r.RoomID, kb)
	expectPeer(t, a, protocol.PeerRejoined, kb)
	relay(t, b, a, offer)

	if err := a.Destroy(ctxT(t)); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	expectEnd(t, a, protocol.CodeRoomDestroyed)
	expectEnd(t, b, protocol.CodeRoomDestroyed)
	if status, body := getStatus(t, p.URL, r.RoomID); status != http.StatusGone || body.Error != protocol.CodeRoomDestroyed {
		t.Errorf("GET after destroy = %d %q, want 410 ROOM_DESTROYED", status, body.Error)
	}
}

func TestSelfDestruct(t *testing.T) {
	t.Parallel()
	p := startSignal(t)
	r, err := sigclient.CreateRoom(ctxT(t), nil, p.URL, 2*time.Second, testVerifier)
	if err != nil {
		t.Fatal(err)
	}
	if r.ExpiresAt == nil || *r.ExpiresAt-r.CreatedAt != 2000 {
		t.Fatalf("create = %+v, want a 2 s timer", r)
	}
	a, _ := join(t, p.URL, r.RoomID, newKey(t))
	b, _ := join(t, p.URL, r.RoomID, newKey(t))
	expect[sigclient.PeerEvent](t, a)
	expectEnd(t, a, protocol.CodeTimerExpired)
	expectEnd(t, b, protocol.CodeTimerExpired)
	if status, body := getStatus(t, p.URL, r.RoomID); status != http.StatusGone || body.Error != protocol.CodeTimerExpired {
		t.Errorf("GET after expiry = %d %q, want 410 TIMER_EXPIRED", status, body.Error)
	}
}

func TestRoomRateLimit(t *testing.T) {
	t.Parallel()
	p := startSignal(t, "--rate-rooms", "2")
	for i := range 2 {
		if _, err := sigclient.CreateRoom(ctxT(t), nil, p.URL, 0, testVerifier); err != nil {
			t.Fatalf("create %d: %v", i+1, err)
		}
	}
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, p.URL+"/api/rooms", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body protocol.ErrorResponse
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || body.Error != protocol.CodeRateLimited || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third create = %d %q Retry-After=%q, want 429 RATE_LIMITED with Retry-After",
			resp.StatusCode, body.Error, resp.Header.Get("Retry-After"))
	}
	_, err = sigclient.CreateRoom(ctxT(t), nil, p.URL, 0, testVerifier)
	var e *sigclient.Error
	if !errors.As(err, &e) || e.Code != protocol.CodeRateLimited || e.RetryAfter <= 0 {
		t.Errorf("sigclient create = %v, want RATE_LIMITED with RetryAfter", err)
	}
}

func TestSIGTERM(t *testing.T) {
	t.Parallel()
	p := startSignal(t)
	r, err := sigclient.CreateRoom(ctxT(t), nil, p.URL, 0, testVerifier)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := join(t, p.URL, r.RoomID, newKey(t))
	b, _ := join(t, p.URL, r.RoomID, newKey(t))
	expect[sigclient.PeerEvent](t, a)

	start := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expectEnd(t, a, protocol.CodeShuttingDown)
	expectEnd(t, b, protocol.CodeShuttingDown)
	if code := p.Wait(5 * time.Second); code != 0 {
		t.Errorf("parley-signal exit status %d, want 0", code)
	}
	t.Logf("shutdown took %v", time.Since(start))
}
