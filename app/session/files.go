package session

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/app/transfer"
	"github.com/parley-chat/parley/internal/randid"
)

// Files in a session: the session runs the file-transfer protocol on each
// verified connection, keeps this session's transfers both ways in one
// table, and sends its queue of outgoing files one after the other. Every
// change of a transfer is a TransferChanged event, so the app and the CLI
// only show what the session reports.

// TransferState is where a transfer is.
type TransferState string

// Transfer states.
const (
	// TransferWaiting: queued, waiting for the peer or its answer, or
	// interrupted (it resumes when the peer is back).
	TransferWaiting  TransferState = "waiting"
	TransferActive   TransferState = "active"
	TransferDone     TransferState = "done"
	TransferFailed   TransferState = "failed"
	TransferCanceled TransferState = "canceled"
)

// Terminal reports whether the transfer is over.
func (s TransferState) Terminal() bool {
	return s == TransferDone || s == TransferFailed || s == TransferCanceled
}

// Transfer is one file or folder, either way, as the session knows it.
type Transfer struct {
	// ID is the queue's id for an outgoing transfer (known at once, before
	// the file is hashed) and the protocol's id for an incoming one.
	ID       string
	Outgoing bool
	// Name is the base name of the source (outgoing) or the sanitized
	// name it is saved under (incoming).
	Name string
	// Path is the source (outgoing), or where it was saved (incoming,
	// once done).
	Path  string
	State TransferState
	// Err says why the transfer failed or was canceled.
	Err          error
	Bytes, Total int64
	Rate         float64 // bytes per second while active
	ETA          time.Duration
	// Folder: a whole folder as one item; Bytes and Total count all its
	// files, FilesDone of Files are complete, Skipped links and special
	// files were left out by the sender.
	Folder                    bool
	Files, FilesDone, Skipped int
}

// TransferChanged reports a transfer as it is now: always on a change of
// state, and at most every transferUpdateInterval for progress.
type TransferChanged struct{ Transfer Transfer }

func (TransferChanged) isEvent() {}

// Errors of files that cannot be queued.
var (
	ErrNotAbsolute = errors.New("not an absolute path")
	ErrUnsendable  = errors.New("only regular files and folders can be sent")
	ErrFolderLink  = errors.New("a link to a folder (send the folder itself)")
	// ErrNoTransfer: CancelTransfer of an id this session does not know.
	ErrNoTransfer = errors.New("no such transfer")
)

// transferUpdateInterval throttles TransferChanged per transfer (changes
// of state always go out).
const transferUpdateInterval = 100 * time.Millisecond

// transfers is the session's table of transfers and its send queue.
type transfers struct {
	mu      sync.Mutex
	byID    map[string]*entry    // by Transfer.ID
	byReal  map[string]*entry    // outgoing, by the protocol's id
	queue   []*entry             // outgoing, not started yet
	sending *entry               // the outgoing file being sent
	running bool                 // the queue's worker runs
	closed  bool                 // the session ended: nothing is queued any more
	asks    map[string]chan bool // offers waiting for AnswerOffer, by id
	now     func() time.Time     // tests move time
	added   uint64               // entries added so far (entry.seq)
	pruneAt int                  // table size of the next forgetFinishedLocked
}

// KeepFinished is how many finished (done, failed or canceled) transfers
// a session remembers; older ones are forgotten first. Transfers still
// under way are always kept (their number is bounded by the send queue
// and transfer.MaxIncoming). Without the bound a peer offering and
// canceling file after file grows the table for as long as the room is
// open.
const KeepFinished = 1000

type entry struct {
	t        Transfer
	real     string // outgoing: the protocol's id, from its first progress
	cancel   context.CancelFunc
	lastEmit time.Time
	emitted  string // state and error of the last event
	seq      uint64 // order of addition
}

func (ts *transfers) clock() time.Time {
	if ts.now != nil {
		return ts.now()
	}
	return time.Now()
}

