package transfer

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
)

// What a peer may put on this computer's disk. Offer sizes come from the
// peer and are hostile: each offer is checked on its own, every sum
// saturates at math.MaxInt64 instead of wrapping, and what is accepted is
// bounded three ways: the auto-accept limit (without asking), the room's
// Budget (per room and session, asked or not) and the free disk space
// (KeepFreeBytes stays free).

// Defaults of Limits.
const (
	// DefaultMaxReceiveBytes is how much one room may receive in one
	// session: far above what people send each other in a sitting (a few
	// videos or disk images), small enough that a peer sending file after
	// file below the auto-accept limit stops long before a large disk is
	// full.
	DefaultMaxReceiveBytes int64 = 256 << 30
	// DefaultMaxReceiveFiles is how many files one room may receive in one
	// session (a flood of empty files costs no bytes, but inodes and a
	// list the user has to read).
	DefaultMaxReceiveFiles = 10000
)

// KeepFreeBytes is the free space an accepted file must leave on the
// download folder's disk: a full disk breaks the rest of the desktop
// (logins, editors, the browser), not only Parley.
const KeepFreeBytes int64 = 1 << 30

var (
	// ErrNoDownloadFolder is reported on the receiving side when an offer
	// was refused because there is no usable download folder (not
	// configured, not creatable, not owned by this user, or writable by
	// others).
	ErrNoDownloadFolder = errors.New("transfer: no usable download folder")
	// ErrDiskFull is reported on the receiving side when an offer was
	// refused (or a write failed) because the disk would fill up.
	ErrDiskFull = errors.New("transfer: not enough free disk space for the file")
	// ErrReceiveLimit is reported on the receiving side when an offer was
	// refused because the room's Budget for this session is used up.
	ErrReceiveLimit = errors.New("transfer: the room's limit for received files is reached")
	// ErrPeerRefused is returned by Send when the receiver refused the
	// offer because it cannot store the file (its disk, its limit for the
	// room, or its download folder). It wraps ErrDeclined: nothing was
	// sent, and offering the same file again will be refused again.
	ErrPeerRefused = fmt.Errorf("%w: the peer cannot store the file", ErrDeclined)
)

// Limits bound what one peer may store through one room in one session.
// Zero fields take the defaults.
type Limits struct {
	MaxBytes int64 // 0 = DefaultMaxReceiveBytes
	MaxFiles int   // 0 = DefaultMaxReceiveFiles
}

// Budget is what is left of Limits for one room in one session. A session
// makes a new Conn on every reconnect, so it shares one Budget between its
// Conns: a peer cannot reset the budget by dropping the connection. It is
// safe for concurrent use.
type Budget struct {
	max      int64
	maxFiles int

	mu    sync.Mutex
	bytes int64 // reserved or received
	files int
}

// NewBudget returns a full budget of l.
func NewBudget(l Limits) *Budget {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxReceiveBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxReceiveFiles
	}
	return &Budget{max: l.MaxBytes, maxFiles: l.MaxFiles}
}

// check reports whether one more file of n bytes fits.
func (b *Budget) check(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.checkLocked(n)
}

func (b *Budget) checkLocked(n int64) error {
	if n < 0 || n > b.max-b.bytes || b.files >= b.maxFiles {
		return ErrReceiveLimit
	}
	return nil
}

// checkMany reports whether files files of n bytes in all (a folder) fit.
func (b *Budget) checkMany(n int64, files int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n < 0 || n > b.max-b.bytes || files > b.maxFiles-b.files {
		return ErrReceiveLimit
	}
	return nil
}

// reserve takes one file of n bytes from the budget.
func (b *Budget) reserve(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkLocked(n); err != nil {
		return err
	}
	b.bytes += n
	b.files++
	return nil
}

// release gives back n bytes and one file of a transfer that did not
// complete.
func (b *Budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bytes = max(b.bytes-max(n, 0), 0)
	b.files = max(b.files-1, 0)
}

// Used returns the bytes and files received or reserved so far.
func (b *Budget) Used() (bytes int64, files int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes, b.files
}

// satAdd adds two non-negative sizes, saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a < 0 || b < 0 {
		return math.MaxInt64 // never happens with checked sizes: be safe
	}
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// PrepareDownloadDir makes dir usable as a download folder: created 0700
// when missing; when it exists, it must be a directory owned by this user
// and not writable by anyone else (a shared or planted folder would let
// another account read, replace or pre-create what the peer sends). The
// error wraps ErrNoDownloadFolder and says why.
func PrepareDownloadDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("%w: none configured", ErrNoDownloadFolder)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%w: %v", ErrNoDownloadFolder, err)
	}
	return checkDownloadDir(dir)
}

// checkDownloadDir checks an existing download folder (see
// PrepareDownloadDir). Symbolic links are followed: a user may keep the
// folder on another disk; what counts is who owns the folder files land in.
func checkDownloadDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoDownloadFolder, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: it is not a folder", ErrNoDownloadFolder)
	}
	if err := checkPrivate(st); err != nil {
		return fmt.Errorf("%w: %v", ErrNoDownloadFolder, err)
	}
	return nil
}
