package chat

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recorder is a Handler that records everything and can be told to fail
// Receive.
type recorder struct {
	mu        sync.Mutex
	received  []Message
	delivered []string
	typing    int
	read      []string
	failNext  int // Receive fails this many more times
	events    chan string
}

func newRecorder() *recorder { return &recorder{events: make(chan string, 1024)} }

func (r *recorder) Receive(m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failNext > 0 {
		r.failNext--
		r.events <- "receive-failed:" + m.ID
		return errors.New("disk full")
	}
	r.received = append(r.received, m)
	r.events <- "receive:" + m.ID
	return nil
}

func (r *recorder) Delivered(id string) {
	r.mu.Lock()
	r.delivered = append(r.delivered, id)
	r.mu.Unlock()
	r.events <- "delivered:" + id
}

func (r *recorder) Typing() {
	r.mu.Lock()
	r.typing++
	r.mu.Unlock()
	r.events <- "typing"
}

func (r *recorder) Read(id string) {
	r.mu.Lock()
	r.read = append(r.read, id)
	r.mu.Unlock()
	r.events <- "read:" + id
}

func (r *recorder) wait(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-r.events:
			if ev == want {
				return
			}
		case <-timeout:
			t.Fatalf("timed out waiting for event %q", want)
		}
	}
}

