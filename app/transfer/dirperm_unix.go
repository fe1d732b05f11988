//go:build unix

package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkPrivate says why a download folder is not private to this user:
// owned by another account, or writable by its group or by everyone.
func checkPrivate(st fs.FileInfo) error {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("cannot tell who owns it")
	}
	if uid := os.Getuid(); int64(sys.Uid) != int64(uid) {
		return fmt.Errorf("it belongs to another user (uid %d, not %d)", sys.Uid, uid)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("other users may write into it (mode %04o; chmod go-w fixes it)", st.Mode().Perm())
	}
	return nil
}
