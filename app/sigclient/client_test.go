package sigclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/server"
)

func strp(s string) *string { return &s }
func u16p(v uint16) *uint16 { return &v }

// testSignals covers each shape of signal the app relays.
var testSignals = []struct {
	name string
	sig  protocol.Signal
}{
	{"offer", protocol.Signal{Session: "s1", Description: &protocol.SessionDescription{Type: "offer", SDP: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}},
	{"answer", protocol.Signal{Session: "s1", Description: &protocol.SessionDescription{Type: "answer", SDP: "v=0\r\n"}}},
	{"candidate", protocol.Signal{Session: "s1", Candidate: &protocol.ICECandidate{
		Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", SDPMid: strp("0"), SDPMLineIndex: u16p(0), UsernameFragment: strp("abcd"),
	}}},
	{"app", protocol.Signal{App: json.RawMessage(`"bye"`)}},
}

func TestJoinRelayLeaveRejoin(t *testing.T) {
	t.Parallel()
	ice := []protocol.ICEServer{{URLs: []string{"stun:stun.example.org:3478"}}}
	ts := startServer(t, func(c *server.Config) { c.ICEServers = ice })
	id := createRoom(t, ts.URL, 0)
	ka, kb := newKey(t), newKey(t)

	a, ja := join(t, ts.URL, id, ka, false)
	if ja.Peer != nil || ja.PeerOnline || ja.ExpiresAt != nil {
		t.Errorf("A joined = %+v, want no peer, no timer", ja)
	}
	if !reflect.DeepEqual(ja.ICEServers, ice) {
		t.Errorf("ICE servers = %+v, want %+v", ja.ICEServers, ice)
	}

	b, jb := join(t, ts.URL, id, kb, false)
	if !bytes.Equal(jb.Peer, pub(ka)) || !jb.PeerOnline {
		t.Errorf("B joined = %+v, want A online", jb)
	}
	if pe := expect[PeerEvent](t, a); pe.Event != protocol.PeerJoined || !bytes.Equal(pe.Key, pub(kb)) {
		t.Errorf("A got %+v, want B joined", pe)
	}

	info, err := GetRoom(ctxT(t), nil, ts.URL, id)
	if err != nil || info.Connected != 2 || info.RoomID != id {
		t.Errorf("GetRoom = %+v, %v; want 2 connected", info, err)
	}

	for _, tt := range testSignals {
		for _, dir := range []struct {
			name     string
			from, to *Client
		}{{"A to B", a, b}, {"B to A", b, a}} {
			if err := dir.from.Send(ctxT(t), tt.sig); err != nil {
				t.Fatalf("%s %s: Send: %v", tt.name, dir.name, err)
			}
			got := expect[SignalEvent](t, dir.to)
			if !reflect.DeepEqual(got.Signal, tt.sig) {
				t.Errorf("%s %s: got %+v, want %+v", tt.name, dir.name, got.Signal, tt.sig)
			}
		}
	}

	// B leaves on purpose: A sees it go, B's session ends cleanly.
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := expectClosed(t, b); err != nil {
		t.Errorf("B closed with %v, want nil", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.Send(ctxT(t), testSignals[3].sig); !isErrClosed(err) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	if pe := expect[PeerEvent](t, a); pe.Event != protocol.PeerLeft || !bytes.Equal(pe.Key, pub(kb)) {
		t.Errorf("A got %+v, want B left", pe)
	}

	// B comes back with the same key.
	b2, jb2 := join(t, ts.URL, id, kb, false)
	if !bytes.Equal(jb2.Peer, pub(ka)) || !jb2.PeerOnline {
		t.Errorf("B rejoined = %+v, want A online", jb2)
	}
	if pe := expect[PeerEvent](t, a); pe.Event != protocol.PeerRejoined || !bytes.Equal(pe.Key, pub(kb)) {
		t.Errorf("A got %+v, want B rejoined", pe)
	}
	if err := b2.Send(ctxT(t), testSignals[0].sig); err != nil {
		t.Fatal(err)
	}
	expect[SignalEvent](t, a)
}

func TestDialRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)

	full := createRoom(t, ts.URL, 0)
	join(t, ts.URL, full, newKey(t), false)
	join(t, ts.URL, full, newKey(t), false)

	destroyed := createRoom(t, ts.URL, 0)
	d, _ := join(t, ts.URL, destroyed, newKey(t), false)
	if err := d.Destroy(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	limited := startServer(t, func(c *server.Config) { c.RateJoins = 1 })
	lroom := createRoom(t, limited.URL, 0)
	join(t, limited.URL, lroom, newKey(t), false)

	shutting := startServer(t, nil)
	sroom := createRoom(t, shutting.URL, 0)
	if err := shutting.srv.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, url, room string
		key             []byte
		code            string
		retry           bool
	}{
		{name: "unknown room", url: ts.URL, room: "V1StGXR8_Z5jdHi6B-myT", code: protocol.CodeRoomNotFound},
		{name: "full room", url: ts.URL, room: full, code: protocol.CodeRoomFull},
		{name: "destroyed room", url: ts.URL, room: destroyed, code: protocol.CodeRoomDestroyed},
		{name: "malformed room id", url: ts.URL, room: "short", code: protocol.CodeBadRequest},
		{name: "join rate limit", url: limited.URL, room: lroom, code: protocol.CodeRateLimited, retry: true},
		{name: "server shutting down", url: shutting.URL, room: sroom, code: protocol.CodeShuttingDown, retry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Dial(ctxT(t), Config{ServerURL: tt.url, RoomID: tt.room, Key: newKey(t), RoomKey: testRoomKey, Logger: testLogger(t)})
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Fatalf("Dial error = %v, want code %s", err, tt.code)
			}
			if tt.retry && e.RetryAfter <= 0 {
				t.Errorf("RetryAfter = %v, want > 0", e.RetryAfter)
			}
		})
	}
}

