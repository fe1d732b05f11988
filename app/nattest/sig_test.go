//go:build nattest

package nattest

import "os"

var interruptSignal = os.Interrupt
