package main

import (
	"os"
	"runtime/pprof"
)

// startCPUProfile writes a CPU profile to the file named by
// PARLEY_CPU_PROFILE, for benchmarks (scripts/transferbench); it returns
// the function that stops it. Without the variable it does nothing.
func startCPUProfile() func() {
	path := os.Getenv("PARLEY_CPU_PROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }
}