func TestDialConfigErrors(t *testing.T) {
	t.Parallel()
	id := "V1StGXR8_Z5jdHi6B-myT"
	tests := []struct {
		name string
		cfg  Config
	}{
		{"bad scheme", Config{ServerURL: "ftp://x", RoomID: id, Key: newKey(t), RoomKey: testRoomKey}},
		{"no key", Config{ServerURL: "http://127.0.0.1:1", RoomID: id, RoomKey: testRoomKey}},
		{"no room key", Config{ServerURL: "http://127.0.0.1:1", RoomID: id, Key: newKey(t)}},
		{"unreachable", Config{ServerURL: "http://127.0.0.1:1", RoomID: id, Key: newKey(t), RoomKey: testRoomKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Dial(ctxT(t), tt.cfg)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
		})
	}
}

func TestDestroy(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	id := createRoom(t, ts.URL, 0)
	a, _ := join(t, ts.URL, id, newKey(t), false)
	b, _ := join(t, ts.URL, id, newKey(t), false)
	expect[PeerEvent](t, a)

	if err := a.Destroy(ctxT(t)); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	for name, c := range map[string]*Client{"A": a, "B": b} {
		if err := expectClosed(t, c); !IsCode(err, protocol.CodeRoomDestroyed) {
			t.Errorf("%s closed with %v, want ROOM_DESTROYED", name, err)
		}
	}
	if err := a.Send(ctxT(t), testSignals[3].sig); !isErrClosed(err) {
		t.Errorf("Send after destroy = %v, want ErrClosed", err)
	}
	if err := b.Destroy(ctxT(t)); !isErrClosed(err) {
		t.Errorf("second Destroy = %v, want ErrClosed", err)
	}
	if _, err := GetRoom(ctxT(t), nil, ts.URL, id); !IsCode(err, protocol.CodeRoomDestroyed) {
		t.Errorf("GetRoom after destroy = %v, want ROOM_DESTROYED", err)
	}
}

