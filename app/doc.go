// Package app is the desktop backend's facade: the one type bound to the
// Wails window. The window itself arrives with the desktop-app issue; the
// core it will wrap lives in the subpackages (identity, history, sigclient,
// peer, chat, session) and is usable headless through cmd/parley-cli.
package app
