package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Incoming transfer states.
const (
	statePending    = iota // deciding / preparing the partial file
	stateReceiving         // accept sent, data frames expected
	stateFinalizing        // all bytes in, verifying and renaming
	stateEnded             // finished, failed or canceled
)

// writebackEvery is how often (in bytes received) a partial file's new
// data is handed to the kernel for writing out (startWriteback).
const writebackEvery = 8 << 20

// incoming is one file this side is receiving.
type incoming struct {
	offer Offer
	name  string // sanitized

	abortOnce sync.Once
	aborted   chan struct{} // closed when canceled while pending

	mu       sync.Mutex // guards the fields below
	state    int
	f        *os.File
	h        hash.Hash
	written  int64
	partPath string
	sidePath string
	tr       *tracker
	// reserved says need bytes (and one file) of this attempt are taken
	// from the Budget and counted as pending on the disk; base is the
	// offset the attempt started from.
	reserved   bool
	need, base int64

	// A file of a folder: its folder, its entry in the manifest, its
	// final path and whether it is executable. Its progress goes into the
	// folder's.
	folder *inFolder
	index  int
	target string
	exec   bool
}

func (in *incoming) abort() { in.abortOnce.Do(func() { close(in.aborted) }) }

// handleOffer registers an offer and decides it on a goroutine of its own,
// so neither a slow Ask nor re-hashing a partial file stalls the stream.
func (c *Conn) handleOffer(ctx context.Context, f frame) {
	in := &incoming{
		offer:   Offer{ID: f.ID, Name: f.Name, Size: f.Size, SHA256: f.SHA256},
		name:    SanitizeName(f.Name),
		aborted: make(chan struct{}),
	}
	in.tr = newTracker(Progress{ID: f.ID, Name: in.name, Total: f.Size}, c.now)
	c.mu.Lock()
	if c.in[f.ID] != nil {
		c.mu.Unlock()
		c.log.Warn("transfer: duplicate offer ignored", "id", f.ID)
		return
	}
	if len(c.in) >= MaxIncoming {
		// Each incoming file holds a descriptor and disk space: a peer
		// flooding offers gets declines, not our resources.
		c.mu.Unlock()
		c.log.Warn("transfer: too many incoming files at once; declining", "id", f.ID)
		c.queue(frame{Type: typeDecline, ID: f.ID})
		return
	}
	c.in[f.ID] = in
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.decide(ctx, in)
	}()
}

// decide accepts or declines an offer and prepares the partial file.
func (c *Conn) decide(ctx context.Context, in *incoming) {
	id := in.offer.ID
	log := c.log.With("id", id, "size", in.offer.Size)
	if in.folder != nil && c.folderFileHave(ctx, in) {
		// Saved by an earlier attempt: nothing to send.
		in.mu.Lock()
		in.state = stateEnded
		in.mu.Unlock()
		c.queue(frame{Type: typeAccept, ID: id, Offset: in.offer.Size})
		c.queueFlushed(frame{Type: typeDone, ID: id})
		c.folderFileDone(in)
		c.end(in, nil, in.target)
		return
	}
	// What cannot be stored is refused before anyone is asked.
	if err := c.admissible(in); err != nil {
		c.refuse(in, err, log)
		return
	}
	// The files of an accepted folder are not asked about again.
	if in.folder == nil && !c.ask(ctx, in) {
		select {
		case <-ctx.Done():
			return // abortIncoming reports it
		case <-in.aborted:
			return // canceled: already reported
		default:
		}
		log.Info("transfer: offer declined")
		c.queue(frame{Type: typeDecline, ID: id})
		c.end(in, ErrDeclined, "")
		return
	}
	offset, err := c.preparePart(ctx, in)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrNoDownloadFolder) {
			c.refuse(in, err, log)
			return
		}
		log.Warn("transfer: prepare partial file", "err", err)
		c.queue(frame{Type: typeFail, ID: id, Code: failReceiver})
		c.end(in, err, "")
		return
	}
	if err := c.reserve(in, offset); err != nil && !errors.Is(err, errAborted) {
		// The disk filled up or the budget went to other files while the
		// user was asked.
		c.refuse(in, err, log)
		return
	}
	in.mu.Lock()
	if in.state != statePending { // canceled meanwhile: drop what we prepared
		f, part, side := in.f, in.partPath, in.sidePath
		in.mu.Unlock()
		if f != nil {
			_ = f.Close()
			_ = os.Remove(part)
			_ = os.Remove(side)
		}
		return
	}
	in.state = stateReceiving
	p, _ := in.tr.update(offset)
	complete := offset == in.offer.Size
	if complete {
		in.state = stateFinalizing
	}
	in.mu.Unlock()
	if offset > 0 {
		log.Info("transfer: resuming", "offset", offset)
	}
	c.queue(frame{Type: typeAccept, ID: id, Offset: offset})
	c.emitIn(in, p)
	if complete {
		c.finalize(in)
	}
}