func TestSelfDestruct(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	r, err := CreateRoom(ctxT(t), nil, ts.URL, time.Second, pub(testRoomKey))
	if err != nil {
		t.Fatal(err)
	}
	if r.ExpiresAt == nil || *r.ExpiresAt-r.CreatedAt != 1000 {
		t.Fatalf("CreateRoom = %+v, want a 1 s timer", r)
	}
	a, ja := join(t, ts.URL, r.RoomID, newKey(t), true)
	if ja.ExpiresAt == nil || ja.ExpiresAt.UnixMilli() != *r.ExpiresAt {
		t.Errorf("Joined.ExpiresAt = %v, want %d", ja.ExpiresAt, *r.ExpiresAt)
	}
	b, _ := join(t, ts.URL, r.RoomID, newKey(t), true)
	expect[PeerEvent](t, a)
	// Reconnect is on, yet TIMER_EXPIRED is final.
	for name, c := range map[string]*Client{"A": a, "B": b} {
		if err := expectClosed(t, c); !IsCode(err, protocol.CodeTimerExpired) {
			t.Errorf("%s closed with %v, want TIMER_EXPIRED", name, err)
		}
	}
	if _, err := GetRoom(ctxT(t), nil, ts.URL, r.RoomID); !IsCode(err, protocol.CodeTimerExpired) {
		t.Errorf("GetRoom after expiry = %v, want TIMER_EXPIRED", err)
	}
}

func TestReplaced(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	id := createRoom(t, ts.URL, 0)
	k := newKey(t)
	old, _ := join(t, ts.URL, id, k, true)
	join(t, ts.URL, id, k, true)
	if err := expectClosed(t, old); !IsCode(err, protocol.CodeReplaced) {
		t.Errorf("old connection closed with %v, want REPLACED", err)
	}
}

func TestReconnectAfterTransportLoss(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	px := startProxy(t, ts.URL)
	id := createRoom(t, ts.URL, 0)
	ka, kb := newKey(t), newKey(t)
	a, _ := join(t, px.URL(), id, ka, true)
	b, _ := join(t, ts.URL, id, kb, false)
	expect[PeerEvent](t, a)

	// Cut A's connection and refuse new ones for a while: A retries with
	// growing attempts, and Send waits instead of failing.
	px.setDown(true)
	px.kill()
	for attempt := 1; attempt <= 3; attempt++ {
		r := expect[Reconnecting](t, a)
		if r.Attempt != attempt || r.Err == nil || r.Delay < 0 || r.Delay > backoffMax {
			t.Fatalf("Reconnecting = %+v, want attempt %d", r, attempt)
		}
	}
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := a.Send(short, testSignals[3].sig); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send while disconnected = %v, want deadline exceeded", err)
	}
	px.setDown(false)

	var j Joined
	for {
		ev := next(t, a)
		if r, ok := ev.(Reconnecting); ok {
			if r.Attempt > 20 {
				t.Fatalf("still reconnecting: %+v", r)
			}
			continue
		}
		var ok bool
		if j, ok = ev.(Joined); !ok {
			t.Fatalf("got %T %+v, want Joined", ev, ev)
		}
		break
	}
	if !j.Reconnected || !j.PeerOnline || !bytes.Equal(j.Peer, pub(kb)) {
		t.Errorf("Joined after reconnect = %+v", j)
	}
	// B saw A go and come back.
	if pe := expect[PeerEvent](t, b); pe.Event != protocol.PeerLeft {
		t.Errorf("B got %+v, want left", pe)
	}
	if pe := expect[PeerEvent](t, b); pe.Event != protocol.PeerRejoined || !bytes.Equal(pe.Key, pub(ka)) {
		t.Errorf("B got %+v, want A rejoined", pe)
	}
	// Relay works both ways on the new connection.
	if err := a.Send(ctxT(t), testSignals[0].sig); err != nil {
		t.Fatal(err)
	}
	expect[SignalEvent](t, b)
	if err := b.Send(ctxT(t), testSignals[1].sig); err != nil {
		t.Fatal(err)
	}
	expect[SignalEvent](t, a)

	// Close ends the session cleanly even with Reconnect set.
	a.Close()
	if err := expectClosed(t, a); err != nil {
		t.Errorf("Closed = %v, want nil", err)
	}
}

