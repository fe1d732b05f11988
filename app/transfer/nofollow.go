package transfer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// errSymlink refuses a path that is a symbolic link (or another kind of
// link or reparse point that is not a regular file or folder).
var errSymlink = errors.New("is a symbolic link")

// openNoFollowChecked is the portable form of opening with O_NOFOLLOW, for
// systems without that flag (Windows): a name that is a link is refused
// before the open, and the opened file must be the very one that was
// checked, so a link swapped in between is caught too. With O_EXCL (and
// O_CREATE) nothing is followed anyway: an existing name, link or not,
// makes the open fail.
func openNoFollowChecked(path string, flag int, perm fs.FileMode) (*os.File, error) {
	if flag&os.O_EXCL != 0 && flag&os.O_CREATE != 0 {
		return os.OpenFile(path, flag, perm)
	}
	before, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if before.Mode()&fs.ModeSymlink != 0 || before.Mode()&fs.ModeIrregular != 0 {
		return nil, &fs.PathError{Op: "open", Path: path, Err: errSymlink}
	}
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		return nil, err
	}
	after, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !os.SameFile(before, after) {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: path, Err: errSymlink}
	}
	return f, nil
}