// shouldEmitLocked says whether e's change goes out now, and records it.
func (ts *transfers) shouldEmitLocked(e *entry, always bool) bool {
	now := ts.clock()
	key := string(e.t.State) + "\x00" + errText(e.t.Err)
	if always || key != e.emitted || now.Sub(e.lastEmit) >= transferUpdateInterval {
		e.emitted, e.lastEmit = key, now
		return true
	}
	return false
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (ts *transfers) addLocked(e *entry) {
	if ts.byID == nil {
		ts.byID, ts.byReal = map[string]*entry{}, map[string]*entry{}
	}
	ts.added++
	e.seq = ts.added
	ts.byID[e.t.ID] = e
	if len(ts.byID) > max(ts.pruneAt, KeepFinished+KeepFinished/4) {
		ts.forgetFinishedLocked()
		ts.pruneAt = len(ts.byID) + KeepFinished/4
	}
}

// forgetFinishedLocked drops the oldest finished transfers until at most
// KeepFinished of them are left (in batches: the scan is paid once per
// KeepFinished/4 additions, also when most entries are still under way).
func (ts *transfers) forgetFinishedLocked() {
	var done []*entry
	for _, e := range ts.byID {
		if e.t.State.Terminal() {
			done = append(done, e)
		}
	}
	if len(done) <= KeepFinished {
		return
	}
	sort.Slice(done, func(i, j int) bool { return done[i].seq < done[j].seq })
	for _, e := range done[:len(done)-KeepFinished] {
		delete(ts.byID, e.t.ID)
		if e.real != "" && ts.byReal[e.real] == e {
			delete(ts.byReal, e.real)
		}
	}
}

// SendFiles queues the files and folders at paths (absolute) and returns
// their transfers at once: waiting, or failed when a path cannot be sent
// (Err: ErrNotAbsolute, ErrUnsendable, ErrFolderLink or the fs error).
// They are sent one after the other; each waits for the peer and resumes
// after reconnects. A folder goes whole, as one item (symbolic links
// inside are left out). Every later change (progress, outcome) arrives as
// TransferChanged; the states returned here are not sent as events.
func (s *Session) SendFiles(paths []string) []Transfer {
	entries := make([]*entry, 0, len(paths))
	for _, p := range paths {
		e := &entry{t: Transfer{ID: newTransferID(), Outgoing: true, Name: filepath.Base(p), Path: p, State: TransferWaiting}}
		if err := checkSendable(p, &e.t); err != nil {
			e.t.State, e.t.Err = TransferFailed, err
		}
		entries = append(entries, e)
	}
	ts := &s.transfers
	out := make([]Transfer, 0, len(entries))
	ts.mu.Lock()
	if ts.closed {
		for _, e := range entries {
			if e.t.State == TransferWaiting {
				e.t.State, e.t.Err = TransferCanceled, ErrSessionClosed
			}
		}
	}
	for _, e := range entries {
		ts.addLocked(e)
		ts.shouldEmitLocked(e, true) // what SendFiles returns is its first state
		out = append(out, e.t)
		if e.t.State == TransferWaiting {
			ts.queue = append(ts.queue, e)
		}
	}
	start := len(ts.queue) > 0 && !ts.running
	if start {
		ts.running = true
	}
	ts.mu.Unlock()
	// No events here: the caller may not be reading them yet (parley-cli
	// queues before its event loop), and a long list would fill the
	// channel and block it. It has the list; TransferChanged reports every
	// change from now on.
	if start {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.sendQueue()
		}()
	}
	return out
}

