package linkem

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is the model of one bottleneck link; the same settings apply to
// each direction, each with its own queue and random loss.
type Config struct {
	// Rate is the link rate in bits per second of IP bytes; 0 is unlimited.
	Rate float64
	// Delay is the one-way propagation delay, added after the packet has
	// left the rate limiter.
	Delay time.Duration
	// Loss is the probability (0..1) that a packet is dropped on arrival,
	// independently of every other packet; 1 takes the link down.
	Loss float64
	// Queue is the drop-tail limit in bytes waiting for the rate limiter.
	// 0 picks one bandwidth-delay product (Rate x 2 x Delay), at least
	// 64 KiB.
	Queue int
	// MTU is the largest IP packet forwarded; bigger ones are dropped.
	// 0 means 1500.
	MTU int
}

// withDefaults fills the zero fields as documented on Config.
func (c Config) withDefaults() Config {
	if c.MTU == 0 {
		c.MTU = 1500
	}
	if c.Queue == 0 {
		c.Queue = max(int(c.Rate*2*c.Delay.Seconds()/8), 64<<10)
	}
	return c
}

// Validate reports settings the model cannot apply.
func (c Config) Validate() error {
	switch {
	case c.Rate < 0:
		return errors.New("linkem: rate must not be negative")
	case c.Delay < 0:
		return errors.New("linkem: delay must not be negative")
	case c.Loss < 0 || c.Loss > 1:
		return errors.New("linkem: loss must be between 0 and 100%")
	case c.Queue < 0:
		return errors.New("linkem: queue must not be negative")
	case c.MTU != 0 && (c.MTU < 68 || c.MTU > MaxMTU):
		return fmt.Errorf("linkem: mtu must be between 68 and %d", MaxMTU)
	}
	return nil
}

// MaxMTU is the largest MTU the emulator forwards (its packet buffers are
// this big).
const MaxMTU = 2000

// String prints the settings in the form Parse reads.
func (c Config) String() string {
	return fmt.Sprintf("rate=%s delay=%s loss=%g queue=%d mtu=%d",
		formatRate(c.Rate), c.Delay, c.Loss*100, c.Queue, c.MTU)
}

func formatRate(r float64) string {
	switch {
	case r == 0:
		return "0"
	case r >= 1e9 && r == float64(int64(r/1e9))*1e9:
		return strconv.FormatInt(int64(r/1e9), 10) + "G"
	case r >= 1e6 && r == float64(int64(r/1e6))*1e6:
		return strconv.FormatInt(int64(r/1e6), 10) + "M"
	case r >= 1e3 && r == float64(int64(r/1e3))*1e3:
		return strconv.FormatInt(int64(r/1e3), 10) + "k"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// Parse applies space-separated key=value settings to base: rate=100M
// (bits/s, suffix k, M or G), delay=20ms (one way), loss=0.5 (percent),
// queue=64k (bytes, suffix k or M; 0 is one bandwidth-delay product) and
// mtu=1500. Keys not given keep base's value.
func Parse(base Config, s string) (Config, error) {
	c := base
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return base, fmt.Errorf("linkem: %q is not key=value", f)
		}
		var err error
		switch k {
		case "rate":
			c.Rate, err = parseScaled(v, 1000)
		case "delay":
			c.Delay, err = time.ParseDuration(v)
		case "loss":
			var pct float64
			pct, err = strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
			c.Loss = pct / 100
		case "queue":
			var q float64
			q, err = parseScaled(v, 1024)
			c.Queue = int(q)
		case "mtu":
			c.MTU, err = strconv.Atoi(v)
		default:
			return base, fmt.Errorf("linkem: unknown setting %q", k)
		}
		if err != nil {
			return base, fmt.Errorf("linkem: %s: %w", k, err)
		}
	}
	if err := c.Validate(); err != nil {
		return base, err
	}
	return c, nil
}

// parseScaled reads a number with an optional k, M or G suffix.
func parseScaled(s string, unit float64) (float64, error) {
	mult := 1.0
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, s = unit, s[:n-1]
		case 'm', 'M':
			mult, s = unit*unit, s[:n-1]
		case 'g', 'G':
			mult, s = unit*unit*unit, s[:n-1]
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	return v * mult, err
}

// Stats counts what one direction did with the packets it was offered.
type Stats struct {
	Packets    uint64 `json:"packets"`    // offered
	Bytes      uint64 `json:"bytes"`      // offered
	Delivered  uint64 `json:"delivered"`  // handed to the far end
	DelivBytes uint64 `json:"delivBytes"` // handed to the far end
	LossDrops  uint64 `json:"lossDrops"`  // random loss
	QueueDrops uint64 `json:"queueDrops"` // drop-tail: the queue was full
	MTUDrops   uint64 `json:"mtuDrops"`   // bigger than the MTU
	MaxQueued  int    `json:"maxQueued"`  // most bytes ever waiting for the rate limiter
}

// Verdict is what Offer did with a packet.
type Verdict int

// The verdicts of Offer.
const (
	Queued Verdict = iota
	DroppedLoss
	DroppedQueue
	DroppedMTU
)

