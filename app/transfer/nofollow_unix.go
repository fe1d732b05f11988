//go:build unix

package transfer

import (
	"io/fs"
	"os"
	"syscall"
)

// openNoFollow opens path like os.OpenFile but never through a symbolic
// link at its last element: the kernel refuses it (O_NOFOLLOW), so a link
// planted in the download folder cannot redirect a write.
func openNoFollow(path string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag|syscall.O_NOFOLLOW, perm)
}
