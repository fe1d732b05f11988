package transfer

import (
	"time"
)

// Progress describes one transfer at one moment. Events for a transfer
// come in order, Bytes never decreases, and the last one has Done set
// (with Err nil on success).
type Progress struct {
	// ID is the transfer id (stable for the same name, size and content).
	ID string
	// Name is the base name on the sending side and the sanitized name on
	// the receiving side.
	Name string
	// Outgoing is true on the sending side.
	Outgoing bool
	// Bytes of Total are confirmed so far (sent, or written on the
	// receiver). A resumed transfer starts at the resume offset.
	Bytes, Total int64
	// Rate is a smoothed rate in bytes per second; ETA derives from it
	// (zero while unknown).
	Rate float64
	ETA  time.Duration
	// Done marks the last event of a transfer; Err says why it failed.
	Done bool
	Err  error
	// Path is the final path of a verified received file (or folder).
	Path string
	// Folder marks a whole folder: Bytes and Total then count all its
	// files, FilesDone of Files are complete, and Skipped symbolic links
	// and special files were left out by the sender. The files of a folder
	// have no progress events of their own.
	Folder           bool
	Files, FilesDone int
	Skipped          int
}

// progressInterval is the minimum time between two progress events of
// one transfer (the first and the last are always sent).
const progressInterval = 100 * time.Millisecond

// tracker throttles progress events of one transfer and smooths its rate.
// It is used from one goroutine at a time (or under a lock); the caller
// emits the events it returns outside any lock.
type tracker struct {
	p   Progress
	now func() time.Time

	started   bool
	lastEmit  time.Time
	lastBytes int64
	lastTime  time.Time
}

func newTracker(p Progress, now func() time.Time) *tracker {
	return &tracker{p: p, now: now}
}

// update records the new byte count and returns an event when one is due.
func (t *tracker) update(bytes int64) (Progress, bool) {
	t.p.Bytes = bytes
	now := t.now()
	if !t.started {
		t.started = true
		t.lastTime, t.lastBytes = now, bytes
		t.lastEmit = now
		return t.p, true
	}
	if now.Sub(t.lastEmit) < progressInterval {
		return Progress{}, false
	}
	t.measure(now)
	t.lastEmit = now
	return t.p, true
}

// measure folds the rate since the last measurement into the smoothed rate.
func (t *tracker) measure(now time.Time) {
	dt := now.Sub(t.lastTime).Seconds()
	if dt <= 0 {
		return
	}
	inst := float64(t.p.Bytes-t.lastBytes) / dt
	if t.p.Rate == 0 {
		t.p.Rate = inst
	} else {
		const alpha = 0.3
		t.p.Rate = alpha*inst + (1-alpha)*t.p.Rate
	}
	t.lastTime, t.lastBytes = now, t.p.Bytes
	t.p.ETA = 0
	if t.p.Rate > 0 {
		t.p.ETA = time.Duration(float64(t.p.Total-t.p.Bytes) / t.p.Rate * float64(time.Second))
	}
}

// finish returns the last event.
func (t *tracker) finish(err error, path string) Progress {
	if t.started {
		t.measure(t.now())
	}
	t.started = true
	t.p.Done, t.p.Err, t.p.Path = true, err, path
	if err == nil {
		t.p.ETA = 0
	}
	return t.p
}