// ask applies the auto-accept limit and Config.Ask. It returns false when
// the offer is declined or the transfer was aborted meanwhile.
func (c *Conn) ask(ctx context.Context, in *incoming) bool {
	if c.autoAccept(in) {
		return true
	}
	if c.cfg.Ask == nil {
		return false
	}
	// Ask may block on a user; it is not waited for if the Conn stops.
	answer := make(chan bool, 1)
	go func() { answer <- c.cfg.Ask(in.offer) }()
	select {
	case ok := <-answer:
		return ok
	case <-ctx.Done():
		return false
	case <-in.aborted:
		return false
	}
}

// autoAccept reports whether in is accepted without asking: it must fit
// the limit on its own and together with the other incoming transfers not
// yet finished, so the limit bounds what a peer can put on our disk
// without asking, whether in one file or in many. 0 (or less) asks for
// every file.
func (c *Conn) autoAccept(in *incoming) bool {
	limit := c.cfg.AutoAcceptMax
	return limit > 0 && in.offer.Size <= limit && c.incomingBytes() <= limit
}

// incomingBytes is the total size of the incoming transfers not yet
// finished. The sizes are the peer's: the sum saturates instead of
// wrapping to a small number.
func (c *Conn) incomingBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, in := range c.in {
		n = satAdd(n, in.offer.Size)
	}
	return n
}

// errAborted: the transfer ended while it was being reserved.
var errAborted = errors.New("transfer: aborted")

// admissible checks, before anyone is asked, that the offer could be
// stored: a usable download folder, room in the Budget and on the disk
// (less what an earlier attempt already holds in a partial file).
func (c *Conn) admissible(in *incoming) error {
	if err := PrepareDownloadDir(c.cfg.DownloadDir); err != nil {
		return err
	}
	need := in.offer.Size - c.partialHave(in)
	if err := c.cfg.Budget.check(need); err != nil {
		return err
	}
	return c.diskRoom(need, in)
}

// reserve takes what the attempt from offset still needs from the Budget
// and counts it as pending on the disk, or says why it does not fit.
func (c *Conn) reserve(in *incoming, offset int64) error {
	c.admitMu.Lock()
	defer c.admitMu.Unlock()
	need := in.offer.Size - offset
	if err := c.diskRoom(need, in); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.state != statePending {
		return errAborted
	}
	if err := c.cfg.Budget.reserve(need); err != nil {
		return err
	}
	in.reserved, in.need, in.base = true, need, offset
	return nil
}

// diskRoom checks that need more bytes, on top of what the other accepted
// transfers still have to write, leave KeepFreeBytes free on the disk of
// the download folder. An unknown free space passes (diskfree_other.go).
func (c *Conn) diskRoom(need int64, self *incoming) error {
	free, ok := c.freeSpace(c.cfg.DownloadDir)
	if !ok {
		return nil
	}
	if satAdd(satAdd(need, c.pendingBytes(self)), KeepFreeBytes) > free {
		return ErrDiskFull
	}
	return nil
}

// pendingBytes is what the reserved transfers other than self still have
// to write.
func (c *Conn) pendingBytes(self *incoming) int64 {
	c.mu.Lock()
	ins := make([]*incoming, 0, len(c.in))
	for _, in := range c.in {
		if in != self {
			ins = append(ins, in)
		}
	}
	c.mu.Unlock()
	var n int64
	for _, in := range ins {
		in.mu.Lock()
		if in.reserved {
			n = satAdd(n, max(in.need-(in.written-in.base), 0))
		}
		in.mu.Unlock()
	}
	return n
}

