package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultAutoAcceptMax is the largest offer accepted without asking.
const DefaultAutoAcceptMax = 200 << 20

// MaxIncoming bounds the files received at once over one connection;
// further offers are declined until one finishes.
const MaxIncoming = 8

var (
	// ErrDeclined is returned by Send when the receiver refused the file.
	ErrDeclined = errors.New("transfer: the peer declined the file")
	// ErrCanceled is reported when either side canceled the transfer.
	ErrCanceled = errors.New("transfer: canceled")
	// ErrHashMismatch is reported on both sides when the received bytes do
	// not match the offered SHA-256.
	ErrHashMismatch = errors.New("transfer: the file was corrupted in transit (SHA-256 mismatch); nothing was saved")
	// ErrClosed is reported when the Conn was closed or its stream ended
	// before the transfer finished. The receiver keeps the partial file,
	// so offering the same file again on a new Conn resumes it.
	ErrClosed = errors.New("transfer: connection closed")
	// ErrPeerFailed is returned by Send when the receiver could not store
	// the file (disk full, permissions) or rejected our frames.
	ErrPeerFailed = errors.New("transfer: the peer could not save the file")
)

// maxQueuedFrames bounds control frames waiting to be written. A peer
// that floods offers without reading our answers is cut off.
const maxQueuedFrames = 1024

// Offer is a file the peer proposes to send.
type Offer struct {
	ID string
	// Name is as sent by the peer: untrusted. Show SanitizeName(Name).
	Name   string
	Size   int64
	SHA256 [32]byte
	// Folder marks a folder offer: Name is its top folder's name, Size
	// the sum of its Files files, Skipped what the sender left out
	// (symbolic links, special files); SHA256 is zero.
	Folder  bool
	Files   int
	Skipped int
}

// Config configures a Conn. All callbacks may be nil.
type Config struct {
	// DownloadDir is where received files go (created 0700 if missing;
	// see PrepareDownloadDir). "" refuses every offer.
	DownloadDir string
	// AutoAcceptMax is the largest offer accepted without asking (the
	// offers received at once count together); 0 or negative means ask
	// for every offer. Callers that want the default pass
	// DefaultAutoAcceptMax.
	AutoAcceptMax int64
	// Ask decides offers above AutoAcceptMax; nil declines them. It is
	// called from a goroutine of the Conn and may block until the user
	// answers; if the Conn stops first, the answer is ignored.
	Ask func(Offer) bool
	// Budget bounds what the peer may store through this Conn and the
	// others sharing the Budget (a session's reconnects); nil gives this
	// Conn a budget of its own with the default Limits.
	Budget *Budget
	// OnProgress receives throttled progress events (about every 100 ms,
	// plus the first and the last). It must return quickly.
	OnProgress func(Progress)
	// OnReceived is called once a received file was verified and moved to
	// its final path (before the sender is told).
	OnReceived func(Offer, string)
	// Logger receives structured logs without file names or contents.
	Logger *slog.Logger
}

// Conn runs the file transfer protocol over one byte stream, in both
// directions and for several files at once.
type Conn struct {
	rw  io.ReadWriteCloser
	cfg Config
	log *slog.Logger
	now func() time.Time

	wmu     sync.Mutex // one frame per Write
	prepMu  sync.Mutex // serializes choosing and creating partial files
	admitMu sync.Mutex // serializes the disk space and budget reservations
	// freeSpace reports the bytes that may still be written on the disk
	// of a folder (diskFree; tests replace it).
	freeSpace func(dir string) (int64, bool)
	// corrupt sees every chunk sent after hashing (SetCorruptHookForTest).
	corrupt atomic.Pointer[func(offset int64, chunk []byte)]
	ctrl    chan ctrlFrame

	mu      sync.Mutex
	out     map[string]*outgoing
	in      map[string]*incoming
	folders map[string]*inFolder
	running bool
	runCtx  context.Context

	wg sync.WaitGroup // offer and finalize goroutines started by Run

	ended     chan struct{} // closed when Run returned
	closeOnce sync.Once
	done      chan struct{} // closed by Close
}

// NewConn returns a Conn over rw. Call Run to start it.
func NewConn(rw io.ReadWriteCloser, cfg Config) *Conn {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Budget == nil {
		cfg.Budget = NewBudget(Limits{})
	}
	return &Conn{
		rw:        rw,
		cfg:       cfg,
		log:       logger.With("component", "transfer"),
		now:       time.Now,
		freeSpace: diskFree,
		ctrl:      make(chan ctrlFrame, maxQueuedFrames),
		out:       make(map[string]*outgoing),
		in:        make(map[string]*incoming),
		folders:   make(map[string]*inFolder),
		ended:     make(chan struct{}),
		done:      make(chan struct{}),
	}
}

// SetCorruptHookForTest makes fn see, and change, every chunk this side
// sends from now on, after the file was hashed: tests prove that the
// receiver catches damage in transit. Never used outside tests.
func (c *Conn) SetCorruptHookForTest(fn func(offset int64, chunk []byte)) {
	c.corrupt.Store(&fn)
}

