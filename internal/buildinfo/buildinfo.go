// Package buildinfo says which Parley this binary is: its version, the
// commit it was built from, and the third-party components linked or
// bundled into it with their licenses (for `--version` and the About
// view). It reads what the Go toolchain stamped into the binary; it does
// not look at the network or the disk.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
)

// version is set at link time by the Makefile:
//
//	-ldflags "-X github.com/parley-chat/parley/internal/buildinfo.version=1.2.3"
//
// A plain `go build` leaves it "dev".
var version = "dev"

// commit is set at link time by the Makefile (git rev-parse), since Go's
// own VCS stamping is often off (GOFLAGS=-buildvcs=false, builds from a
// source tarball); when empty, the stamped vcs.revision is used.
var commit = ""

// Info describes one build.
type Info struct {
	// Version is the release version ("0.1.0"), or "dev".
	Version string `json:"version"`
	// Commit is the VCS revision, shortened to 12 hex digits, with
	// "-dirty" when the tree had uncommitted changes; "unknown" when the
	// binary was built outside a checkout (or with -buildvcs=false).
	Commit string `json:"commit"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"goVersion"`
	// Components are the third-party parts inside the binary, sorted by name.
	Components []Component `json:"components"`
}

// Component is one third-party part inside the binary.
type Component struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// License is an SPDX identifier, or "unknown" for a Go module missing
	// from the table in licenses.go (a test keeps that from shipping).
	License string `json:"license"`
}

// Read returns the Info of the running binary.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi)
}

// String is the one line `parley --version` prints.
func (i Info) String() string { return i.Line("parley") }

// Line is the version line of the program called name.
func (i Info) Line(name string) string {
	return name + " " + i.Version + " (commit " + i.Commit + ", " + i.GoVersion + ")"
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Version: version, Commit: "unknown", GoVersion: runtime.Version()}
	if commit != "" {
		info.Commit = commit
	}
	if bi == nil {
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && commit == "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "-dirty"
		}
		info.Commit = rev
	}
	info.Components = components(bi.Deps)
	return info
}

// components lists the linked Go modules, the Go runtime, and the parts
// that are bundled without being Go modules (the UI's runtime, C code
// vendored by a module).
func components(deps []*debug.Module) []Component {
	out := []Component{{Name: "Go standard library", Version: strings.TrimPrefix(runtime.Version(), "go"), License: "BSD-3-Clause"}}
	linked := map[string]bool{}
	for _, d := range deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		linked[d.Path] = true
		lic, ok := goLicenses[d.Path]
		if !ok {
			lic = "unknown"
		}
		version := m.Version
		if d.Replace != nil && version == "" {
			// Replaced by a directory in the repo: a patched copy.
			version = d.Version + " (patched)"
		}
		out = append(out, Component{Name: d.Path, Version: version, License: lic})
	}
	for _, b := range bundled {
		if b.with == "" || linked[b.with] {
			out = append(out, b.Component)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}
