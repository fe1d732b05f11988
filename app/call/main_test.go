package call

import (
	"testing"

	"go.uber.org/goleak"
)

// Every call and PeerConnection a test starts must be gone when it ends.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
