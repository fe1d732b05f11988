package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// maxFolders bounds the folders received (or being described) at once
// over one connection; each buffers its manifest.
const maxFolders = 2

// Incoming folder states.
const (
	folderAssembling = iota // manifest parts arriving
	folderPending           // deciding / creating the folders
	folderAccepted          // files expected
	folderFinishing         // every file in, cleaning up
	folderEnded
)

// stagingPrefix names the hidden folder beside a received tree that holds
// its partial files and the name of the tree's top folder, until the tree
// is complete (".parley-folder-<id>").
const stagingPrefix = ".parley-folder-"

// inFolder is one folder this side is receiving.
type inFolder struct {
	id string

	abortOnce sync.Once
	aborted   chan struct{}

	mu        sync.Mutex // guards the fields below
	state     int
	reported  bool
	want      int
	sum       [32]byte
	buf       []byte
	plan      *folderPlan
	offer     Offer
	top       string // absolute path of the tree's top folder
	staging   string
	resumed   bool // the top folder is an earlier attempt's
	got       []bool
	active    []bool
	filesDone int
	doneBytes int64
	tr        *tracker
}

func (fo *inFolder) abort() { fo.abortOnce.Do(func() { close(fo.aborted) }) }

// handleFolderOffer starts collecting a folder's manifest.
func (c *Conn) handleFolderOffer(f frame) {
	c.mu.Lock()
	if c.folders[f.ID] != nil {
		c.mu.Unlock()
		c.log.Warn("transfer: duplicate folder offer ignored", "id", f.ID)
		return
	}
	if len(c.folders) >= maxFolders {
		c.mu.Unlock()
		c.log.Warn("transfer: too many incoming folders at once; declining", "id", f.ID)
		c.queue(frame{Type: typeDecline, ID: f.ID})
		return
	}
	if f.Size < int64(len(manifestMagic)) || f.Size > maxManifestBytes {
		c.mu.Unlock()
		c.log.Warn("transfer: folder manifest size out of bounds; refused", "id", f.ID)
		c.queue(frame{Type: typeFail, ID: f.ID, Code: failBadFolder})
		return
	}
	fo := &inFolder{
		id: f.ID, aborted: make(chan struct{}), want: int(f.Size), sum: f.SHA256,
		buf: make([]byte, 0, min(int(f.Size), 1<<20)),
		tr:  newTracker(Progress{ID: f.ID, Name: "folder", Folder: true}, c.now),
	}
	c.folders[f.ID] = fo
	c.mu.Unlock()
}

// handleFolderPart adds a piece of a manifest; once complete, the manifest
// is checked whole and the folder decided on a goroutine of its own.
func (c *Conn) handleFolderPart(ctx context.Context, f frame) {
	c.mu.Lock()
	fo := c.folders[f.ID]
	c.mu.Unlock()
	if fo == nil {
		return
	}
	fo.mu.Lock()
	if fo.state != folderAssembling {
		fo.mu.Unlock()
		return
	}
	if len(fo.buf)+len(f.Data) > fo.want {
		fo.mu.Unlock()
		c.rejectFolder(fo, fmt.Errorf("%w: manifest longer than offered", ErrBadFolder))
		return
	}
	fo.buf = append(fo.buf, f.Data...)
	if len(fo.buf) < fo.want {
		fo.mu.Unlock()
		return
	}
	enc := fo.buf
	fo.buf = nil
	fo.state = folderPending
	fo.mu.Unlock()

	if sha256.Sum256(enc) != fo.sum {
		c.rejectFolder(fo, fmt.Errorf("%w: manifest does not match its hash", ErrBadFolder))
		return
	}
	m, err := decodeManifest(enc)
	if err != nil {
		c.rejectFolder(fo, err)
		return
	}
	plan, err := validateManifest(m)
	if err != nil {
		c.rejectFolder(fo, err)
		return
	}
	skipped := int(m.SkippedLinks) + int(m.SkippedSpecial)
	fo.mu.Lock()
	fo.plan = plan
	fo.got = make([]bool, len(m.Entries))
	fo.active = make([]bool, len(m.Entries))
	fo.offer = Offer{ID: fo.id, Name: m.Name, Size: m.total, Folder: true, Files: m.files, Skipped: skipped}
	fo.tr.p.Name, fo.tr.p.Total, fo.tr.p.Files, fo.tr.p.Skipped = plan.name, m.total, m.files, skipped
	fo.mu.Unlock()
	c.queue(frame{Type: typeFolderSeen, ID: fo.id})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.decideFolder(ctx, fo)
	}()
}

