package app

import "github.com/parley-chat/parley/internal/buildinfo"

// About says which Parley this is, for the About view: version, commit,
// Go toolchain, and the bundled components with their licenses.
func (a *App) About() buildinfo.Info {
	return buildinfo.Read()
}
