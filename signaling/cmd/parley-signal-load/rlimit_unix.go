//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// raiseFileLimit raises RLIMIT_NOFILE towards want: the soft limit up to
// the hard one, and the hard one too when the process may (root). It
// returns the resulting soft limit and an error if it is below want.
func raiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	if lim.Max < want {
		raised := syscall.Rlimit{Cur: want, Max: want}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			return want, nil
		}
	}
	lim.Cur = min(want, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("setrlimit: %w", err)
	}
	if lim.Cur < want {
		return lim.Cur, fmt.Errorf("hard limit is %d", lim.Max)
	}
	return lim.Cur, nil
}
