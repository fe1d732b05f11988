//go:build linktest

// Package linktest runs two parley-cli processes in Linux network
// namespaces joined by an emulated real link (internal/linkem: rate,
// delay, random loss, a drop-tail queue), with parley-signal in a third
// namespace on the path: a transfer over a lossy link arrives
// byte-identical, a transfer resumes after the link drops for 10 s, and
// both processes exit promptly once the receiver has verified the file.
//
// It needs root (ip netns, /dev/net/tun) and runs with the linktest build
// tag: `make test-link`, which `make test` calls. Everything it creates is
// inside namespaces named parley-link-*, removed when the test ends. The
// emulator runs inside the test process.
package linktest