// Pipe is one direction of the link as a pure model: no I/O and no clock
// of its own (every call gets the time), randomness injected, so tests
// drive it deterministically. It is not safe for concurrent use.
//
// A packet offered at time t is dropped at random with probability Loss,
// dropped when it is bigger than the MTU or when the bytes already waiting
// plus its own exceed Queue (drop-tail); otherwise it waits in a FIFO for
// the token bucket (Rate, depth one MTU, so departures are serialised at
// the link rate), then travels Delay and is due for delivery.
type Pipe[P any] struct {
	cfg  Config
	rand func() float64

	// The FIFO waiting for tokens.
	queue  []entry[P]
	queued int // bytes in queue
	// The token bucket: tokens (bytes) as of at.
	tokens float64
	at     time.Time
	// Packets that left the bucket, in delivery order.
	line     []entry[P]
	lastDue  time.Time
	stats    Stats
	inFlight int // bytes on the delay line
}

type entry[P any] struct {
	p    P
	size int
	due  time.Time // delivery time (line only)
}

// NewPipe returns a pipe with cfg (see Config for zero values); rand
// returns uniform numbers in [0, 1) for the loss decisions.
func NewPipe[P any](cfg Config, rand func() float64) *Pipe[P] {
	cfg = cfg.withDefaults()
	return &Pipe[P]{cfg: cfg, rand: rand, tokens: float64(cfg.MTU)}
}

// Config returns the settings in force (zero values filled in).
func (q *Pipe[P]) Config() Config { return q.cfg }

// Stats returns the counters.
func (q *Pipe[P]) Stats() Stats { return q.stats }

// Queued returns the bytes waiting for the rate limiter.
func (q *Pipe[P]) Queued() int { return q.queued }

// Set changes the settings at now. Packets already waiting keep their
// place and leave at the new rate; packets already on the delay line keep
// their delivery time. A shorter queue limit drops nothing already queued.
func (q *Pipe[P]) Set(now time.Time, cfg Config) {
	q.advance(now)
	q.cfg = cfg.withDefaults()
	q.tokens = min(q.tokens, float64(q.cfg.MTU))
}

// Offer hands the pipe a packet of size bytes at now.
func (q *Pipe[P]) Offer(now time.Time, p P, size int) Verdict {
	q.advance(now)
	q.stats.Packets++
	q.stats.Bytes += uint64(size)
	if size > q.cfg.MTU {
		q.stats.MTUDrops++
		return DroppedMTU
	}
	if q.cfg.Loss > 0 && q.rand() < q.cfg.Loss {
		q.stats.LossDrops++
		return DroppedLoss
	}
	if q.queued+size > q.cfg.Queue {
		q.stats.QueueDrops++
		return DroppedQueue
	}
	q.queue = append(q.queue, entry[P]{p: p, size: size})
	q.queued += size
	q.stats.MaxQueued = max(q.stats.MaxQueued, q.queued)
	q.advance(now) // an idle link sends it at once
	return Queued
}

// advance moves every packet whose tokens were available by now from the
// queue to the delay line, at the exact time it got them.
func (q *Pipe[P]) advance(now time.Time) {
	if q.at.IsZero() {
		q.at = now
	}
	for len(q.queue) > 0 {
		head := q.queue[0]
		leave, ok := q.departure(head.size)
		if !ok || leave.After(now) {
			break
		}
		q.fill(leave)
		q.tokens -= float64(head.size)
		q.queue[0] = entry[P]{}
		q.queue = q.queue[1:]
		q.queued -= head.size
		due := leave.Add(q.cfg.Delay)
		if due.Before(q.lastDue) {
			due = q.lastDue // a shorter delay set at run time never reorders
		}
		q.lastDue = due
		head.due = due
		q.line = append(q.line, head)
		q.inFlight += head.size
	}
	// The head (if any) has fewer tokens than it needs by now, so the
	// bucket's state as of now is exact.
	q.fill(now)
}

// departure returns when the bucket holds size tokens, given the tokens
// as of q.at; ok is false when that never happens (rate 0 is unlimited,
// so only a packet bigger than the bucket, which Offer refuses).
func (q *Pipe[P]) departure(size int) (time.Time, bool) {
	if q.cfg.Rate == 0 {
		return q.at, true
	}
	need := float64(size) - q.tokens
	if need <= 0 {
		return q.at, true
	}
	return q.at.Add(time.Duration(need * 8e9 / q.cfg.Rate)), true
}

// fill adds the tokens earned from q.at until t (never beyond one MTU).
func (q *Pipe[P]) fill(t time.Time) {
	if t.Before(q.at) {
		return
	}
	if q.cfg.Rate == 0 {
		q.tokens = float64(q.cfg.MTU)
	} else {
		q.tokens = min(float64(q.cfg.MTU), q.tokens+t.Sub(q.at).Seconds()*q.cfg.Rate/8)
	}
	q.at = t
}

// Next returns when the next packet is due for delivery; ok is false when
// the pipe is empty.
func (q *Pipe[P]) Next() (at time.Time, ok bool) {
	if len(q.line) > 0 {
		return q.line[0].due, true
	}
	if len(q.queue) > 0 {
		leave, _ := q.departure(q.queue[0].size)
		return leave.Add(q.cfg.Delay), true
	}
	return time.Time{}, false
}

// Deliver appends to dst, in order, every packet due by now and returns it.
func (q *Pipe[P]) Deliver(now time.Time, dst []P) []P {
	q.advance(now)
	n := 0
	for n < len(q.line) && !q.line[n].due.After(now) {
		e := q.line[n]
		dst = append(dst, e.p)
		q.stats.Delivered++
		q.stats.DelivBytes += uint64(e.size)
		q.inFlight -= e.size
		q.line[n] = entry[P]{}
		n++
	}
	q.line = q.line[n:]
	return dst
}

// Len returns the packets held: waiting for the rate limiter or on the
// delay line.
func (q *Pipe[P]) Len() int { return len(q.queue) + len(q.line) }
