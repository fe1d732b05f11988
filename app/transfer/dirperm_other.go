//go:build !unix

package transfer

import "io/fs"

// checkPrivate has no owner or mode bits to check outside Unix: the
// folder's ACL comes from the user's profile folder it is created in.
func checkPrivate(fs.FileInfo) error { return nil }