// checkSendable checks that p can be sent and fills in what is known of
// it before sending.
func checkSendable(p string, t *Transfer) error {
	if !filepath.IsAbs(p) {
		return ErrNotAbsolute
	}
	st, err := os.Lstat(p)
	if err == nil && st.Mode()&os.ModeSymlink != 0 {
		st, err = os.Stat(p) // a link to a file is sent as the file
		if err == nil && st.IsDir() {
			return ErrFolderLink
		}
	}
	switch {
	case err != nil:
		return err
	case st.IsDir():
		t.Folder = true // its size is known once it was walked
	case !st.Mode().IsRegular():
		return ErrUnsendable
	default:
		t.Total = st.Size()
	}
	return nil
}

// sendQueue sends the queued files one at a time until the queue is
// empty or the session ends.
func (s *Session) sendQueue() {
	ts := &s.transfers
	for {
		ts.mu.Lock()
		if len(ts.queue) == 0 || ts.closed {
			// (What is left when the session ends, endTransfers ended.)
			ts.queue, ts.running, ts.sending = nil, false, nil
			ts.mu.Unlock()
			return
		}
		e := ts.queue[0]
		ts.queue = ts.queue[1:]
		if e.t.State != TransferWaiting { // canceled while queued
			ts.mu.Unlock()
			continue
		}
		ctx, cancel := context.WithCancel(s.ctx)
		e.cancel, ts.sending = cancel, e
		path, folder := e.t.Path, e.t.Folder
		ts.mu.Unlock()

		p, err := s.sendFile(ctx, path, folder)
		cancel()
		s.finishOutgoing(e, p, err)
	}
}

// endErr is why queued files were not sent: the session's end.
func (s *Session) endErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finalErr != nil {
		return s.finalErr
	}
	return ErrSessionClosed
}

// ErrSessionClosed: the session was closed before the transfer ran.
var ErrSessionClosed = errors.New("the room was closed")

// finishOutgoing records how e's send ended.
func (s *Session) finishOutgoing(e *entry, p transfer.Progress, err error) {
	ts := &s.transfers
	ts.mu.Lock()
	e.cancel = nil
	if ts.sending == e {
		ts.sending = nil
	}
	if e.t.State.Terminal() { // ended with the session (endTransfers)
		ts.mu.Unlock()
		return
	}
	if p.ID != "" && e.real == "" {
		e.real = p.ID
		ts.byReal[p.ID] = e
	}
	e.t.Rate, e.t.ETA = 0, 0
	if err == nil {
		e.t.State, e.t.Err = TransferDone, nil
		e.t.Bytes = e.t.Total
		if p.Total > 0 {
			e.t.Bytes, e.t.Total = p.Total, p.Total
		}
		if p.Folder {
			e.t.Files, e.t.FilesDone, e.t.Skipped = p.Files, p.FilesDone, p.Skipped
		}
	} else {
		e.t.State, e.t.Err = endState(err, true), err
	}
	ts.shouldEmitLocked(e, true)
	t := e.t
	ts.mu.Unlock()
	if err != nil {
		s.log.Info("file not sent", "state", t.State, "err", err)
	}
	s.emit(TransferChanged{Transfer: t})
}

// endTransfers ends every outgoing transfer that has not ended when the
// session does, and returns their last events (finish sends them before
// Closed, so nobody is left waiting for them).
func (s *Session) endTransfers(why error) []Event {
	if why == nil {
		why = ErrSessionClosed
	}
	ts := &s.transfers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.closed = true
	var out []Event
	for _, e := range ts.byID {
		if e.t.Outgoing && !e.t.State.Terminal() {
			e.t.State, e.t.Err, e.t.Rate, e.t.ETA = endState(why, true), why, 0, 0
			out = append(out, TransferChanged{Transfer: e.t})
		}
	}
	return out
}

// endState is the state a transfer ends in with err.
func endState(err error, outgoing bool) TransferState {
	switch {
	case errors.Is(err, transfer.ErrCanceled), errors.Is(err, context.Canceled), errors.Is(err, ErrSessionClosed),
		!outgoing && errors.Is(err, transfer.ErrDeclined):
		return TransferCanceled
	}
	return TransferFailed
}

