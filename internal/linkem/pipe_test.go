package linkem

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)

func ms(f float64) time.Time { return t0.Add(time.Duration(f * float64(time.Millisecond))) }

// noLoss never drops; seq returns the given numbers in turn.
func noLoss() float64 { return 0.99 }

func seq(xs ...float64) func() float64 {
	i := 0
	return func() float64 { x := xs[i%len(xs)]; i++; return x }
}

// deliveries runs the pipe's clock forward in steps and records when each
// packet came out.
func deliveries(q *Pipe[int], until time.Time, step time.Duration) map[int]time.Time {
	got := map[int]time.Time{}
	var buf []int
	for now := t0; !now.After(until); now = now.Add(step) {
		buf = q.Deliver(now, buf[:0])
		for _, p := range buf {
			got[p] = now
		}
	}
	return got
}

func TestPipeSerialisesAtRateThenDelays(t *testing.T) {
	t.Parallel()
	// 1000 bytes take 1 ms at 8 Mbit/s; the bucket starts full (one MTU).
	q := NewPipe[int](Config{Rate: 8e6, Delay: 10 * time.Millisecond, Queue: 10000, MTU: 1000}, noLoss)
	for i := range 5 {
		if v := q.Offer(t0, i, 1000); v != Queued {
			t.Fatalf("packet %d: %v", i, v)
		}
	}
	if q.Queued() != 4000 {
		t.Fatalf("queued %d bytes, want 4000 (the first left at once)", q.Queued())
	}
	got := deliveries(q, ms(30), 100*time.Microsecond)
	for i := range 5 {
		want := ms(10 + float64(i))
		if d := got[i].Sub(want); d < 0 || d > 100*time.Microsecond {
			t.Errorf("packet %d delivered at %v, want %v", i, got[i].Sub(t0), want.Sub(t0))
		}
	}
	if q.Len() != 0 {
		t.Fatalf("%d packets left", q.Len())
	}
	s := q.Stats()
	if s.Delivered != 5 || s.DelivBytes != 5000 || s.MaxQueued != 4000 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPipeNextIsTheNextDelivery(t *testing.T) {
	t.Parallel()
	q := NewPipe[int](Config{Rate: 8e6, Delay: 10 * time.Millisecond, Queue: 10000, MTU: 1000}, noLoss)
	if _, ok := q.Next(); ok {
		t.Fatal("empty pipe has a next event")
	}
	q.Offer(t0, 1, 1000)
	q.Offer(t0, 2, 1000)
	for _, want := range []time.Time{ms(10), ms(11)} {
		next, ok := q.Next()
		if !ok || !next.Equal(want) {
			t.Fatalf("next %v %v, want %v", next.Sub(t0), ok, want.Sub(t0))
		}
		if got := q.Deliver(next.Add(-time.Nanosecond), nil); len(got) != 0 {
			t.Fatalf("delivered %v before it was due", got)
		}
		if got := q.Deliver(next, nil); len(got) != 1 {
			t.Fatalf("nothing delivered at %v", next.Sub(t0))
		}
	}
}

func TestPipeDropTail(t *testing.T) {
	t.Parallel()
	// Queue of 2500 bytes: after the first packet leaves, two fit, the
	// third (and fourth) are dropped; once one has left, one fits again.
	q := NewPipe[int](Config{Rate: 8e6, Queue: 2500, MTU: 1000}, noLoss)
	verdicts := []Verdict{}
	for i := range 4 {
		verdicts = append(verdicts, q.Offer(t0, i, 1000))
	}
	want := []Verdict{Queued, Queued, Queued, DroppedQueue}
	for i := range want {
		if verdicts[i] != want[i] {
			t.Fatalf("verdicts %v, want %v", verdicts, want)
		}
	}
	if v := q.Offer(ms(0.5), 4, 1000); v != DroppedQueue {
		t.Fatalf("half a packet time later: %v, want a drop", v)
	}
	if v := q.Offer(ms(1), 5, 1000); v != Queued {
		t.Fatalf("one packet time later: %v, want queued", v)
	}
	if s := q.Stats(); s.QueueDrops != 2 || s.MaxQueued != 2000 {
		t.Fatalf("stats %+v", s)
	}
	got := deliveries(q, ms(10), 50*time.Microsecond)
	if _, ok := got[3]; ok {
		t.Fatal("a dropped packet was delivered")
	}
	if len(got) != 4 {
		t.Fatalf("delivered %v", got)
	}
}

func TestPipeDefaultQueueIsOneBDP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  Config
		want int
	}{
		{Config{Rate: 100e6, Delay: 20 * time.Millisecond}, 500000},
		{Config{Rate: 1e6, Delay: time.Millisecond}, 64 << 10},
		{Config{}, 64 << 10},
		{Config{Rate: 100e6, Queue: 1234}, 1234},
	}
	for _, tt := range tests {
		if got := NewPipe[int](tt.cfg, noLoss).Config().Queue; got != tt.want {
			t.Errorf("%+v: queue %d, want %d", tt.cfg, got, tt.want)
		}
	}
}

func TestPipeLossAndMTU(t *testing.T) {
	t.Parallel()
	// Loss 0.25: the draws 0.1 and 0.2 drop, 0.3 and 0.9 pass.
	q := NewPipe[int](Config{Loss: 0.25, MTU: 1000}, seq(0.1, 0.3, 0.2, 0.9))
	got := []Verdict{}
	for i := range 4 {
		got = append(got, q.Offer(t0, i, 100))
	}
	got = append(got, q.Offer(t0, 9, 1001))
	want := []Verdict{DroppedLoss, Queued, DroppedLoss, Queued, DroppedMTU}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("verdicts %v, want %v", got, want)
		}
	}
	out := q.Deliver(t0, nil)
	if len(out) != 2 || out[0] != 1 || out[1] != 3 {
		t.Fatalf("delivered %v, want [1 3] at once (no rate, no delay)", out)
	}
	if s := q.Stats(); s.LossDrops != 2 || s.MTUDrops != 1 || s.Packets != 5 {
		t.Fatalf("stats %+v", s)
	}
}

