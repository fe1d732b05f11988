package buildinfo

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	t.Parallel()
	deps := []*debug.Module{
		{Path: "github.com/pion/webrtc/v4", Version: "v4.2.26"},
		{Path: "github.com/gen2brain/malgo", Version: "v0.11.24"},
		{Path: "example.com/new", Version: "v1.0.0"},
		{Path: "golang.org/x/sys", Version: "v0.1.0", Replace: &debug.Module{Path: "golang.org/x/sys", Version: "v0.2.0"}},
		{Path: "github.com/pion/sctp", Version: "v1.12.2", Replace: &debug.Module{Path: "./third_party/pion-sctp"}},
	}
	tests := []struct {
		name     string
		settings []debug.BuildSetting
		commit   string
	}{
		{"clean", []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "false"}}, "0123456789ab"},
		{"dirty", []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}, "0123456789ab-dirty"},
		{"no vcs", nil, "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			info := fromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.8", Settings: tc.settings, Deps: deps})
			if info.Commit != tc.commit {
				t.Errorf("Commit = %q, want %q", info.Commit, tc.commit)
			}
			if info.Version != version || info.GoVersion != "go1.26.8" {
				t.Errorf("Version, GoVersion = %q, %q", info.Version, info.GoVersion)
			}
			if !strings.Contains(info.String(), "commit "+tc.commit) {
				t.Errorf("String() = %q", info.String())
			}
			got := map[string]Component{}
			for _, c := range info.Components {
				got[c.Name] = c
			}
			want := map[string]Component{
				"github.com/pion/webrtc/v4":               {"github.com/pion/webrtc/v4", "v4.2.26", "MIT"},
				"example.com/new":                         {"example.com/new", "v1.0.0", "unknown"},
				"golang.org/x/sys":                        {"golang.org/x/sys", "v0.2.0", "BSD-3-Clause"},
				"github.com/pion/sctp":                    {"github.com/pion/sctp", "v1.12.2 (patched)", "MIT"},
				"miniaudio (vendored by gen2brain/malgo)": {"miniaudio (vendored by gen2brain/malgo)", "0.11.23", "Unlicense OR MIT-0"},
			}
			for name, w := range want {
				if got[name] != w {
					t.Errorf("component %s = %+v, want %+v", name, got[name], w)
				}
			}
			// Bundled C code appears only with the module that vendors it.
			if _, ok := got["libopus (vendored by pion/mediadevices)"]; ok {
				t.Error("libopus listed without pion/mediadevices")
			}
		})
	}
	if info := fromBuildInfo(nil); info.Commit != "unknown" || info.Version != version {
		t.Errorf("fromBuildInfo(nil) = %+v", info)
	}
}

// TestEveryLinkedModuleHasALicense asks the go command which modules the
// three shipped binaries link (the desktop app with its release tags) and
// fails for any that licenses.go does not name, so the About view never
// says "unknown".
func TestEveryLinkedModuleHasALicense(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	args := [][]string{
		{"-tags", "desktop,production,webkit2_41", "github.com/parley-chat/parley"},
		{"./app/cmd/parley-cli", "./signaling/cmd/parley-signal"},
	}
	for _, goos := range []string{"linux", "windows", "darwin"} {
		for _, a := range args {
			cmd := exec.Command("go", append([]string{"list", "-e", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}}{{end}}{{end}}"}, a...)...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOOS="+goos)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("GOOS=%s go list %v: %v", goos, a, err)
			}
			for _, m := range strings.Fields(string(out)) {
				if _, ok := goLicenses[m]; !ok {
					t.Errorf("GOOS=%s %v links %s: add its SPDX license to goLicenses", goos, a, m)
				}
			}
		}
	}
}

// TestBundledSvelteMatchesTheUI keeps the Svelte version shown in About
// equal to the one the UI is built with.
func TestBundledSvelteMatchesTheUI(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "frontend", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimLeft(pkg.DevDependencies["svelte"], "^~")
	for _, c := range bundled {
		if strings.HasPrefix(c.Name, "svelte ") && c.Version != want {
			t.Errorf("bundled svelte %s, frontend/package.json has %s", c.Version, want)
		}
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestLinkedCommitWins: the commit the Makefile links in is used even when
// the toolchain stamped a revision (or none, with -buildvcs=false).
// Not parallel: it sets the package variable the parallel tests read, and
// they start only after it returns.
func TestLinkedCommitWins(t *testing.T) {
	old := commit
	commit = "feedfacecafe-dirty"
	t.Cleanup(func() { commit = old })
	for _, settings := range [][]debug.BuildSetting{nil, {{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.modified", Value: "true"}}} {
		if got := fromBuildInfo(&debug.BuildInfo{Settings: settings}).Commit; got != "feedfacecafe-dirty" {
			t.Errorf("Commit = %q with settings %v", got, settings)
		}
	}
}
