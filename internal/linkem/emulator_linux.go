package linkem

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Emulator forwards IP packets between two TUN devices through one Pipe
// per direction (see the package doc).
type Emulator struct {
	a, b   *os.File
	names  [2]string
	dirs   [2]*direction
	mu     sync.Mutex // guards cfg
	cfg    Config
	closed atomic.Bool
}

// direction is one way through the link: a reader that offers packets to
// the pipe and a writer that delivers them when due.
type direction struct {
	in, out *os.File
	mu      sync.Mutex // guards pipe
	pipe    *Pipe[*packet]
	idle    atomic.Bool   // the writer waits on kick
	kick    chan struct{} // wakes an idle writer
	pool    *sync.Pool
}

type packet struct {
	n   int
	buf [MaxMTU + 1]byte // one spare byte: a read that fills it was too big
}

// maxSleep bounds one sleep of a writer, so a change of settings (or
// Close) takes effect within it.
const maxSleep = 5 * time.Millisecond

// Open creates the TUN devices nameA and nameB (at most 15 bytes each) in
// the caller's network namespace. They are not persistent: they vanish
// when the emulator closes them. seed seeds the loss decisions.
func Open(nameA, nameB string, cfg Config, seed uint64) (*Emulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a, err := openTUN(nameA)
	if err != nil {
		return nil, err
	}
	b, err := openTUN(nameB)
	if err != nil {
		a.Close()
		return nil, err
	}
	e := &Emulator{a: a, b: b, names: [2]string{nameA, nameB}, cfg: cfg.withDefaults()}
	pool := &sync.Pool{New: func() any { return new(packet) }}
	for i, io := range [][2]*os.File{{a, b}, {b, a}} {
		rng := rand.New(rand.NewPCG(seed, uint64(i+1)))
		e.dirs[i] = &direction{in: io[0], out: io[1], pipe: NewPipe[*packet](cfg, rng.Float64),
			kick: make(chan struct{}, 1), pool: pool}
	}
	return e, nil
}

// openTUN opens a TUN device (IP packets, no packet information header)
// as a non-blocking file, so reads wait in Go's poller.
func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("linkem: open /dev/net/tun: %w", err)
	}
	req, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("linkem: device name %q: %w", name, err)
	}
	req.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, req); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("linkem: create TUN %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// Names returns the two devices' names.
func (e *Emulator) Names() (a, b string) { return e.names[0], e.names[1] }

// Config returns the settings in force.
func (e *Emulator) Config() Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg
}

// Set changes the settings of both directions now (see Pipe.Set).
func (e *Emulator) Set(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	e.mu.Lock()
	e.cfg = cfg.withDefaults()
	e.mu.Unlock()
	now := time.Now()
	for _, d := range e.dirs {
		d.mu.Lock()
		d.pipe.Set(now, cfg)
		d.mu.Unlock()
		d.wake()
	}
	return nil
}

// Stats returns the counters of the a->b and b->a directions.
func (e *Emulator) Stats() (ab, ba Stats) {
	var s [2]Stats
	for i, d := range e.dirs {
		d.mu.Lock()
		s[i] = d.pipe.Stats()
		d.mu.Unlock()
	}
	return s[0], s[1]
}

// Run forwards packets until ctx ends, then closes the devices.
func (e *Emulator) Run(ctx context.Context) error {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, d := range e.dirs {
		wg.Add(2)
		go func() { defer wg.Done(); errs <- d.read() }()
		go func() { defer wg.Done(); d.write(stop) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	close(stop)
	e.Close()
	for _, d := range e.dirs {
		d.wake()
	}
	wg.Wait()
	return err
}

// Close closes the devices (Run closes them itself when it ends).
func (e *Emulator) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	return errors.Join(e.a.Close(), e.b.Close())
}

func (d *direction) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// read offers every packet read from in to the pipe. It ends when the
// device is closed.
func (d *direction) read() error {
	for {
		p := d.pool.Get().(*packet)
		n, err := d.in.Read(p.buf[:])
		if err != nil {
			d.pool.Put(p)
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("linkem: read %s: %w", d.in.Name(), err)
		}
		p.n = n
		d.mu.Lock()
		v := d.pipe.Offer(time.Now(), p, n)
		d.mu.Unlock()
		if v != Queued {
			d.pool.Put(p)
			continue
		}
		if d.idle.Load() {
			d.wake()
		}
	}
}

// write delivers packets when they are due, on a locked OS thread that
// sleeps with nanosleep and a 1 ns timer slack.
func (d *direction) write(stop <-chan struct{}) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	var due []*packet
	for {
		select {
		case <-stop:
			return
		default:
		}
		d.mu.Lock()
		now := time.Now()
		due = d.pipe.Deliver(now, due[:0])
		next, ok := d.pipe.Next()
		if !ok {
			d.idle.Store(true)
		}
		d.mu.Unlock()
		for i, p := range due {
			_, _ = d.out.Write(p.buf[:p.n]) // a device that went away drops it, like a wire
			d.pool.Put(p)
			due[i] = nil
		}
		if !ok {
			select {
			case <-d.kick:
			case <-stop:
			}
			d.idle.Store(false)
			continue
		}
		if wait := min(time.Until(next), maxSleep); wait > 0 {
			ts := unix.NsecToTimespec(int64(wait))
			for unix.Nanosleep(&ts, &ts) == unix.EINTR {
			}
		}
	}
}