// rejectFolder refuses an unsafe or malformed folder offer.
func (c *Conn) rejectFolder(fo *inFolder, err error) {
	c.log.Warn("transfer: folder refused", "id", fo.id, "err", err)
	c.queue(frame{Type: typeFail, ID: fo.id, Code: failBadFolder})
	c.endFolder(fo, err, "")
}

// decideFolder accepts or declines a folder, as a whole, and creates its
// folders.
func (c *Conn) decideFolder(ctx context.Context, fo *inFolder) {
	fo.mu.Lock()
	offer, plan := fo.offer, fo.plan
	fo.mu.Unlock()
	log := c.log.With("id", fo.id, "size", offer.Size, "files", offer.Files)
	refuse := func(err error) {
		log.Info("transfer: folder refused", "reason", refusalReason(err))
		if c.cfg.DownloadDir == "" {
			c.queue(frame{Type: typeDecline, ID: fo.id})
		} else {
			c.queue(frame{Type: typeFail, ID: fo.id, Code: failCannotStore})
		}
		c.endFolder(fo, err, "")
	}
	if err := PrepareDownloadDir(c.cfg.DownloadDir); err != nil {
		refuse(err)
		return
	}
	if err := c.cfg.Budget.checkMany(offer.Size, offer.Files); err != nil {
		refuse(err)
		return
	}
	if err := c.diskRoom(offer.Size, nil); err != nil {
		refuse(err)
		return
	}
	if !c.askFolder(ctx, fo, offer) {
		select {
		case <-ctx.Done():
			return
		case <-fo.aborted:
			return
		default:
		}
		log.Info("transfer: folder declined")
		c.queue(frame{Type: typeDecline, ID: fo.id})
		c.endFolder(fo, ErrDeclined, "")
		return
	}
	if err := c.prepareFolder(fo, plan); err != nil {
		if ctx.Err() != nil {
			return
		}
		log.Warn("transfer: create received folder", "err", err)
		c.queue(frame{Type: typeFail, ID: fo.id, Code: failReceiver})
		c.endFolder(fo, err, "")
		return
	}
	fo.mu.Lock()
	if fo.state != folderPending {
		fo.mu.Unlock()
		return
	}
	fo.state = folderAccepted
	p, _ := fo.tr.update(0)
	empty := offer.Files == 0
	if empty {
		fo.state = folderFinishing
	}
	fo.mu.Unlock()
	c.queue(frame{Type: typeAccept, ID: fo.id})
	c.emit(p)
	if empty {
		c.finishFolder(fo)
	}
}

// askFolder applies the auto-accept limit to the whole tree and asks
// Config.Ask otherwise.
func (c *Conn) askFolder(ctx context.Context, fo *inFolder, offer Offer) bool {
	limit := c.cfg.AutoAcceptMax
	if limit > 0 && offer.Size <= limit && c.incomingBytes() <= limit {
		return true
	}
	if c.cfg.Ask == nil {
		return false
	}
	answer := make(chan bool, 1)
	go func() { answer <- c.cfg.Ask(offer) }()
	select {
	case ok := <-answer:
		return ok
	case <-ctx.Done():
		return false
	case <-fo.aborted:
		return false
	}
}

