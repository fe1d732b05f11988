//go:build unix

package session

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSendFilesRefusesSpecialFiles: a named pipe (or a device, a socket)
// is neither a file nor a folder; it fails when queued.
func TestSendFilesRefusesSpecialFiles(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	s := bareSession(nil)
	if got := s.SendFiles([]string{fifo}); !errors.Is(got[0].Err, ErrUnsendable) || got[0].State != TransferFailed || len(s.transfers.queue) != 0 {
		t.Fatalf("%+v", got)
	}
}
