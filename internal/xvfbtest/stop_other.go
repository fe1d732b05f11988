//go:build !unix

package xvfbtest

import "os"

// stopSignal: there is no stop signal (nor an Xvfb) here; sending
// os.Interrupt fails on Windows, so Win.Pause reports an error.
var stopSignal = os.Interrupt
