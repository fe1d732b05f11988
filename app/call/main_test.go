package call

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Every call and PeerConnection a test starts must be gone when it ends.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitUntil polls cond every 20 ms until it holds, or fails the test
// after d with what.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s", d, what)
		case <-tick.C:
		}
	}
}
