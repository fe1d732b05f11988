// Package transfer sends and receives files over one byte stream (in
// Parley, the pre-negotiated files data channel, peer.ChannelFiles):
// streamed in bounded chunks, verified end to end with SHA-256, resumable
// after a disconnect or a crash, several files at once in both directions.
//
// Protocol. Frames are length-prefixed binary (see frame.go) and carry a
// transfer id derived from the file's SHA-256, size and name, so offering
// the same file again finds the receiver's partial copy. The sender hashes
// the file, offers {id, name, size, sha256}; the receiver accepts (with
// the offset it already holds) or declines; the sender streams raw chunks
// from that offset; the receiver hashes as it writes into
// "<name>.part" (with a ".<name>.parley-partial" sidecar recording the
// expected hash and size), then either fsyncs and links the file to a
// final name that never replaces an existing file and answers done, or
// deletes the partial file and answers fail (hash mismatch).
//
// The peer's names and frames are untrusted: names go through
// SanitizeName, files are created with O_EXCL|O_NOFOLLOW inside the
// download folder only, and every length and offset is checked against
// the offer. Offer sizes are bounded by the auto-accept limit, the room's
// Budget and the free disk space, and the download folder must be private
// to this user (limits.go).
//
// Folders (folder.go) go as one offer carrying the tree's manifest,
// accepted or declined once, then file by file with the same checks and
// resume. Every manifest path is checked before anything is written (no
// "..", absolute or empty parts, no path listed twice, no file used as a
// folder, bounded count, depth and length; names that collide once
// sanitized are renamed "name (1)"); the tree is
// created in a new top folder that never replaces an existing one, its
// partial files wait in a ".parley-folder-<id>" staging folder beside it,
// and only the executable bit of the modes is applied.
//
// This package must not import pion or Wails, and must not log file names
// or contents.
package transfer