// partialHave is the size of a partial file an earlier attempt left for
// this offer (0 if none): a resume needs only the rest.
func (c *Conn) partialHave(in *incoming) int64 {
	if in.folder != nil {
		return c.folderPartialHave(in)
	}
	want := sidecarBytes(in.offer)
	for i := 0; i < maxPartCandidates; i++ {
		base := in.name
		if i > 0 {
			base += "~" + strconv.Itoa(i)
		}
		part := filepath.Join(c.cfg.DownloadDir, base+".part")
		side := filepath.Join(c.cfg.DownloadDir, "."+base+".parley-partial")
		sc, ours := readSidecar(side)
		st, err := os.Lstat(part)
		if ours && err == nil && st.Mode().IsRegular() && st.Size() <= in.offer.Size && bytes.Equal(sc, want) {
			return st.Size()
		}
		if err != nil && !exists(side) {
			return 0 // later candidates were never used
		}
	}
	return 0
}

// refuse answers an offer this side cannot store (failCannotStore: the
// sender stops, it does not retry) and reports why. Without a download
// folder at all this side takes no files (parley-cli without --out): the
// sender is simply declined, as before.
//
// A partial file prepared for the offer is closed; a new one (nothing
// written yet) is deleted, one that holds an earlier attempt's bytes stays
// for a resume. A transfer canceled meanwhile was reported by the cancel.
func (c *Conn) refuse(in *incoming, err error, log *slog.Logger) {
	in.mu.Lock()
	if in.state != statePending {
		in.mu.Unlock()
		return
	}
	in.state = stateEnded
	f, part, side, written := in.f, in.partPath, in.sidePath, in.written
	in.f = nil
	in.mu.Unlock()
	if f != nil {
		_ = f.Close()
		if written == 0 {
			_ = os.Remove(part)
			_ = os.Remove(side)
		}
	}
	log.Info("transfer: offer refused", "reason", refusalReason(err))
	if c.cfg.DownloadDir == "" {
		c.queue(frame{Type: typeDecline, ID: in.offer.ID})
	} else {
		c.queue(frame{Type: typeFail, ID: in.offer.ID, Code: failCannotStore})
	}
	c.end(in, err, "")
}

// refusalReason names why an offer was refused, for the log (the error
// itself may hold a folder path).
func refusalReason(err error) string {
	switch {
	case errors.Is(err, ErrDiskFull):
		return "disk space"
	case errors.Is(err, ErrReceiveLimit):
		return "room budget"
	case errors.Is(err, ErrNoDownloadFolder):
		return "download folder"
	}
	return "other"
}

// sidecar content: magic line, then hex sha256 and decimal size.
const sidecarMagic = "parley-partial 1"

func sidecarBytes(o Offer) []byte {
	return []byte(sidecarMagic + "\n" + hex.EncodeToString(o.SHA256[:]) + " " + strconv.FormatInt(o.Size, 10) + "\n")
}

// readSidecar returns the sidecar at path, or ok=false when it does not
// exist or is not one of ours.
func readSidecar(path string) ([]byte, bool) {
	f, err := openNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil || !bytes.HasPrefix(b, []byte(sidecarMagic+"\n")) {
		return nil, false
	}
	return b, true
}

// maxPartCandidates bounds the partial file names tried for one name.
const maxPartCandidates = 100