// prepareFolder finds the top folder of an earlier attempt at the same
// folder (through its staging folder) or creates a new one that never
// replaces anything ("photos", "photos (1)", ...), then creates every
// folder of the tree inside it.
func (c *Conn) prepareFolder(fo *inFolder, plan *folderPlan) error {
	c.prepMu.Lock()
	defer c.prepMu.Unlock()
	dir := c.cfg.DownloadDir
	staging := filepath.Join(dir, stagingPrefix+fo.id)
	top := ""
	if st, err := os.Lstat(staging); err == nil {
		if st.IsDir() {
			if name, ok := readTopName(filepath.Join(staging, "target")); ok {
				if tst, err := os.Lstat(filepath.Join(dir, name)); err == nil && tst.IsDir() {
					top = filepath.Join(dir, name)
				}
			}
		}
		if top == "" {
			if err := os.RemoveAll(staging); err != nil {
				return fmt.Errorf("transfer: remove stale staging folder: %w", err)
			}
		}
	}
	resumed := top != ""
	if !resumed {
		if err := os.Mkdir(staging, 0o700); err != nil {
			return fmt.Errorf("transfer: create staging folder: %w", err)
		}
		stem := plan.name
		for i := 0; i < 10000 && top == ""; i++ {
			cand := stem
			if i > 0 {
				cand = stem + " (" + strconv.Itoa(i) + ")"
			}
			err := os.Mkdir(filepath.Join(dir, cand), 0o700)
			if err == nil {
				top = filepath.Join(dir, cand)
				break
			}
			if !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("transfer: create folder: %w", err)
			}
		}
		if top == "" {
			return errors.New("transfer: no free folder name")
		}
		if err := writeExcl(filepath.Join(staging, "target"), []byte(filepath.Base(top))); err != nil {
			return err
		}
	}
	for i, e := range plan.m.Entries {
		if e.Kind != entryDir {
			continue
		}
		if err := mkdirIn(top, plan.local[i]); err != nil {
			return err
		}
	}
	_ = syncDir(dir)
	fo.mu.Lock()
	fo.top, fo.staging, fo.resumed = top, staging, resumed
	fo.mu.Unlock()
	return nil
}

// readTopName reads the top folder's name from a staging folder: one path
// element, nothing that leaves the download folder.
func readTopName(path string) (string, bool) {
	f, err := openNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return "", false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSafeName+32))
	name := string(b)
	if err != nil || name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return "", false
	}
	return name, true
}

// mkdirIn creates the folder rel (validated, '/'-separated) below top. An
// existing one (a resumed tree) must be a folder, not a link.
func mkdirIn(top, rel string) error {
	p := filepath.Join(top, filepath.FromSlash(rel))
	err := os.Mkdir(p, 0o700)
	if err == nil {
		return nil
	}
	if errors.Is(err, os.ErrExist) {
		if st, lerr := os.Lstat(p); lerr == nil && st.IsDir() {
			return nil
		}
		return errors.New("transfer: a folder of the tree exists and is not a folder")
	}
	return fmt.Errorf("transfer: create folder: %w", err)
}

