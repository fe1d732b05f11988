// Package windowtest is the real-window end-to-end test of the desktop
// app: build/bin/parley under Xvfb, driven with xdotool, talking to a
// parley-cli peer through a real parley-signal.
//
// The test needs the desktop binary (cgo, GTK, WebKitGTK) and X tools, so
// it is behind the windowtest build tag: `make test` builds the app and
// runs it with -tags windowtest; plain `go test ./...` does not. With the
// tag, a missing binary or tool fails the test; nothing is skipped.
package windowtest