// onProgress applies a progress event of the protocol.
func (s *Session) onProgress(p transfer.Progress) {
	ts := &s.transfers
	ts.mu.Lock()
	var e *entry
	if p.Outgoing {
		e = ts.byReal[p.ID]
		// Files are sent one at a time: the first event of the file being
		// sent names its protocol id.
		if c := ts.sending; c != nil && c.real == "" && e == nil {
			c.real, e = p.ID, c
			ts.byReal[p.ID] = c
		}
		// The queue reports the outcome; late events change nothing.
		interrupted := p.Done && errors.Is(p.Err, transfer.ErrClosed)
		if e == nil || e.t.State.Terminal() || (p.Done && !interrupted) {
			ts.mu.Unlock()
			return
		}
		e.t.State = TransferActive
		if interrupted { // sendFile resumes when the peer is back
			e.t.State = TransferWaiting
		}
	} else {
		e = ts.byID[p.ID]
		if e == nil {
			e = &entry{t: Transfer{ID: p.ID, Name: p.Name, State: TransferWaiting}}
			ts.addLocked(e)
		}
		switch {
		case !p.Done:
			e.t.State, e.t.Err = TransferActive, nil
		case p.Err == nil:
			e.t.State, e.t.Err, e.t.Path = TransferDone, nil, p.Path
		case errors.Is(p.Err, transfer.ErrClosed):
			// Interrupted: the partial file stays and the peer resumes it
			// when it comes back.
			e.t.State, e.t.Err = TransferWaiting, nil
		default:
			e.t.State, e.t.Err = endState(p.Err, false), p.Err
		}
	}
	e.t.Bytes, e.t.Total, e.t.Rate, e.t.ETA = p.Bytes, p.Total, p.Rate, p.ETA
	if p.Folder {
		e.t.Folder, e.t.Files, e.t.FilesDone, e.t.Skipped = true, p.Files, p.FilesDone, p.Skipped
	}
	if e.t.State != TransferActive {
		e.t.Rate, e.t.ETA = 0, 0
	}
	send := ts.shouldEmitLocked(e, false)
	t := e.t
	ts.mu.Unlock()
	if send {
		s.emit(TransferChanged{Transfer: t})
	}
}

// OfferWaiting says an offer above Config.AutoAcceptMax waits for
// AnswerOffer. Transfer.Name is sanitized; Total is its size. It is
// declined after Config.OfferTimeout, when canceled, or when the session
// ends.
type OfferWaiting struct{ Transfer Transfer }

func (OfferWaiting) isEvent() {}

// ErrNoOffer: AnswerOffer of an offer that no longer waits (answered,
// timed out, or never asked).
var ErrNoOffer = errors.New("the offer is no longer waiting for an answer")

// defaultOfferTimeout is how long a big offer waits for an answer.
const defaultOfferTimeout = 10 * time.Minute

