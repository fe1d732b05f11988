//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package identity

// lockFile is a no-op where there is no flock: the file store then serialises
// writers within one store instance only. The file store is meant for
// headless Unix servers; desktops use the OS keyring.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }

// syncDir is a no-op: Windows cannot fsync a directory handle opened this way.
func syncDir(string) error { return nil }
