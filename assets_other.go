//go:build !desktop

package main

import "io/fs"

// assets is empty without the desktop tag: such a binary cannot open a
// window anyway (Wails prints how to build it), and leaving the embed out
// keeps `go vet ./...` and `go test ./...` working before the UI is built.
var assets fs.FS = emptyFS{}

type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}
