package room_test

import (
	"testing"

	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/room/storetest"
)

// TestRegistryContract runs the store contract against the in-memory
// registry; both "nodes" are the same Registry.
func TestRegistryContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, cfg room.Config) (room.Store, room.Store) {
		reg := room.NewRegistry(room.SystemClock(), cfg)
		t.Cleanup(func() { _ = reg.Close() })
		return reg, reg
	})
}
