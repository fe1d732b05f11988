package sigclient

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/server"
	"github.com/parley-chat/parley/signaling/server/servertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// eventTimeout bounds every wait for an event; generous for -race on a
// busy 2-core machine.
const eventTimeout = 10 * time.Second

// testServer is a real parley-signal server (servertest: server + room
// registry on a loopback listener).
type testServer struct {
	URL string
	srv *server.Server
	hs  *httptest.Server
}

// startServer starts a server with the rate limits off unless mod turns
// them on again.
func startServer(t *testing.T, mod func(*server.Config)) *testServer {
	t.Helper()
	s := servertest.New(t, servertest.Options{Config: mod, Logger: testLogger(t)})
	return &testServer{URL: s.URL, srv: s.Server, hs: s.HTTP}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// testRoomKey is the room key of every room the tests create, as if all
// their links shared one secret.
var testRoomKey = protocol.RoomKey([]byte("sigclient-test-s"))

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), eventTimeout)
	t.Cleanup(cancel)
	return ctx
}

func createRoom(t *testing.T, url string, selfDestruct time.Duration) string {
	t.Helper()
	r, err := CreateRoom(ctxT(t), nil, url, selfDestruct, pub(testRoomKey))
	if err != nil {
		t.Fatalf("CreateRoom: %v", err)
	}
	return r.RoomID
}

// join dials and returns the client with its first event, the Joined.
func join(t *testing.T, url, roomID string, key ed25519.PrivateKey, reconnect bool) (*Client, Joined) {
	t.Helper()
	c, err := Dial(ctxT(t), Config{ServerURL: url, RoomID: roomID, Key: key, RoomKey: testRoomKey, Logger: testLogger(t), Reconnect: reconnect})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	j := expect[Joined](t, c)
	if j.Reconnected {
		t.Error("first Joined has Reconnected set")
	}
	return c, j
}

// next returns the client's next event.
func next(t *testing.T, c *Client) Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatal("Events closed")
		}
		return ev
	case <-time.After(eventTimeout):
		t.Fatal("timed out waiting for an event")
		return nil
	}
}

// expect returns the next event, which must be a T.
func expect[T Event](t *testing.T, c *Client) T {
	t.Helper()
	ev := next(t, c)
	v, ok := ev.(T)
	if !ok {
		var zero T
		t.Fatalf("got event %T %+v, want %T", ev, ev, zero)
	}
	return v
}

// expectClosed waits for the final event and checks that Events is then
// closed. It returns the Closed's error.
func expectClosed(t *testing.T, c *Client) error {
	t.Helper()
	cl := expect[Closed](t, c)
	select {
	case ev, ok := <-c.Events():
		if ok {
			t.Fatalf("event %T after Closed", ev)
		}
	case <-time.After(eventTimeout):
		t.Fatal("Events not closed after Closed")
	}
	return cl.Err
}

// proxy is a TCP forwarder the test controls: kill cuts every connection
// through it (transport loss, as when Wi-Fi drops), and while down it
// refuses new connections by closing them at once.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	down  bool
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, targetURL string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: targetURL[len("http://"):], conns: make(map[net.Conn]struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.kill()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		u, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		p.track(c, u)
		p.wg.Go(func() { p.pipe(u, c) })
		p.wg.Go(func() { p.pipe(c, u) })
	}
}

func (p *proxy) track(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// kill closes every connection currently through the proxy.
func (p *proxy) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// retarget sends new connections to another server (an http:// URL).
func (p *proxy) retarget(url string) {
	p.mu.Lock()
	p.target = url[len("http://"):]
	p.mu.Unlock()
}

// setDown makes the proxy refuse (true) or forward (false) new connections.
func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

// isErrClosed reports whether err is, or wraps, ErrClosed.
func isErrClosed(err error) bool { return errors.Is(err, ErrClosed) }
