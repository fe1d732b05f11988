//go:build parleytest

package main

import (
	"os"

	"github.com/parley-chat/parley/app/session"
)

// The end-to-end tests build parley-cli with -tags parleytest; release
// builds have none of this. PARLEY_TEST_CORRUPT_SEND=1 flips a byte of
// the first chunk each file sends, after hashing: the receiver must catch
// it and save nothing.
func init() {
	if os.Getenv("PARLEY_TEST_CORRUPT_SEND") != "1" {
		return
	}
	testHook = func(s *session.Session) {
		s.SetCorruptHookForTest(func(offset int64, chunk []byte) {
			if offset == 0 && len(chunk) > 0 {
				chunk[0] ^= 0xff
			}
		})
	}
}