// preparePart finds the partial file of an earlier attempt at the same
// content (and rebuilds the hash state from it) or creates a new one. It
// returns the offset to resume from.
func (c *Conn) preparePart(ctx context.Context, in *incoming) (int64, error) {
	c.prepMu.Lock()
	defer c.prepMu.Unlock()
	if in.folder != nil {
		return c.prepareFolderPart(ctx, in)
	}
	dir := c.cfg.DownloadDir
	if err := PrepareDownloadDir(dir); err != nil {
		return 0, err
	}
	want := sidecarBytes(in.offer)
	free := -1
	for i := 0; i < maxPartCandidates; i++ {
		base := in.name
		if i > 0 {
			base += "~" + strconv.Itoa(i)
		}
		part := filepath.Join(dir, base+".part")
		side := filepath.Join(dir, "."+base+".parley-partial")
		if c.partInUse(part) {
			continue
		}
		sc, ours := readSidecar(side)
		_, perr := os.Lstat(part)
		partExists := perr == nil
		switch {
		case ours && partExists && bytes.Equal(sc, want):
			off, err := c.resumePart(ctx, in, part, side)
			if err == nil {
				return off, nil
			}
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			c.log.Warn("transfer: cannot resume partial file; starting over", "err", err)
			_ = os.Remove(part)
			_ = os.Remove(side)
			if free < 0 {
				free = i
			}
		case !partExists && (ours || !exists(side)):
			// Free slot (a sidecar without its .part is a leftover of ours).
			if free < 0 {
				free = i
			}
		}
		if !partExists && !exists(side) {
			break // later candidates were never used
		}
	}
	if free < 0 {
		return 0, errors.New("transfer: no free name for the partial file")
	}
	base := in.name
	if free > 0 {
		base += "~" + strconv.Itoa(free)
	}
	part := filepath.Join(dir, base+".part")
	side := filepath.Join(dir, "."+base+".parley-partial")
	_ = os.Remove(side) // a leftover of ours, if anything
	return 0, in.startPart(part, side, want)
}

