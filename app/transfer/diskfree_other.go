//go:build !linux

package transfer

// diskFree is unknown outside Linux (diskfree_linux.go): offers are then
// bounded by the room's Budget only, and a full disk fails the write.
func diskFree(string) (int64, bool) { return 0, false }