// next fails unless the next event is want. After a frame that must have
// no effect, the test sends a marker frame down the same ordered stream
// and waits for it with next: an effect of the first frame would have come
// before the marker's, so nothing happened, proved without a sleep.
func (r *recorder) next(t *testing.T, want string) {
	t.Helper()
	select {
	case ev := <-r.events:
		if ev != want {
			t.Fatalf("event %q before %q", ev, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for event %q", want)
	}
}

type side struct {
	conn *Conn
	rec  *recorder
	errc chan error
}

// pair connects two Conns over net.Pipe and runs both; cleanup stops them.
func pair(t *testing.T) (a, b side) {
	t.Helper()
	pa, pb := net.Pipe()
	mk := func(rw io.ReadWriteCloser) side {
		rec := newRecorder()
		s := side{conn: NewConn(rw, rec, nil), rec: rec, errc: make(chan error, 1)}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { s.errc <- s.conn.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			<-s.errc
		})
		return s
	}
	return mk(pa), mk(pb)
}

func TestSendBothDirections(t *testing.T) {
	t.Parallel()
	a, b := pair(t)

	tests := []struct {
		name     string
		from, to side
		text     string
	}{
		{"a to b", a, b, "hello"},
		{"b to a", b, a, "héllo wörld ✓"},
		{"empty", a, b, ""},
		{"max size", b, a, strings.Repeat("x", MaxTextBytes)},
		{"escapes", a, b, strings.Repeat("<\x01>", 1000)},
	}
	for _, tt := range tests {
		m, err := tt.from.conn.Send(tt.text)
		if err != nil {
			t.Fatalf("%s: Send: %v", tt.name, err)
		}
		tt.to.rec.wait(t, "receive:"+m.ID)
		tt.from.rec.wait(t, "delivered:"+m.ID)
		tt.to.rec.mu.Lock()
		got := tt.to.rec.received[len(tt.to.rec.received)-1]
		tt.to.rec.mu.Unlock()
		if got.Text != tt.text || got.ID != m.ID || !got.SentAt.Equal(m.SentAt) {
			t.Errorf("%s: got %q/%s/%v, want %q/%s/%v", tt.name, trunc(got.Text), got.ID, got.SentAt, trunc(tt.text), m.ID, m.SentAt)
		}
	}
}

func trunc(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

func TestConcurrentSendsBothWaysDoNotDeadlock(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	const n = 200
	var wg sync.WaitGroup
	for _, s := range []side{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if _, err := s.conn.Send("m"); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for _, s := range []side{a, b} {
		for {
			s.rec.mu.Lock()
			done := len(s.rec.delivered) == n && len(s.rec.received) == n
			s.rec.mu.Unlock()
			if done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("not all messages delivered and acked")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestNoAckWhenReceiveFails(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	b.rec.mu.Lock()
	b.rec.failNext = 1
	b.rec.mu.Unlock()

	m, err := a.conn.Send("first")
	if err != nil {
		t.Fatal(err)
	}
	b.rec.wait(t, "receive-failed:"+m.ID)
	// b acks in the order it receives: the marker's ack comes first, so
	// there was none for m.
	marker, err := a.conn.Send("marker")
	if err != nil {
		t.Fatal(err)
	}
	a.rec.next(t, "delivered:"+marker.ID)

	// The resend with the same id succeeds and is acked.
	if err := a.conn.SendWithID(m); err != nil {
		t.Fatal(err)
	}
	b.rec.wait(t, "receive:"+m.ID)
	a.rec.wait(t, "delivered:"+m.ID)
}

func TestDuplicateResendIsReacked(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	m, err := a.conn.Send("once")
	if err != nil {
		t.Fatal(err)
	}
	b.rec.wait(t, "receive:"+m.ID)
	a.rec.wait(t, "delivered:"+m.ID)
	if err := a.conn.SendWithID(m); err != nil {
		t.Fatal(err)
	}
	b.rec.wait(t, "receive:"+m.ID) // the store sees it again and dedups
	a.rec.wait(t, "delivered:"+m.ID)
}

func TestTypingAndRead(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	a.conn.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	if err := a.conn.SendTyping(); err != nil {
		t.Fatal(err)
	}
	b.rec.wait(t, "typing")
	advance(time.Second)
	if err := a.conn.SendTyping(); err != nil { // dropped: within 2 s
		t.Fatal(err)
	}
	// A read marker sent after it arrives first: no typing frame was sent.
	if err := a.conn.SendRead("marker"); err != nil {
		t.Fatal(err)
	}
	b.rec.next(t, "read:marker")
	advance(TypingInterval)
	if err := a.conn.SendTyping(); err != nil {
		t.Fatal(err)
	}
	b.rec.wait(t, "typing")

	if err := b.conn.SendRead("abc_DEF-123"); err != nil {
		t.Fatal(err)
	}
	a.rec.wait(t, "read:abc_DEF-123")
}

func TestSendRejectsBadInput(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"too long", func() error { _, err := a.conn.Send(strings.Repeat("é", MaxTextBytes/2+1)); return err }, ErrTooLong},
		{"invalid utf8", func() error { _, err := a.conn.Send("a\xffb"); return err }, ErrInvalidText},
		{"resend too long", func() error {
			return a.conn.SendWithID(Message{ID: "abc", Text: strings.Repeat("x", MaxTextBytes+1)})
		}, ErrTooLong},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := a.conn.SendWithID(Message{ID: "bad id!", Text: "x"}); err == nil {
		t.Error("SendWithID with a bad id: no error")
	}
	if err := a.conn.SendRead(""); err == nil {
		t.Error("SendRead with an empty id: no error")
	}
}

func rawFrame(body string) []byte {
	b := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(b, uint32(len(body)))
	copy(b[4:], body)
	return b
}

func TestGarbageEndsConnWithError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		bytes []byte
	}{
		{"not json", rawFrame("hello")},
		{"zero length", []byte{0, 0, 0, 0}},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff}},
		{"bad id", rawFrame(`{"t":"msg","id":"../../etc","text":"x"}`)},
		{"missing id", rawFrame(`{"t":"ack"}`)},
		{"no type", rawFrame(`{"id":"abc"}`)},
		{"text too long", rawFrame(`{"t":"msg","id":"abc","text":"` + strings.Repeat("x", MaxTextBytes+1) + `"}`)},
		{"invalid utf8", rawFrame("{\"t\":\"msg\",\"id\":\"abc\",\"text\":\"\xff\"}")},
		{"truncated body", rawFrame(`{"t":"typing"}`)[:8]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pa, pb := net.Pipe()
			rec := newRecorder()
			c := NewConn(pa, rec, nil)
			errc := make(chan error, 1)
			go func() { errc <- c.Run(context.Background()) }()
			go func() {
				_, _ = pb.Write(tt.bytes)
				_ = pb.Close()
			}()
			select {
			case err := <-errc:
				if err == nil || errors.Is(err, ErrClosed) {
					t.Fatalf("Run returned %v, want a protocol or stream error", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return")
			}
			if len(rec.received) != 0 {
				t.Fatal("garbage produced a message")
			}
		})
	}
}

func TestUnknownFrameTypeIgnored(t *testing.T) {
	t.Parallel()
	pa, pb := net.Pipe()
	rec := newRecorder()
	c := NewConn(pa, rec, nil)
	errc := make(chan error, 1)
	go func() { errc <- c.Run(context.Background()) }()
	t.Cleanup(func() { _ = c.Close(); <-errc; _ = pb.Close() })
	if _, err := pb.Write(rawFrame(`{"t":"reaction","id":"abc"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := pb.Write(rawFrame(`{"t":"typing"}`)); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "typing")
}

func TestPeerTimestampClamped(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		ms   int64
		want time.Time
	}{
		{"plausible", now.Add(-time.Hour).UnixMilli(), now.Add(-time.Hour)},
		{"zero", 0, now},
		{"negative", -5, now},
		{"far future", now.Add(48 * time.Hour).UnixMilli(), now},
		{"slightly ahead", now.Add(time.Minute).UnixMilli(), now.Add(time.Minute)},
	}
	for _, tt := range tests {
		if got := sentAt(tt.ms, now); !got.Equal(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCloseAndCancelStopRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		stop func(c *Conn, cancel context.CancelFunc)
		want error
	}{
		{"close", func(c *Conn, _ context.CancelFunc) { _ = c.Close() }, ErrClosed},
		{"cancel", func(_ *Conn, cancel context.CancelFunc) { cancel() }, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pa, pb := net.Pipe()
			t.Cleanup(func() { _ = pb.Close() })
			c := NewConn(pa, newRecorder(), nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- c.Run(ctx) }()
			tt.stop(c, cancel)
			select {
			case err := <-errc:
				if !errors.Is(err, tt.want) {
					t.Fatalf("Run: got %v, want %v", err, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return")
			}
			if _, err := c.Send("late"); !errors.Is(err, ErrClosed) {
				t.Fatalf("Send after stop: got %v, want ErrClosed", err)
			}
		})
	}
}

func TestPeerHangupEndsRun(t *testing.T) {
	t.Parallel()
	pa, pb := net.Pipe()
	c := NewConn(pa, newRecorder(), nil)
	errc := make(chan error, 1)
	go func() { errc <- c.Run(context.Background()) }()
	_ = pb.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("Run: got %v, want EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

// TestGoodbyeFlushesAcks: after the receiver's Goodbye returns, the
// sender has the acks of everything the receiver handled, so a receiver
// that exits right after its last message loses no ack.
func TestGoodbyeFlushesAcks(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	var ids []string
	for i := 0; i < 50; i++ {
		m, err := a.conn.Send("m")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	for _, id := range ids {
		b.rec.wait(t, "receive:"+id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.conn.Goodbye(ctx); err != nil {
		t.Fatalf("Goodbye: %v", err)
	}
	a.rec.mu.Lock()
	got := len(a.rec.delivered)
	a.rec.mu.Unlock()
	if got != len(ids) {
		t.Fatalf("sender has %d acks after the receiver's goodbye, want %d", got, len(ids))
	}
}

func TestGoodbyeGivesUpWhenPeerIsGone(t *testing.T) {
	t.Parallel()
	pa, pb := net.Pipe()
	c := NewConn(pa, newRecorder(), nil)
	errc := make(chan error, 1)
	go func() { errc <- c.Run(context.Background()) }()
	pb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Goodbye(ctx); err == nil {
		t.Fatal("Goodbye succeeded without a peer")
	}
	c.Close()
	<-errc
}