// askOffer records an offer above the auto-accept size as a waiting
// transfer, reports it, and waits for AnswerOffer.
func (s *Session) askOffer(o transfer.Offer) bool {
	ch := make(chan bool, 1)
	ts := &s.transfers
	ts.mu.Lock()
	e := ts.byID[o.ID]
	if e == nil {
		e = &entry{t: Transfer{ID: o.ID, Name: transfer.SanitizeName(o.Name)}}
		ts.addLocked(e)
	}
	e.t.State, e.t.Err, e.t.Total, e.t.Bytes = TransferWaiting, nil, o.Size, 0
	if o.Folder {
		e.t.Folder, e.t.Files, e.t.Skipped = true, o.Files, o.Skipped
	}
	if ts.asks == nil {
		ts.asks = map[string]chan bool{}
	}
	ts.asks[o.ID] = ch
	ts.shouldEmitLocked(e, true)
	t := e.t
	ts.mu.Unlock()
	s.emit(TransferChanged{Transfer: t})
	s.emit(OfferWaiting{Transfer: t})

	timeout := s.cfg.OfferTimeout
	if timeout <= 0 {
		timeout = defaultOfferTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	accept := false
	select {
	case accept = <-ch:
	case <-timer.C:
		s.log.Info("file offer unanswered; declined")
	case <-s.ctx.Done():
	}
	ts.mu.Lock()
	if ts.asks[o.ID] == ch {
		delete(ts.asks, o.ID)
	}
	ts.mu.Unlock()
	return accept
}

// AnswerOffer accepts or declines an offer that OfferWaiting announced.
func (s *Session) AnswerOffer(id string, accept bool) error {
	ts := &s.transfers
	ts.mu.Lock()
	ch := ts.asks[id]
	delete(ts.asks, id) // answered once
	ts.mu.Unlock()
	if ch == nil {
		return ErrNoOffer
	}
	ch <- accept // buffered; only this answer reaches it
	return nil
}

// Transfers returns this session's transfers (order not specified).
func (s *Session) Transfers() []Transfer {
	ts := &s.transfers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make([]Transfer, 0, len(ts.byID))
	for _, e := range ts.byID {
		out = append(out, e.t)
	}
	return out
}

// CancelTransfer cancels a transfer in either direction, by its
// Transfer.ID; the peer is told when it is connected. A finished transfer
// is left as it is; an unknown id is ErrNoTransfer.
func (s *Session) CancelTransfer(id string) error {
	ts := &s.transfers
	ts.mu.Lock()
	e := ts.byID[id]
	if e == nil {
		ts.mu.Unlock()
		return ErrNoTransfer
	}
	if e.t.State.Terminal() {
		ts.mu.Unlock()
		return nil
	}
	real, cancel := e.real, e.cancel
	if !e.t.Outgoing {
		real = e.t.ID
	}
	if ch := ts.asks[id]; ch != nil { // an offer waiting for an answer
		delete(ts.asks, id)
		ts.mu.Unlock()
		ch <- false
		return nil
	}
	queued := e.t.Outgoing && cancel == nil // the queue skips it
	if queued {
		e.t.State, e.t.Err = TransferCanceled, transfer.ErrCanceled
		ts.shouldEmitLocked(e, true)
	}
	t := e.t
	ts.mu.Unlock()
	if queued {
		s.emit(TransferChanged{Transfer: t})
		return nil
	}
	if real != "" {
		if tc, _ := s.filesConn(); tc != nil && tc.Cancel(real) == nil {
			return nil
		}
	}
	if cancel != nil {
		// Hashing, waiting for the peer, or interrupted: stop sending.
		cancel()
		return nil
	}
	// An interrupted incoming file: nothing runs until the peer resumes.
	ts.mu.Lock()
	e.t.State, e.t.Err = TransferCanceled, transfer.ErrCanceled
	ts.shouldEmitLocked(e, true)
	t = e.t
	ts.mu.Unlock()
	s.emit(TransferChanged{Transfer: t})
	return nil
}

// startFiles runs the file-transfer protocol on the verified connection's
// files channel (peer.ChannelFiles), in the background. Sends wait for it (sendFile waits
// while filesConn is nil). Without a usable files stream, files are
// simply not offered.
func (s *Session) startFiles(ctx context.Context, run *peerRun) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fs, err := run.pc.Stream(ctx, peer.ChannelFiles)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("files channel unavailable", "err", err)
			}
			return
		}
		tc := transfer.NewConn(fs, transfer.Config{
			DownloadDir:   s.cfg.DownloadDir,
			AutoAcceptMax: s.cfg.AutoAcceptMax,
			Ask:           s.askOffer,
			Budget:        s.budget,
			OnProgress:    s.onProgress,
			Logger:        s.log,
		})
		s.mu.Lock()
		if fn := s.corruptForTest; fn != nil {
			tc.SetCorruptHookForTest(fn)
		}
		s.mu.Unlock()
		if !s.setFilesConnFor(run, tc) {
			_ = tc.Close()
			return
		}
		if err := tc.Run(ctx); err != nil && ctx.Err() == nil {
			s.log.Debug("files stream ended", "err", err)
		}
		s.clearFilesConn(tc)
	}()
}

