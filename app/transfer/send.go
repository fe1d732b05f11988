package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// outgoing is one file this side is sending.
type outgoing struct {
	events     chan frame // answers from the receiver, via the read loop
	cancelOnce sync.Once
	canceled   chan struct{} // closed by Cancel
}

func (o *outgoing) cancel() { o.cancelOnce.Do(func() { close(o.canceled) }) }

// transferID derives a stable id from the content hash, size and name, so
// offering the same file again (after a reconnect) lets the receiver find
// its partial copy.
func transferID(sum [32]byte, size int64, name string) string {
	h := sha256.New()
	h.Write(sum[:])
	_ = binary.Write(h, binary.BigEndian, size)
	h.Write([]byte(name))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Send offers the file at path, streams it once accepted (from the offset
// the receiver already has, when resuming) and waits for the receiver's
// verdict. It returns the last Progress and nil once the receiver verified
// and saved the file. Errors wrap ErrDeclined, ErrCanceled (Cancel on
// either side, or ctx done: that cancels the transfer for the receiver
// too), ErrHashMismatch, ErrPeerFailed or ErrClosed (the stream ended:
// send again on a new Conn to resume).
func (c *Conn) Send(ctx context.Context, path string) (Progress, error) {
	return c.send(ctx, path, nil)
}

// folderFile places one file of a folder being sent: the folder's id, its
// entry in the manifest, the size the manifest promised, and where its
// progress goes (into the folder's).
type folderFile struct {
	folder   string
	index    uint32
	size     int64
	progress func(Progress)
}

// send is Send, or the sending of one file of a folder when ff is set
// (opened without following a link swapped in since the walk, offered as
// a folder file, progress into the folder's).
func (c *Conn) send(ctx context.Context, path string, ff *folderFile) (Progress, error) {
	if err := c.stopped(); err != nil {
		return Progress{}, err
	}
	emit := c.emit
	open := os.Open
	if ff != nil {
		emit = ff.progress
		open = func(p string) (*os.File, error) { return openNoFollow(p, os.O_RDONLY, 0) }
	}
	f, err := open(path)
	if err != nil {
		return Progress{}, fmt.Errorf("transfer: open file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Progress{}, fmt.Errorf("transfer: stat file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return Progress{}, errors.New("transfer: not a regular file")
	}
	name := filepath.Base(path)
	if len(name) > maxNameLen {
		name = shorten(name)
	}
	sum, size, err := hashFile(ctx, f)
	if err != nil {
		return Progress{}, err
	}
	id := transferID(sum, size, name)
	offer := frame{Type: typeOffer, ID: id, Size: size, SHA256: sum, Name: name}
	if ff != nil {
		if size != ff.size {
			return Progress{}, errors.New("transfer: a file of the folder changed while sending")
		}
		id = transferID(sum, size, ff.folder+"/"+strconv.FormatUint(uint64(ff.index), 10))
		offer = frame{Type: typeFolderFile, ID: id, Size: size, SHA256: sum, Folder: ff.folder, Index: ff.index}
	}
	log := c.log.With("id", id, "size", size)

	o, done, err := c.registerOutgoing(id)
	if err != nil {
		return Progress{}, err
	}
	defer done()

	tr := newTracker(Progress{ID: id, Name: name, Outgoing: true, Total: size}, c.now)
	fail := func(err error) (Progress, error) {
		p := tr.finish(err, "")
		emit(p)
		log.Info("transfer: send failed", "err", err)
		return p, err
	}

	log.Debug("transfer: offering")
	c.queue(offer)
	ans, err := c.await(ctx, id, o)
	if err != nil {
		return fail(err)
	}
	switch ans.Type {
	case typeAccept:
	case typeDecline:
		return fail(ErrDeclined)
	default:
		return fail(answerErr(ans))
	}
	if ans.Offset > size {
		c.queue(frame{Type: typeCancel, ID: id, Code: roleSender})
		return fail(fmt.Errorf("%w: resume offset beyond the file", ErrProtocol))
	}
	if ans.Offset > 0 {
		log.Info("transfer: resuming", "offset", ans.Offset)
	}
	if p, ok := tr.update(ans.Offset); ok {
		emit(p)
	}
	if err := c.stream(ctx, f, id, ans.Offset, size, o, tr, emit); err != nil {
		return fail(err)
	}
	ans, err = c.await(ctx, id, o)
	if err != nil {
		return fail(err)
	}
	if ans.Type != typeDone {
		return fail(answerErr(ans))
	}
	p := tr.finish(nil, "")
	emit(p)
	log.Info("transfer: sent")
	return p, nil
}

// answerErr maps a receiver's negative answer to an error.
func answerErr(f frame) error {
	switch {
	case f.Type == typeCancel:
		return ErrCanceled
	case f.Type == typeFail && f.Code == failHashMismatch:
		return ErrHashMismatch
	case f.Type == typeFail && f.Code == failCannotStore:
		return ErrPeerRefused
	case f.Type == typeFail:
		return ErrPeerFailed
	default:
		return fmt.Errorf("%w: unexpected answer of type %d", ErrProtocol, f.Type)
	}
}

// await waits for the receiver's next answer. Local cancellation (Cancel
// or ctx) tells the receiver.
func (c *Conn) await(ctx context.Context, id string, o *outgoing) (frame, error) {
	select {
	case f := <-o.events:
		return f, nil
	case <-o.canceled:
		c.queue(frame{Type: typeCancel, ID: id, Code: roleSender})
		return frame{}, ErrCanceled
	case <-ctx.Done():
		c.queue(frame{Type: typeCancel, ID: id, Code: roleSender})
		return frame{}, fmt.Errorf("%w: %w", ErrCanceled, ctx.Err())
	case <-c.done:
		return frame{}, ErrClosed
	case <-c.ended:
		return frame{}, ErrClosed
	}
}

// stream sends [offset, size) of f as data frames.
func (c *Conn) stream(ctx context.Context, f *os.File, id string, offset, size int64, o *outgoing, tr *tracker, emit func(Progress)) error {
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Errorf("transfer: seek: %w", err)
	}
	hdr := dataHeaderLen(id)
	buf := make([]byte, hdr+ChunkSize)
	prefix := appendHeader(buf[:0], typeData, id)
	for offset < size {
		select {
		case a := <-o.events: // only negative answers can come mid-stream
			return answerErr(a)
		case <-o.canceled:
			c.queue(frame{Type: typeCancel, ID: id, Code: roleSender})
			return ErrCanceled
		case <-ctx.Done():
			c.queue(frame{Type: typeCancel, ID: id, Code: roleSender})
			return fmt.Errorf("%w: %w", ErrCanceled, ctx.Err())
		default:
		}
		n := int64(ChunkSize)
		if size-offset < n {
			n = size - offset
		}
		chunk := buf[hdr : hdr+int(n)]
		if _, err := io.ReadFull(f, chunk); err != nil {
			c.queue(frame{Type: typeCancel, ID: id, Code: roleSender})
			return fmt.Errorf("transfer: read file (changed while sending?): %w", err)
		}
		if fn := c.corrupt.Load(); fn != nil && *fn != nil {
			(*fn)(offset, chunk)
		}
		b := prefix[:len(prefix):len(buf)]
		b = binary.BigEndian.AppendUint64(b, uint64(offset))
		b = b[:hdr+int(n)]
		if err := c.write(finishFrame(b)); err != nil {
			return fmt.Errorf("%w: %w", ErrClosed, err)
		}
		offset += n
		if p, ok := tr.update(offset); ok {
			emit(p)
		}
	}
	return nil
}

// hashFile returns the SHA-256 and size of f from its start, reading in
// bounded chunks.
func hashFile(ctx context.Context, f *os.File) ([32]byte, int64, error) {
	h := sha256.New()
	n, err := copyCtx(ctx, h, f)
	if err != nil {
		return [32]byte{}, 0, fmt.Errorf("transfer: hash file: %w", err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, n, nil
}

// copyCtx copies r to w in 1 MiB steps, checking ctx between steps.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// registerOutgoing claims id for one outgoing transfer (its answers are
// routed to o.events); done releases it. A second send of the same id
// while the first runs is an error.
func (c *Conn) registerOutgoing(id string) (o *outgoing, done func(), err error) {
	o = &outgoing{events: make(chan frame, 8), canceled: make(chan struct{})}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.out[id] != nil {
		return nil, nil, fmt.Errorf("transfer: %s is already being sent", id)
	}
	c.out[id] = o
	return o, func() {
		c.mu.Lock()
		delete(c.out, id)
		c.mu.Unlock()
	}, nil
}
