package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDockerfileBuildsEveryPlatform checks build/Dockerfile without a
// Docker engine: its build stage copies every directory of this module
// that parley-signal compiles from (a new import outside signaling/ would
// otherwise break only the image), and it cross-compiles for the target
// platform buildx asks for, instead of emulating it.
func TestDockerfileBuildsEveryPlatform(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if and .Module .Module.Main}}{{.Dir}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	modDir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	root := strings.TrimSpace(string(modDir))
	f, err := os.Open(filepath.Join(root, "build", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var copied, copiedBeforeDownload []string
	text := ""
	downloaded := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		text += line + "\n"
		if strings.HasPrefix(line, "RUN go mod download") && !downloaded {
			downloaded = true
			copiedBeforeDownload = append([]string(nil), copied...)
		}
		fields := strings.Fields(line)
		if len(fields) >= 3 && fields[0] == "COPY" && !strings.HasPrefix(fields[1], "--") {
			for _, src := range fields[1 : len(fields)-1] {
				copied = append(copied, strings.TrimSuffix(src, "/"))
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		for _, c := range copied {
			if rel == c || strings.HasPrefix(rel, c+"/") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("parley-signal compiles %s, which build/Dockerfile does not COPY (copied: %v)", rel, copied)
		}
	}
	// A module replaced by a directory of the repo (third_party/pion-sctp)
	// must be in the image before "go mod download", which reads its go.mod.
	edit, err := exec.Command("go", "mod", "edit", "-json", filepath.Join(root, "go.mod")).Output()
	if err != nil {
		t.Fatalf("go mod edit -json: %v", err)
	}
	var mod struct {
		Replace []struct {
			New struct{ Path, Version string }
		}
	}
	if err := json.Unmarshal(edit, &mod); err != nil {
		t.Fatal(err)
	}
	for _, r := range mod.Replace {
		if r.New.Version != "" {
			continue // another module version, from the proxy
		}
		dir := filepath.Clean(r.New.Path)
		if !slices.ContainsFunc(copiedBeforeDownload, func(c string) bool { return dir == c || strings.HasPrefix(dir, c+"/") }) {
			t.Errorf("go.mod replaces a module by %s, which build/Dockerfile does not COPY before 'RUN go mod download' (copied: %v)", dir, copiedBeforeDownload)
		}
	}
	for _, want := range []string{
		"FROM --platform=$BUILDPLATFORM golang:",
		"ARG TARGETARCH",
		"CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("build/Dockerfile lacks %q", want)
		}
	}
}