// SetCorruptHookForTest makes fn see, and change, every chunk this side
// sends after hashing (transfer.Conn.SetCorruptHookForTest), on the
// current connection and every later one. Tests only.
func (s *Session) SetCorruptHookForTest(fn func(offset int64, chunk []byte)) {
	s.mu.Lock()
	s.corruptForTest = fn
	tc := s.files
	s.mu.Unlock()
	if tc != nil {
		tc.SetCorruptHookForTest(fn)
	}
}

// sendFile sends the file or folder at path and returns once the peer
// has verified it. It waits for the peer while it is away, and when the
// connection drops mid-way it resumes on the next connection from what
// the peer already has. It gives up on ctx, a decline, a cancel, a hash
// mismatch or the end of the session.
func (s *Session) sendFile(ctx context.Context, path string, folder bool) (transfer.Progress, error) {
	for {
		tc, changed := s.filesConn()
		if tc != nil {
			send := tc.Send
			if folder {
				send = tc.SendFolder
			}
			p, err := send(ctx, path)
			switch {
			case err == nil:
				return p, nil
			case errors.Is(err, transfer.ErrDeclined), errors.Is(err, transfer.ErrCanceled),
				errors.Is(err, transfer.ErrHashMismatch), errors.Is(err, transfer.ErrFolderTooLarge),
				errors.Is(err, fs.ErrPermission), errors.Is(err, fs.ErrNotExist), ctx.Err() != nil:
				// (An unreadable file or folder here is not fixed by waiting
				// for the next connection.)
				return p, err
			}
			s.log.Debug("file transfer interrupted; waiting for the peer", "err", err)
		}
		// Wait for the next verified connection (or the end).
		select {
		case <-changed:
		case <-ctx.Done():
			if s.ctx.Err() != nil {
				return transfer.Progress{}, s.endErr()
			}
			return transfer.Progress{}, ctx.Err()
		}
	}
}

// filesConn returns the current transfer connection (nil while offline) and
// a channel closed when it changes.
func (s *Session) filesConn() (*transfer.Conn, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.filesChanged == nil {
		s.filesChanged = make(chan struct{})
	}
	return s.files, s.filesChanged
}

// setFilesConnFor installs tc (or clears it, with nil) for run, only while
// run is the current connection. It reports whether it did.
func (s *Session) setFilesConnFor(run *peerRun, tc *transfer.Conn) bool {
	s.mu.Lock()
	current := s.conn == run && !s.closing
	s.mu.Unlock()
	if !current {
		return false
	}
	s.setFilesConn(tc)
	return true
}

// clearFilesConn removes tc if it is still the current transfer
// connection (its stream ended).
func (s *Session) clearFilesConn(tc *transfer.Conn) {
	s.mu.Lock()
	if s.files != tc {
		s.mu.Unlock()
		return
	}
	s.files = nil
	if s.filesChanged != nil {
		close(s.filesChanged)
	}
	s.filesChanged = make(chan struct{})
	s.mu.Unlock()
	_ = tc.Close()
}

// setFilesConn swaps the transfer connection and wakes sendFile waiters.
func (s *Session) setFilesConn(tc *transfer.Conn) {
	s.mu.Lock()
	old := s.files
	s.files = tc
	if s.filesChanged != nil {
		close(s.filesChanged)
	}
	s.filesChanged = make(chan struct{})
	s.mu.Unlock()
	if old != nil && old != tc {
		_ = old.Close()
	}
}

// newTransferID is the id of an outgoing transfer, known before the file
// is hashed (the protocol's id derives from the content).
func newTransferID() string { return "out-" + randid.Hex(12) }
