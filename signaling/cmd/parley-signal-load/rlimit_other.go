//go:build !unix

package main

// raiseFileLimit has nothing to raise where there is no RLIMIT_NOFILE
// (Windows: the number of sockets is bounded by memory, not a per-process
// limit), so it reports want as granted.
func raiseFileLimit(want uint64) (uint64, error) { return want, nil }
