// Package e2e holds the process-level end-to-end tests of parley-signal:
// TestMain builds the real binary, each test runs it as a child process on
// 127.0.0.1 and drives it with two app/sigclient clients, exactly as two
// Parley apps would. The package has no code outside its tests.
package e2e
