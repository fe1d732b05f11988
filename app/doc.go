// Package app is the desktop backend's facade: App is the one type bound
// to the Wails window (docs/app-api.md is the contract with the UI), and
// Lifecycle holds the window hooks main.go hands to wails.Run.
//
// The facade is thin: it delegates to the subpackages (profile, identity,
// history, sigclient, peer, chat, session), which are usable headless
// through cmd/parley-cli. It is the only package besides main that imports
// the Wails runtime, and only through the Window interface (window.go), so
// its tests run without a window, cgo or GTK.
package app
