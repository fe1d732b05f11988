//go:build linux

package transfer

import (
	"math"

	"golang.org/x/sys/unix"
)

// diskFree returns the bytes an unprivileged user may still write on the
// file system holding dir (statfs f_bavail), and whether it is known.
func diskFree(dir string) (int64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Bsize <= 0 {
		return 0, false
	}
	bsize := uint64(st.Bsize)
	if st.Bavail > math.MaxInt64/bsize {
		return math.MaxInt64, true
	}
	return int64(st.Bavail * bsize), true
}
