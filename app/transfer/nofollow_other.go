//go:build !unix

package transfer

import (
	"io/fs"
	"os"
)

// openNoFollow opens path like os.OpenFile but never through a link at its
// last element. Without O_NOFOLLOW (Windows) it checks before and after
// opening (openNoFollowChecked).
func openNoFollow(path string, flag int, perm fs.FileMode) (*os.File, error) {
	return openNoFollowChecked(path, flag, perm)
}
