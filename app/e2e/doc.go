// Package e2e holds parley-cli's process-level end-to-end tests: they build
// the real parley-signal and parley-cli binaries and drive them as separate
// processes, each profile with its own data dir and the real OS keyring.
package e2e