// Run reads frames until ctx is done, Close is called, the stream ends or
// the peer breaks the protocol, then closes the stream, waits for its
// goroutines and fails what is still in flight with ErrClosed (partial
// files stay for a resume). It returns ctx.Err(), ErrClosed, or what ended
// the stream (wrapping ErrProtocol for bad peer input). Run may be called
// once.
func (c *Conn) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("transfer: Run called twice")
	}
	runCtx, cancel := context.WithCancel(ctx)
	c.running, c.runCtx = true, runCtx
	c.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		select {
		case <-runCtx.Done():
		case <-c.done:
		}
		_ = c.rw.Close() // unblocks the read loop
	}()
	go func() {
		defer wg.Done()
		c.writeLoop(runCtx)
	}()

	err := c.readLoop(runCtx)
	cancel()
	_ = c.rw.Close()
	c.wg.Wait()
	wg.Wait()
	c.abortIncoming()
	c.abortFolders()
	close(c.ended)

	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// writeLoop writes queued control frames until ctx is done.
func (c *Conn) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case cf := <-c.ctrl:
			err := c.write(cf.b)
			if cf.written != nil {
				close(cf.written)
			}
			if err != nil {
				c.log.Debug("transfer: write control frame", "err", err)
				_ = c.rw.Close()
				return
			}
		}
	}
}

// write sends one encoded frame.
func (c *Conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.rw.Write(b); err != nil {
		return fmt.Errorf("transfer: write: %w", err)
	}
	return nil
}

// queue hands a control frame to the write loop without blocking. A full
// queue means the peer stopped reading: the stream is closed.
func (c *Conn) queue(f frame) {
	c.queueFrame(ctrlFrame{b: encodeFrame(f)})
}

// ctrlFrame is one control frame for the write loop; written, when set, is
// closed once the frame went to the stream (or failed to).
type ctrlFrame struct {
	b       []byte
	written chan struct{}
}

// queueFlushed queues f behind the frames already queued (order matters to
// the peer) and waits until the write loop has written it, the Conn ends,
// or flushWait passes.
func (c *Conn) queueFlushed(f frame) {
	cf := ctrlFrame{b: encodeFrame(f), written: make(chan struct{})}
	if !c.queueFrame(cf) {
		return
	}
	select {
	case <-cf.written:
	case <-c.ended:
	case <-c.done:
	case <-time.After(flushWait):
	}
}

// flushWait bounds queueFlushed.
const flushWait = 5 * time.Second

// queueFrame hands cf to the write loop without blocking; false when the
// Conn has ended or the queue was full (then the stream is closed).
func (c *Conn) queueFrame(cf ctrlFrame) bool {
	select {
	case <-c.ended:
		return false
	default:
	}
	select {
	case c.ctrl <- cf:
		return true
	default:
		c.log.Warn("transfer: control queue full, closing stream")
		_ = c.rw.Close()
		return false
	}
}

// readLoop reads and dispatches frames until the stream fails.
func (c *Conn) readLoop(ctx context.Context) error {
	buf := make([]byte, maxFrameBytes)
	for {
		body, err := readFrame(c.rw, buf)
		if err != nil {
			return err
		}
		f, err := decodeFrame(body)
		if err != nil {
			c.log.Warn("transfer: bad frame from peer", "err", err)
			return err
		}
		switch f.Type {
		case typeOffer:
			c.handleOffer(ctx, f)
		case typeData:
			c.handleData(f)
		case typeFolderFile:
			c.handleFolderFile(ctx, f)
		case typeFolderOffer:
			c.handleFolderOffer(f)
		case typeFolderPart:
			c.handleFolderPart(ctx, f)
		case typeAccept, typeDecline, typeDone, typeFail, typeFolderSeen:
			c.deliver(f)
		case typeCancel:
			if f.Code == roleReceiver {
				c.deliver(f)
			} else if !c.cancelIncoming(f.ID, false) {
				c.cancelFolder(f.ID, false)
			}
		default:
			c.log.Debug("transfer: ignoring unknown frame type", "type", f.Type)
		}
	}
}

// deliver passes a receiver's answer to the Send waiting for it. Answers
// for unknown ids (a transfer that already ended) are dropped.
func (c *Conn) deliver(f frame) {
	c.mu.Lock()
	o := c.out[f.ID]
	c.mu.Unlock()
	if o == nil {
		return
	}
	select {
	case o.events <- f:
	default:
		c.log.Warn("transfer: peer sent too many answers", "id", f.ID)
	}
}

// Cancel cancels the transfer with this id, in whichever direction it
// runs; the other side gets ErrCanceled and the receiver deletes the
// partial file.
func (c *Conn) Cancel(id string) error {
	c.mu.Lock()
	o := c.out[id]
	c.mu.Unlock()
	found := false
	if o != nil {
		o.cancel()
		found = true
	}
	if c.cancelIncoming(id, true) {
		found = true
	}
	if c.cancelFolder(id, true) {
		found = true
	}
	if !found {
		return fmt.Errorf("transfer: no active transfer %q", id)
	}
	return nil
}

// Close stops Run and fails every transfer in flight with ErrClosed. It
// is safe to call more than once.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
	})
	_ = c.rw.Close()
	return nil
}

// stopped returns the error for a Conn that can no longer transfer, or nil.
func (c *Conn) stopped() error {
	select {
	case <-c.done:
		return ErrClosed
	case <-c.ended:
		return ErrClosed
	default:
		return nil
	}
}

func (c *Conn) emit(p Progress) {
	if c.cfg.OnProgress != nil {
		c.cfg.OnProgress(p)
	}
}
