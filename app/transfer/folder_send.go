package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// folderSeenWait is how long SendFolder waits for the receiver to
// acknowledge a folder's manifest; a peer from before folders ignores the
// offer, and the sender says so instead of waiting forever.
var folderSeenWait = 20 * time.Second

// folderID derives a stable id from the encoded manifest, so offering the
// same unchanged tree again (after a reconnect or a restart) lets the
// receiver find the folder and the files it already has.
func folderID(enc []byte) string {
	h := sha256.New()
	h.Write([]byte("parley folder\n"))
	h.Write(enc)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// SendFolder offers the tree at dir as one item, streams its files one
// after the other once accepted (each with its own SHA-256 check; on a
// new Conn, files the receiver already has are not sent again, and a
// partial one resumes), and waits for the receiver to confirm the whole
// folder. Symbolic links are never followed: they are left out and
// counted, as are devices, sockets and pipes. Errors are those of Send,
// plus ErrFolderTooLarge, ErrPeerRejectedFolder and ErrPeerNoFolders.
func (c *Conn) SendFolder(ctx context.Context, dir string) (Progress, error) {
	if err := c.stopped(); err != nil {
		return Progress{}, err
	}
	m, src, err := walkFolder(ctx, dir)
	if err != nil {
		return Progress{}, err
	}
	enc := m.encode()
	id := folderID(enc)
	log := c.log.With("id", id, "size", m.total, "files", m.files)

	o, done, err := c.registerOutgoing(id)
	if err != nil {
		return Progress{}, err
	}
	defer done()

	skipped := int(m.SkippedLinks) + int(m.SkippedSpecial)
	var tmu sync.Mutex
	tr := newTracker(Progress{ID: id, Name: m.Name, Outgoing: true, Total: m.total,
		Folder: true, Files: m.files, Skipped: skipped}, c.now)
	fail := func(err error) (Progress, error) {
		tmu.Lock()
		p := tr.finish(err, "")
		tmu.Unlock()
		c.emit(p)
		log.Info("transfer: folder send failed", "err", err)
		return p, err
	}

	// The offer and the manifest go straight to the stream, in order.
	if err := c.write(encodeFrame(frame{Type: typeFolderOffer, ID: id, Size: int64(len(enc)), SHA256: sha256.Sum256(enc)})); err != nil {
		return fail(fmt.Errorf("%w: %w", ErrClosed, err))
	}
	for off := 0; off < len(enc); off += ChunkSize {
		end := min(off+ChunkSize, len(enc))
		if err := c.write(encodeFrame(frame{Type: typeFolderPart, ID: id, Data: enc[off:end]})); err != nil {
			return fail(fmt.Errorf("%w: %w", ErrClosed, err))
		}
	}
	// The last of a big manifest may still be on its way over a slow link
	// (the stream buffers megabytes): one more second per 32 KiB.
	seen := time.NewTimer(folderSeenWait + time.Duration(len(enc)>>15)*time.Second)
	defer seen.Stop()
	select {
	case ans := <-o.events:
		if ans.Type != typeFolderSeen {
			return fail(folderAnswerErr(ans))
		}
	case <-seen.C:
		return fail(ErrPeerNoFolders)
	case <-o.canceled:
		c.queue(frame{Type: typeCancel, ID: id, Code: roleSender})
		return fail(ErrCanceled)
	case <-ctx.Done():
		c.queue(frame{Type: typeCancel, ID: id, Code: roleSender})
		return fail(fmt.Errorf("%w: %w", ErrCanceled, ctx.Err()))
	case <-c.done:
		return fail(ErrClosed)
	case <-c.ended:
		return fail(ErrClosed)
	}
	ans, err := c.await(ctx, id, o)
	if err != nil {
		return fail(err)
	}
	if ans.Type != typeAccept {
		return fail(folderAnswerErr(ans))
	}
	tmu.Lock()
	p, _ := tr.update(0)
	tmu.Unlock()
	c.emit(p)

	// Files one after the other; a cancel of the folder (by either side)
	// cancels the file in flight.
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The watcher keeps what it took: a negative answer mid-folder, or the
	// receiver's final answer arriving with the last file's.
	var (
		smu     sync.Mutex
		stopErr error
		got     *frame
	)
	watchStop := make(chan struct{})
	watchEnded := make(chan struct{})
	stopWatch := sync.OnceFunc(func() { close(watchStop); <-watchEnded })
	defer stopWatch()
	go func() {
		defer close(watchEnded)
		select {
		case ans := <-o.events:
			smu.Lock()
			got = &ans
			if ans.Type != typeDone {
				stopErr = folderAnswerErr(ans)
			}
			smu.Unlock()
			if ans.Type != typeDone {
				cancel()
			}
		case <-o.canceled:
			c.queue(frame{Type: typeCancel, ID: id, Code: roleSender})
			smu.Lock()
			stopErr = ErrCanceled
			smu.Unlock()
			cancel()
		case <-watchStop:
		}
	}()
	var doneBytes int64
	filesDone := 0
	for i, e := range m.Entries {
		if e.Kind != entryFile {
			continue
		}
		base := doneBytes
		ff := &folderFile{folder: id, index: uint32(i), size: e.Size, progress: func(fp Progress) {
			if fp.Done {
				return
			}
			tmu.Lock()
			p, ok := tr.update(base + fp.Bytes)
			tmu.Unlock()
			if ok {
				c.emit(p)
			}
		}}
		if _, err := c.send(fctx, src[i], ff); err != nil {
			smu.Lock()
			se := stopErr
			smu.Unlock()
			if se != nil {
				err = se
			}
			return fail(err)
		}
		doneBytes += e.Size
		filesDone++
		tmu.Lock()
		tr.p.FilesDone = filesDone
		p, ok := tr.update(doneBytes)
		tmu.Unlock()
		if ok {
			c.emit(p)
		}
	}
	stopWatch()
	smu.Lock()
	se, last := stopErr, got
	smu.Unlock()
	if se != nil {
		return fail(se)
	}
	if last != nil {
		ans = *last
	} else if ans, err = c.await(ctx, id, o); err != nil {
		return fail(err)
	}
	if ans.Type != typeDone {
		return fail(folderAnswerErr(ans))
	}
	tmu.Lock()
	p = tr.finish(nil, "")
	tmu.Unlock()
	c.emit(p)
	log.Info("transfer: folder sent")
	return p, nil
}

// folderAnswerErr maps a receiver's negative answer to a folder offer.
func folderAnswerErr(f frame) error {
	switch {
	case f.Type == typeDecline:
		return ErrDeclined
	case f.Type == typeFail && f.Code == failBadFolder:
		return ErrPeerRejectedFolder
	}
	return answerErr(f)
}