// resumePart opens an existing partial file and hashes what it holds.
func (c *Conn) resumePart(ctx context.Context, in *incoming, part, side string) (int64, error) {
	f, err := openNoFollow(part, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("transfer: open partial file: %w", err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return 0, errors.New("transfer: partial file is not a regular file")
	}
	have := st.Size()
	if have > in.offer.Size {
		f.Close()
		return 0, errors.New("transfer: partial file is larger than the offer")
	}
	h := sha256.New()
	n, err := copyCtx(ctx, h, io.LimitReader(f, have))
	if err != nil || n != have {
		f.Close()
		return 0, fmt.Errorf("transfer: rehash partial file: %v", err)
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		f.Close()
		return 0, fmt.Errorf("transfer: seek partial file: %w", err)
	}
	in.mu.Lock()
	in.f, in.h, in.written, in.partPath, in.sidePath = f, h, have, part, side
	in.mu.Unlock()
	return have, nil
}

// partInUse reports whether another transfer of this Conn writes part.
func (c *Conn) partInUse(part string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, in := range c.in {
		in.mu.Lock()
		used := in.partPath == part
		in.mu.Unlock()
		if used {
			return true
		}
	}
	return false
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// writeExcl creates path (never following or replacing anything) with b.
func writeExcl(path string, b []byte) error {
	f, err := openNoFollow(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("transfer: create sidecar: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("transfer: write sidecar: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("transfer: close sidecar: %w", err)
	}
	return nil
}

// handleData writes one chunk; called from the read loop.
func (c *Conn) handleData(f frame) {
	c.mu.Lock()
	in := c.in[f.ID]
	c.mu.Unlock()
	if in == nil {
		return // canceled or finished: chunks in flight are dropped
	}
	in.mu.Lock()
	if in.state != stateReceiving {
		in.mu.Unlock()
		return
	}
	if f.Offset != in.written || f.Offset+int64(len(f.Data)) > in.offer.Size {
		in.mu.Unlock()
		c.log.Warn("transfer: chunk outside the expected range", "id", f.ID)
		c.failIncoming(in, failReceiver, fmt.Errorf("%w: chunk at unexpected offset", ErrProtocol))
		return
	}
	if _, err := in.f.Write(f.Data); err != nil {
		in.mu.Unlock()
		c.log.Warn("transfer: write partial file", "id", f.ID, "err", err)
		if errors.Is(err, syscall.ENOSPC) {
			// A full disk breaks the whole desktop: give the space back
			// rather than keep the partial file for a resume.
			c.failIncoming(in, failCannotStore, fmt.Errorf("%w: %v", ErrDiskFull, err))
			in.mu.Lock()
			part, side := in.partPath, in.sidePath
			in.mu.Unlock()
			_ = os.Remove(part)
			_ = os.Remove(side)
			return
		}
		c.failIncoming(in, failReceiver, fmt.Errorf("transfer: write partial file: %w", err))
		return
	}
	in.h.Write(f.Data)
	before := in.written
	in.written += int64(len(f.Data))
	if in.written/writebackEvery != before/writebackEvery {
		start := (before / writebackEvery) * writebackEvery
		startWriteback(in.f, start, in.written-start)
	}
	p, due := in.tr.update(in.written)
	complete := in.written == in.offer.Size
	if complete {
		in.state = stateFinalizing
	}
	in.mu.Unlock()
	if due && !complete {
		c.emitIn(in, p)
	}
	if complete {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.finalize(in)
		}()
	}
}

// failIncoming stops a receiving transfer on a local error, keeping the
// partial file (the data in it is good), and tells the sender.
func (c *Conn) failIncoming(in *incoming, code byte, err error) {
	in.mu.Lock()
	if in.state == stateEnded {
		in.mu.Unlock()
		return
	}
	in.state = stateEnded
	if in.f != nil {
		_ = in.f.Close()
	}
	in.mu.Unlock()
	c.queue(frame{Type: typeFail, ID: in.offer.ID, Code: code})
	c.end(in, err, "")
}

// finalize verifies the complete partial file and moves it to its final
// name, or deletes it on a hash mismatch.
func (c *Conn) finalize(in *incoming) {
	id := in.offer.ID
	in.mu.Lock()
	f, part, side := in.f, in.partPath, in.sidePath
	var sum [32]byte
	in.h.Sum(sum[:0])
	in.mu.Unlock()

	if sum != in.offer.SHA256 {
		c.log.Warn("transfer: hash mismatch; partial file deleted", "id", id)
		_ = f.Close()
		_ = os.Remove(part)
		_ = os.Remove(side)
		c.queue(frame{Type: typeFail, ID: id, Code: failHashMismatch})
		c.end(in, ErrHashMismatch, "")
		return
	}
	dir := filepath.Dir(part)
	if in.folder != nil {
		dir = filepath.Dir(in.target)
		if in.exec {
			// Only the executable bit travels; never setuid, setgid,
			// sticky or anything others may write.
			_ = f.Chmod(0o700)
		}
	}
	final, err := c.publish(f, part, dir, in.name)
	if err != nil {
		c.log.Warn("transfer: save received file", "id", id, "err", err)
		c.queue(frame{Type: typeFail, ID: id, Code: failReceiver})
		c.end(in, err, "")
		return
	}
	_ = os.Remove(side)
	_ = syncDir(dir)
	c.log.Info("transfer: received and verified", "id", id, "size", in.offer.Size)
	// Tell the sender before telling our own user: a receiver that exits
	// once it has the file (parley-cli receive --count) must not close
	// the stream before "done" is on its way, or the sender waits for it
	// forever.
	c.queueFlushed(frame{Type: typeDone, ID: id})
	if in.folder != nil {
		c.folderFileDone(in)
	} else if c.cfg.OnReceived != nil {
		c.cfg.OnReceived(in.offer, final)
	}
	c.end(in, nil, final)
}

// publish fsyncs and closes f, then gives part its final name without
// ever replacing an existing file: "name.ext", "name (1).ext", ...
func (c *Conn) publish(f *os.File, part, dir, name string) (string, error) {
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return "", fmt.Errorf("transfer: fsync: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("transfer: close: %w", err)
	}
	stem, ext := splitExt(name)
	for i := 0; i < 10000; i++ {
		cand := name
		if i > 0 {
			cand = stem + " (" + strconv.Itoa(i) + ")" + ext
		}
		final := filepath.Join(dir, cand)
		// link(2) fails if final exists (even as a dangling symlink), so
		// nothing is ever overwritten or followed.
		err := os.Link(part, final)
		if err == nil {
			_ = os.Remove(part)
			return final, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("transfer: link final file: %w", err)
		}
	}
	return "", errors.New("transfer: no free final name")
}

// splitExt splits "report.pdf" into "report" and ".pdf", keeping
// ".tar.gz"-style double extensions together.
func splitExt(name string) (string, string) {
	ext := filepath.Ext(name)
	if ext == name || len(ext) > maxKeptExt {
		return name, ""
	}
	stem := strings.TrimSuffix(name, ext)
	if inner := filepath.Ext(stem); inner == ".tar" {
		return strings.TrimSuffix(stem, inner), inner + ext
	}
	return stem, ext
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// cancelIncoming cancels a receive in any state but finalizing. local says
// whether we canceled (then the sender is told) or the sender did. The
// partial file is deleted. It reports whether a transfer was found.
func (c *Conn) cancelIncoming(id string, local bool) bool {
	c.mu.Lock()
	in := c.in[id]
	c.mu.Unlock()
	if in == nil {
		return false
	}
	in.mu.Lock()
	switch in.state {
	case stateFinalizing, stateEnded:
		in.mu.Unlock()
		return false
	}
	in.state = stateEnded
	if in.f != nil {
		_ = in.f.Close()
		_ = os.Remove(in.partPath)
		_ = os.Remove(in.sidePath)
		in.f = nil
	}
	in.mu.Unlock()
	in.abort()
	if local {
		c.queue(frame{Type: typeCancel, ID: id, Code: roleReceiver})
	}
	c.log.Info("transfer: receive canceled", "id", id, "local", local)
	c.end(in, ErrCanceled, "")
	return true
}

// end removes a finished receive and reports its last progress event.
func (c *Conn) end(in *incoming, err error, path string) {
	in.mu.Lock()
	in.state = stateEnded
	p := in.tr.finish(err, path)
	// An unfinished attempt gives back its reservation, less what it
	// wrote into a partial file that stays on disk (a cancel and a hash
	// mismatch delete it).
	give := int64(-1)
	if in.reserved && err != nil {
		give = in.need
		if !errors.Is(err, ErrCanceled) && !errors.Is(err, ErrHashMismatch) {
			give = max(in.need-(in.written-in.base), 0)
		}
	}
	in.reserved = false
	in.mu.Unlock()
	if give >= 0 {
		c.cfg.Budget.release(give)
	}
	c.mu.Lock()
	if c.in[in.offer.ID] == in {
		delete(c.in, in.offer.ID)
	}
	c.mu.Unlock()
	if in.folder != nil {
		// A file of a folder has no events of its own; when it fails, the
		// folder fails with it.
		in.folder.mu.Lock()
		in.folder.active[in.index] = false
		in.folder.mu.Unlock()
		if err != nil {
			c.endFolder(in.folder, err, "")
		}
		return
	}
	c.emit(p)
}

// emitIn reports the progress of a receive: its own, or its folder's.
func (c *Conn) emitIn(in *incoming, p Progress) {
	if in.folder == nil {
		c.emit(p)
		return
	}
	if !p.Done {
		c.folderBytes(in.folder, p.Bytes)
	}
}

// abortIncoming fails every receive still in flight when Run stops; the
// partial files stay for a resume.
func (c *Conn) abortIncoming() {
	c.mu.Lock()
	ins := make([]*incoming, 0, len(c.in))
	for _, in := range c.in {
		ins = append(ins, in)
	}
	c.mu.Unlock()
	for _, in := range ins {
		in.mu.Lock()
		if in.f != nil && in.state != stateEnded {
			_ = in.f.Close()
		}
		in.mu.Unlock()
		c.end(in, ErrClosed, "")
	}
}

// startPart begins a new partial file at part, with its side record at
// side (what the file will be, for a resume after a crash); neither may
// exist. The hash and the count start from zero.
func (in *incoming) startPart(part, side string, want []byte) error {
	if err := writeExcl(side, want); err != nil {
		return err
	}
	f, err := openNoFollow(part, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		_ = os.Remove(side)
		return fmt.Errorf("transfer: create partial file: %w", err)
	}
	in.mu.Lock()
	in.f, in.h, in.written, in.partPath, in.sidePath = f, sha256.New(), 0, part, side
	in.mu.Unlock()
	return nil
}
