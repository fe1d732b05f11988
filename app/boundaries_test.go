package app

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/parley-chat/parley"

// TestImportBoundaries enforces the house rules of STYLE.md over the whole
// module: who may import whom.
func TestImportBoundaries(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Imports,Standard", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath string
		Imports    []string
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}

	deps := func(p string) []string {
		out, err := exec.Command("go", "list", "-deps", p).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", p, err)
		}
		return strings.Fields(string(out))
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, module)
		for _, imp := range p.Imports {
			switch {
			case strings.Contains(imp, "wailsapp/wails") && rel != "" && rel != "/app":
				t.Errorf("%s imports Wails; only main.go and the app facade may", p.ImportPath)
			case strings.HasPrefix(rel, "/signaling") && strings.HasPrefix(imp, module+"/app"):
				t.Errorf("%s (server side) imports the app %s", p.ImportPath, imp)
			case (rel == "/app" || rel == "/app/cmd/parley-cli" || rel == "") && (imp == module+"/app/peer" || imp == module+"/app/sigclient" && rel != "/app/cmd/parley-cli"):
				// A room's life is the session's: the facade and the CLI
				// reach the peer connection (and the facade the signaling
				// client) only through app/session. (The CLI's verify
				// command reads a room's keys with sigclient itself.)
				t.Errorf("%s imports %s; it must go through app/session", p.ImportPath, imp)
			case strings.HasPrefix(imp, module+"/") && isTestKit(imp) && !isTestKit(p.ImportPath) && !strings.HasPrefix(rel, "/scripts/"):
				// Test kits (peertest, servertest, roomtest, ...) are for
				// tests and the bench scripts: no program or library
				// links them.
				t.Errorf("%s imports the test kit %s", p.ImportPath, imp)
			}
		}
	}
	// The wire format, the TURN credential format and the id helpers both
	// sides share (log tags, random ids) import only the standard library.
	// Ask go list which packages are standard: the standard library's own
	// crypto has dotted paths too (crypto/internal/entropy/v1.0.0).
	for _, p := range []string{"/signaling/protocol", "/signaling/turncred", "/internal/logid", "/internal/randid"} {
		nonStd, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+p).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", p, err)
		}
		for _, d := range strings.Fields(string(nonStd)) {
			if d != module+p {
				t.Errorf("%s depends on %s; it must use only the standard library", p, d)
			}
		}
	}
	// thumb decodes hostile files: it stays a leaf (the standard library
	// and golang.org/x/image only: no network, no other app package).
	nonStd, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+"/app/thumb").Output()
	if err != nil {
		t.Fatalf("go list -deps /app/thumb: %v", err)
	}
	for _, d := range strings.Fields(string(nonStd)) {
		if d != module+"/app/thumb" && !strings.HasPrefix(d, "golang.org/x/image/") {
			t.Errorf("/app/thumb depends on %s; it may use only the standard library and golang.org/x/image", d)
		}
	}
	// chat (and later transfer) speak over plain streams: no pion, no Wails.
	for _, p := range []string{"/app/chat", "/app/transfer", "/app/history", "/app/identity"} {
		for _, d := range deps(module + p) {
			if strings.HasPrefix(d, "github.com/pion/") || strings.Contains(d, "wailsapp") {
				t.Errorf("%s depends on %s", p, d)
			}
		}
	}
}

// isTestKit reports whether the package is a test kit: a package named
// *test (peertest, servertest, roomtest, proctest, ...) or one of the
// test-only packages of the module (e2e, windowtest, nattest, linktest).
func isTestKit(path string) bool {
	last := path[strings.LastIndex(path, "/")+1:]
	return strings.HasSuffix(last, "test") || last == "e2e" || last == "storetest"
}
