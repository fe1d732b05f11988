//go:build unix

package transfer

import (
	"syscall"
	"testing"
)

// makeSpecial creates a named pipe at path (a file the sender of a
// folder must skip) and reports whether this system has them.
func makeSpecial(t *testing.T, path string) bool {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return true
}
