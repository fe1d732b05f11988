package peer

import (
	"bytes"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines after the internal and the
// external (package peer_test) tests of this package.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testRoom = "useandom26T198340PX75"

func testSecret(b byte) []byte { return bytes.Repeat([]byte{b}, 16) }

// waitUntil polls cond until it holds, for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
