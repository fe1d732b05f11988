//go:build !unix

package transfer

import "testing"

// makeSpecial: no named pipes in the file system here.
func makeSpecial(t *testing.T, path string) bool { return false }
