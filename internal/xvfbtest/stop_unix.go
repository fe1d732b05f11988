//go:build unix

package xvfbtest

import "syscall"

// stopSignal stops a process without ending it (Win.Pause).
const stopSignal = syscall.SIGSTOP