func TestTransportLossWithoutReconnect(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	px := startProxy(t, ts.URL)
	id := createRoom(t, ts.URL, 0)
	a, _ := join(t, px.URL(), id, newKey(t), false)
	px.kill()
	err := expectClosed(t, a)
	var e *Error
	if err == nil || errors.As(err, &e) {
		t.Errorf("Closed = %v, want a transport error", err)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	for _, reconnect := range []bool{false, true} {
		t.Run(map[bool]string{false: "no reconnect", true: "reconnect"}[reconnect], func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, nil)
			id := createRoom(t, ts.URL, 0)
			a, _ := join(t, ts.URL, id, newKey(t), reconnect)
			if err := ts.srv.Shutdown(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if !reconnect {
				err := expectClosed(t, a)
				var e *Error
				if !errors.As(err, &e) || e.Code != protocol.CodeShuttingDown || e.RetryAfter != time.Second {
					t.Errorf("Closed = %v, want SHUTTING_DOWN with RetryAfter 1s", err)
				}
				return
			}
			r := expect[Reconnecting](t, a)
			if r.Attempt != 1 || !IsCode(r.Err, protocol.CodeShuttingDown) || r.Delay < time.Second {
				t.Errorf("Reconnecting = %+v, want attempt 1 after SHUTTING_DOWN, delay >= 1s", r)
			}
			// Close during the backoff wait ends the session at once.
			start := time.Now()
			a.Close()
			if err := expectClosed(t, a); err != nil {
				t.Errorf("Closed = %v, want nil", err)
			}
			// Not a speed limit: Close must not sit out the backoff.
			if d := time.Since(start); d >= r.Delay {
				t.Errorf("Close took %v, the whole %v backoff", d, r.Delay)
			}
		})
	}
}

// A server restart loses in-memory rooms. Both participants rejoin the
// restarted server (same ticket key, empty registry) with the room ticket
// they were given, get their room back, and relay again; a later Dial with
// a saved ticket (the app restarted too) works the same way.
func TestRejoinRestartedServer(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{5}, server.TicketKeySize)
	withKey := func(c *server.Config) { c.TicketKey = key }
	first := startServer(t, withKey)
	px := startProxy(t, first.URL)
	id := createRoom(t, first.URL, time.Hour)
	ka, kb := newKey(t), newKey(t)
	a, ja := join(t, px.URL(), id, ka, true)
	b, jb := join(t, px.URL(), id, kb, true)
	expect[PeerEvent](t, a)
	if ja.Ticket == "" || jb.Ticket == "" {
		t.Fatalf("no ticket in Joined: %q %q", ja.Ticket, jb.Ticket)
	}

	second := startServer(t, withKey) // the restarted server: no rooms
	px.retarget(second.URL)
	if err := first.srv.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	rejoined := func(c *Client) Joined {
		t.Helper()
		for {
			switch ev := next(t, c).(type) {
			case Reconnecting:
				if ev.Attempt > 20 {
					t.Fatalf("still reconnecting: %+v", ev)
				}
			case Joined:
				return ev
			case PeerEvent:
				// the peer may come back first
			default:
				t.Fatalf("got %T %+v, want Joined", ev, ev)
			}
		}
	}
	ra, rb := rejoined(a), rejoined(b)
	if !ra.Reconnected || !rb.Reconnected || ra.ExpiresAt == nil || !ra.ExpiresAt.Equal(*ja.ExpiresAt) {
		t.Fatalf("rejoined: %+v / %+v", ra, rb)
	}
	if err := a.Send(ctxT(t), testSignals[0].sig); err != nil {
		t.Fatal(err)
	}
	for {
		if _, ok := next(t, b).(SignalEvent); ok {
			break
		}
	}

	// The app restarts as well: a new Dial carrying the saved ticket gets
	// the room back from yet another restart.
	a.Close()
	b.Close()
	for _, c := range []*Client{a, b} {
		for range c.Events() { // drain: the peer's "left" may come first
		}
	}
	third := startServer(t, withKey)
	if _, err := Dial(ctxT(t), Config{ServerURL: third.URL, RoomID: id, Key: ka, RoomKey: testRoomKey}); !IsCode(err, protocol.CodeRoomNotFound) {
		t.Fatalf("Dial without ticket = %v, want ROOM_NOT_FOUND", err)
	}
	c, err := Dial(ctxT(t), Config{ServerURL: third.URL, RoomID: id, Key: ka, RoomKey: testRoomKey, Ticket: rb.Ticket})
	if err != nil {
		t.Fatalf("Dial with ticket: %v", err)
	}
	if j := expect[Joined](t, c); j.ExpiresAt == nil || !j.ExpiresAt.Equal(*ja.ExpiresAt) {
		t.Fatalf("Joined = %+v", j)
	}
	c.Close()
	expectClosed(t, c)
}