// TestPipeLossRate checks the Bernoulli loss over many packets with a
// seeded generator: the drop fraction is near the setting.
func TestPipeLossRate(t *testing.T) {
	t.Parallel()
	x := uint64(1)
	lcg := func() float64 { // a fixed, deterministic sequence
		x = x*6364136223846793005 + 1442695040888963407
		return float64(x>>11) / (1 << 53)
	}
	q := NewPipe[int](Config{Loss: 0.01}, lcg)
	const n = 200000
	for i := range n {
		q.Offer(t0, i, 100)
		q.Deliver(t0, nil)
	}
	frac := float64(q.Stats().LossDrops) / n
	if math.Abs(frac-0.01) > 0.001 {
		t.Fatalf("dropped %.4f of packets, want 0.01", frac)
	}
}

func TestPipeSetAtRunTime(t *testing.T) {
	t.Parallel()
	t.Run("link down and up", func(t *testing.T) {
		q := NewPipe[int](Config{Delay: 5 * time.Millisecond}, seq(0.5))
		q.Offer(t0, 1, 100) // on the line before the link goes down
		q.Set(ms(1), Config{Delay: 5 * time.Millisecond, Loss: 1})
		if v := q.Offer(ms(2), 2, 100); v != DroppedLoss {
			t.Fatalf("link down: %v", v)
		}
		q.Set(ms(3), Config{Delay: 5 * time.Millisecond})
		if v := q.Offer(ms(4), 3, 100); v != Queued {
			t.Fatalf("link up: %v", v)
		}
		got := deliveries(q, ms(20), 100*time.Microsecond)
		if !got[1].Equal(ms(5)) || !got[3].Equal(ms(9)) || len(got) != 2 {
			t.Fatalf("delivered %v", got)
		}
	})
	t.Run("rate change applies to the waiting packets", func(t *testing.T) {
		// 1000-byte packets: 1 ms each at 8 Mbit/s, 4 ms at 2 Mbit/s.
		q := NewPipe[int](Config{Rate: 8e6, Queue: 100000, MTU: 1000}, noLoss)
		for i := range 4 {
			q.Offer(t0, i, 1000) // leave at 0, 1, 2, 3 ms at the first rate
		}
		q.Set(ms(1.5), Config{Rate: 2e6, Queue: 100000, MTU: 1000})
		got := deliveries(q, ms(40), 100*time.Microsecond)
		// Packet 2 had half its tokens at 1.5 ms; the other 500 bytes
		// take 2 ms at the new rate; packet 3 then takes 4 ms.
		want := map[int]time.Time{0: ms(0), 1: ms(1), 2: ms(3.5), 3: ms(7.5)}
		for p, w := range want {
			if d := got[p].Sub(w); d < 0 || d > 100*time.Microsecond {
				t.Errorf("packet %d at %v, want %v", p, got[p].Sub(t0), w.Sub(t0))
			}
		}
	})
	t.Run("a shorter delay does not reorder", func(t *testing.T) {
		q := NewPipe[int](Config{Delay: 10 * time.Millisecond}, noLoss)
		q.Offer(t0, 1, 100)
		q.Set(ms(1), Config{Delay: time.Millisecond})
		q.Offer(ms(1), 2, 100)
		out := q.Deliver(ms(10), nil)
		if len(out) != 2 || out[0] != 1 || out[1] != 2 {
			t.Fatalf("delivered %v at 10 ms, want [1 2]", out)
		}
	})
}

func TestParse(t *testing.T) {
	t.Parallel()
	base := Config{Rate: 1e6, Delay: time.Millisecond, MTU: 1500}
	tests := []struct {
		in      string
		want    Config
		wantErr bool
	}{
		{"rate=100M delay=20ms loss=0.5", Config{Rate: 100e6, Delay: 20 * time.Millisecond, Loss: 0.005, MTU: 1500}, false},
		{"rate=300k", Config{Rate: 300e3, Delay: time.Millisecond, MTU: 1500}, false},
		{"rate=1G queue=64k mtu=1400", Config{Rate: 1e9, Delay: time.Millisecond, Queue: 65536, MTU: 1400}, false},
		{"loss=100%", Config{Rate: 1e6, Delay: time.Millisecond, Loss: 1, MTU: 1500}, false},
		{"", base, false},
		{"rate", Config{}, true},
		{"speed=1M", Config{}, true},
		{"loss=101", Config{}, true},
		{"rate=-1", Config{}, true},
		{"mtu=5000", Config{}, true},
		{"delay=fast", Config{}, true},
	}
	for _, tt := range tests {
		got, err := Parse(base, tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("Parse(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && got != tt.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if tt.wantErr && got != base {
			t.Errorf("Parse(%q) changed the settings on error: %+v", tt.in, got)
		}
	}
	// String prints what Parse reads back.
	c := Config{Rate: 2e6, Delay: 20 * time.Millisecond, Loss: 0.01, Queue: 50000, MTU: 1500}
	if back, err := Parse(Config{}, c.String()); err != nil || back != c {
		t.Fatalf("Parse(%q) = %+v, %v", c.String(), back, err)
	}
}
