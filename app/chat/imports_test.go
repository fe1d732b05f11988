package chat

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoTransportImports keeps the package independent of pion and the
// network: it must work over any byte stream.
func TestNoTransportImports(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/pion/") || strings.Contains(dep, "wails") {
			t.Errorf("chat depends on %s", dep)
		}
	}
}
