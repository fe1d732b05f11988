package session

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/app/transfer"
)

// TransferProgress reports bytes moved for one file, either way.
type TransferProgress struct{ Progress transfer.Progress }

// FileReceived says a file from the peer was verified and saved at Path
// (or a whole folder, with Folder set: Path is its top folder, Size the
// sum of its Files files, Skipped what the sender left out).
type FileReceived struct {
	Name    string // the sanitized name it was saved under (base of Path)
	Path    string
	Size    int64
	Folder  bool
	Files   int
	Skipped int
}

func (TransferProgress) isEvent() {}

func baseName(path string) string { return filepath.Base(path) }

func (FileReceived) isEvent() {}

// startFiles runs the file-transfer protocol on the verified connection's
// files channel (peer.ChannelFiles), in the background. Transfers wait
// for it (SendFile waits while filesConn is nil). Without a usable files
// stream, files are simply not offered.
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
			Ask:           s.cfg.AskLargeFile,
			Budget:        s.budget,
			OnProgress:    func(p transfer.Progress) { s.emit(TransferProgress{Progress: p}) },
			OnReceived: func(o transfer.Offer, path string) {
				s.emit(FileReceived{Name: baseName(path), Path: path, Size: o.Size, Folder: o.Folder, Files: o.Files, Skipped: o.Skipped})
			},
			Logger:      s.log,
			CorruptHook: s.cfg.CorruptHook,
		})
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

// SendFile sends the file at path to the peer and returns once the peer
// has verified it. A folder is sent whole, as one item
// (transfer.Conn.SendFolder): symbolic links inside are left out, and path
// itself must not be a link to a folder. It waits for the peer while it is
// away, and when the connection drops mid-way it resumes on the next
// connection from what the peer already has. It gives up on ctx, a
// decline, a cancel, a hash mismatch or the end of the session.
func (s *Session) SendFile(ctx context.Context, path string) (transfer.Progress, error) {
	st, err := os.Lstat(path)
	if err == nil && st.Mode()&os.ModeSymlink != 0 {
		st, err = os.Stat(path) // a link to a file is sent as before
		if err == nil && st.IsDir() {
			return transfer.Progress{}, fmt.Errorf("send file: %s is a link to a folder (send the folder itself)", baseName(path))
		}
	}
	if err != nil {
		return transfer.Progress{}, fmt.Errorf("send file: %w", err)
	}
	folder := st.IsDir()
	if !folder && !st.Mode().IsRegular() {
		return transfer.Progress{}, fmt.Errorf("send file: %s is not a regular file", baseName(path))
	}
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
			return transfer.Progress{}, ctx.Err()
		case <-s.ctx.Done():
			s.mu.Lock()
			err := s.finalErr
			s.mu.Unlock()
			if err == nil {
				err = errors.New("session closed")
			}
			return transfer.Progress{}, err
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

// setFilesConn swaps the transfer connection and wakes SendFile waiters.
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

// CancelTransfer cancels a file transfer in either direction; the peer is
// told. It fails when no connection is up (an interrupted transfer is not
// running, so there is nothing to cancel until it resumes).
func (s *Session) CancelTransfer(id string) error {
	tc, _ := s.filesConn()
	if tc == nil {
		return ErrPeerOffline
	}
	return tc.Cancel(id)
}
