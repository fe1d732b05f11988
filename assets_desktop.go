//go:build desktop

package main

import (
	"embed"
	"io/fs"
)

// dist is the built UI (make build runs the frontend build first).
//
//go:embed all:frontend/dist
var dist embed.FS

// assets is the UI served at wails://wails/.
var assets = mustSub(dist, "frontend/dist")

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return s
}
