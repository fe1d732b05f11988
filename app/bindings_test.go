package app

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestBindingsMatchGo: the UI's view of the facade is the one Go binds.
// Wails binds every exported method of *App; frontend/wailsjs holds the
// generated bindings (regenerate: wails generate module -tags webkit2_41),
// and frontend/src/lib/api.ts types the methods the UI calls. A method
// added, renamed or removed in Go without the other two fails here, with
// the argument count of each.
func TestBindingsMatchGo(t *testing.T) {
	goMethods := map[string]int{}
	typ := reflect.TypeFor[*App]()
	for m := range typ.Methods() {
		goMethods[m.Name] = m.Type.NumIn() - 1 // without the receiver
	}

	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	args := func(list string) int {
		if strings.TrimSpace(list) == "" {
			return 0
		}
		return strings.Count(list, ",") + 1
	}

	generated := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^export function (\w+)\(([^)]*)\)`).FindAllStringSubmatch(read("../frontend/wailsjs/go/app/App.d.ts"), -1) {
		generated[m[1]] = args(m[2])
	}
	if !sameArity(goMethods, generated) {
		t.Errorf("frontend/wailsjs is stale (run: wails generate module -tags webkit2_41):\n%s", bindingDiff(goMethods, generated))
	}

	api := read("../frontend/src/lib/api.ts")
	start := strings.Index(api, "interface WailsApp {")
	end := strings.Index(api[start:], "\n}")
	if start < 0 || end < 0 {
		t.Fatal("api.ts has no interface WailsApp")
	}
	for _, m := range regexp.MustCompile(`(?m)^  (\w+)\(([^)]*)\)`).FindAllStringSubmatch(api[start:start+end], -1) {
		n, ok := goMethods[m[1]]
		switch {
		case !ok:
			t.Errorf("api.ts calls %s, which Go does not bind", m[1])
		case n != args(m[2]):
			t.Errorf("api.ts gives %s %d arguments, Go takes %d", m[1], args(m[2]), n)
		}
	}
}

func sameArity(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func bindingDiff(goSide, ts map[string]int) string {
	var out []string
	for k, v := range goSide {
		if w, ok := ts[k]; !ok {
			out = append(out, "  missing in TypeScript: "+k)
		} else if w != v {
			out = append(out, "  argument count differs: "+k)
		}
	}
	for k := range ts {
		if _, ok := goSide[k]; !ok {
			out = append(out, "  not in Go: "+k)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