// handleFolderFile registers the offer of one file of an accepted folder.
// It goes through decide like a single file, without asking again.
func (c *Conn) handleFolderFile(ctx context.Context, f frame) {
	c.mu.Lock()
	fo := c.folders[f.Folder]
	c.mu.Unlock()
	if fo == nil {
		c.queue(frame{Type: typeDecline, ID: f.ID})
		return
	}
	fo.mu.Lock()
	if fo.state != folderAccepted {
		fo.mu.Unlock()
		c.queue(frame{Type: typeDecline, ID: f.ID})
		return
	}
	plan := fo.plan
	idx := int(f.Index)
	if idx >= len(plan.m.Entries) || plan.m.Entries[idx].Kind != entryFile ||
		plan.m.Entries[idx].Size != f.Size || fo.got[idx] || fo.active[idx] {
		fo.mu.Unlock()
		c.queue(frame{Type: typeFail, ID: f.ID, Code: failReceiver})
		c.log.Warn("transfer: folder file offer does not match the manifest", "id", fo.id)
		c.queue(frame{Type: typeFail, ID: fo.id, Code: failReceiver})
		c.endFolder(fo, fmt.Errorf("%w: file offer does not match the folder", ErrProtocol), "")
		return
	}
	local := plan.local[idx]
	target := filepath.Join(fo.top, filepath.FromSlash(local))
	fo.active[idx] = true
	fo.mu.Unlock()
	in := &incoming{
		offer:   Offer{ID: f.ID, Name: f.Folder, Size: f.Size, SHA256: f.SHA256},
		name:    filepath.Base(target),
		aborted: make(chan struct{}),
		folder:  fo,
		index:   idx,
		target:  target,
		exec:    plan.m.Entries[idx].Exec,
	}
	in.tr = newTracker(Progress{ID: f.ID, Name: in.name, Total: f.Size}, c.now)
	c.mu.Lock()
	if c.in[f.ID] != nil || len(c.in) >= MaxIncoming {
		c.mu.Unlock()
		fo.mu.Lock()
		fo.active[idx] = false
		fo.mu.Unlock()
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

// folderFileHave reports whether an earlier attempt at the folder already
// saved this file (same size and SHA-256 at its place): it is not sent
// again.
func (c *Conn) folderFileHave(ctx context.Context, in *incoming) bool {
	fo := in.folder
	fo.mu.Lock()
	resumed := fo.resumed
	fo.mu.Unlock()
	if !resumed {
		return false
	}
	st, err := os.Lstat(in.target)
	if err != nil || !st.Mode().IsRegular() || st.Size() != in.offer.Size {
		return false
	}
	f, err := openNoFollow(in.target, os.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	sum, _, err := hashFile(ctx, f)
	return err == nil && sum == in.offer.SHA256
}

// folderPartPaths are the partial file and its sidecar of a folder's file,
// in the folder's staging folder, named by the entry's index (no name of
// the peer's is used, so nothing in the tree can collide with them).
func folderPartPaths(in *incoming) (part, side string) {
	in.folder.mu.Lock()
	staging := in.folder.staging
	in.folder.mu.Unlock()
	n := strconv.Itoa(in.index)
	return filepath.Join(staging, n+".part"), filepath.Join(staging, n+".side")
}

// folderPartialHave is partialHave for a file of a folder.
func (c *Conn) folderPartialHave(in *incoming) int64 {
	part, side := folderPartPaths(in)
	sc, ours := readSidecar(side)
	st, err := os.Lstat(part)
	if ours && err == nil && st.Mode().IsRegular() && st.Size() <= in.offer.Size && bytes.Equal(sc, sidecarBytes(in.offer)) {
		return st.Size()
	}
	return 0
}

// prepareFolderPart is preparePart for a file of a folder.
func (c *Conn) prepareFolderPart(ctx context.Context, in *incoming) (int64, error) {
	part, side := folderPartPaths(in)
	want := sidecarBytes(in.offer)
	if sc, ours := readSidecar(side); ours && bytes.Equal(sc, want) && exists(part) {
		off, err := c.resumePart(ctx, in, part, side)
		if err == nil {
			return off, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		c.log.Warn("transfer: cannot resume partial file; starting over", "err", err)
	}
	_ = os.Remove(part)
	_ = os.Remove(side)
	return 0, in.startPart(part, side, want)
}

// folderBytes reports the folder's progress while one of its files has
// fileBytes written.
func (c *Conn) folderBytes(fo *inFolder, fileBytes int64) {
	fo.mu.Lock()
	if fo.reported {
		fo.mu.Unlock()
		return
	}
	p, ok := fo.tr.update(satAdd(fo.doneBytes, fileBytes))
	fo.mu.Unlock()
	if ok {
		c.emit(p)
	}
}

// folderFileDone counts a saved file of its folder and finishes the
// folder with its last file.
func (c *Conn) folderFileDone(in *incoming) {
	fo := in.folder
	fo.mu.Lock()
	if !fo.got[in.index] {
		fo.got[in.index] = true
		fo.filesDone++
		fo.doneBytes = satAdd(fo.doneBytes, in.offer.Size)
	}
	fo.active[in.index] = false
	fo.tr.p.FilesDone = fo.filesDone
	complete := fo.state == folderAccepted && fo.filesDone == fo.offer.Files
	if complete {
		fo.state = folderFinishing
	}
	p, ok := fo.tr.update(fo.doneBytes)
	fo.mu.Unlock()
	if ok && !complete {
		c.emit(p)
	}
	if complete {
		c.finishFolder(fo)
	}
}

// finishFolder removes the staging folder of a complete tree and tells
// both sides.
func (c *Conn) finishFolder(fo *inFolder) {
	fo.mu.Lock()
	staging, top, offer := fo.staging, fo.top, fo.offer
	fo.mu.Unlock()
	if err := os.RemoveAll(staging); err != nil {
		c.log.Warn("transfer: remove staging folder", "id", fo.id, "err", err)
	}
	_ = syncDir(c.cfg.DownloadDir)
	c.log.Info("transfer: folder received", "id", fo.id, "size", offer.Size, "files", offer.Files)
	c.queueFlushed(frame{Type: typeDone, ID: fo.id})
	if c.cfg.OnReceived != nil {
		c.cfg.OnReceived(offer, top)
	}
	c.endFolder(fo, nil, top)
}

// endFolder reports a folder's last progress event once and forgets it.
// Partial files stay in the staging folder for a resume unless the folder
// was canceled (then the staging folder is removed before the event).
func (c *Conn) endFolder(fo *inFolder, err error, path string) {
	fo.mu.Lock()
	if fo.reported {
		fo.mu.Unlock()
		return
	}
	fo.reported = true
	fo.state = folderEnded
	p := fo.tr.finish(err, path)
	staging := fo.staging
	fo.mu.Unlock()
	fo.abort()
	if errors.Is(err, ErrCanceled) && staging != "" {
		// A canceled folder is never resumed: its partial files go,
		// whichever frame ended it first (the cancel of the file being
		// received ends the folder before the folder's own cancel, which
		// then finds it ended).
		_ = os.RemoveAll(staging)
	}
	c.mu.Lock()
	if c.folders[fo.id] == fo {
		delete(c.folders, fo.id)
	}
	c.mu.Unlock()
	c.emit(p)
}

// cancelFolder cancels a folder being received (local: we canceled, so
// the sender is told). Its partial files are deleted; the files already
// saved stay. It reports whether a folder was found.
func (c *Conn) cancelFolder(id string, local bool) bool {
	c.mu.Lock()
	fo := c.folders[id]
	var files []string
	for fid, in := range c.in {
		if fo != nil && in.folder == fo {
			files = append(files, fid)
		}
	}
	c.mu.Unlock()
	if fo == nil {
		return false
	}
	fo.mu.Lock()
	if fo.state == folderFinishing || fo.state == folderEnded {
		fo.mu.Unlock()
		return false
	}
	fo.state = folderEnded
	staging := fo.staging
	fo.mu.Unlock()
	fo.abort()
	for _, fid := range files {
		c.cancelIncoming(fid, local)
	}
	if staging != "" {
		_ = os.RemoveAll(staging)
	}
	if local {
		c.queue(frame{Type: typeCancel, ID: id, Code: roleReceiver})
	}
	c.endFolder(fo, ErrCanceled, "")
	return true
}

// abortFolders ends every folder still in flight when Run stops; partial
// files stay for a resume.
func (c *Conn) abortFolders() {
	c.mu.Lock()
	fos := make([]*inFolder, 0, len(c.folders))
	for _, fo := range c.folders {
		fos = append(fos, fo)
	}
	c.mu.Unlock()
	for _, fo := range fos {
		c.endFolder(fo, ErrClosed, "")
	}
}
