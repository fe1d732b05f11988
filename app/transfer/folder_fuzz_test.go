package transfer

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeManifest: a manifest from the peer never panics the decoder
// or the path checks; what decodes re-encodes to the same bytes, and what
// validates stays inside the tree, each entry on a name of its own.
func FuzzDecodeManifest(f *testing.F) {
	f.Add((&manifest{Name: "photos", SkippedLinks: 1, Entries: []manifestEntry{
		dirEntry("a"), {Kind: entryFile, Exec: true, Size: 3, Path: "a/run.sh"}, fileEntry(".x", 0),
	}}).encode())
	f.Add((&manifest{Name: "x", Entries: []manifestEntry{fileEntry("../y", 1)}}).encode())
	f.Add((&manifest{Name: "x", Entries: []manifestEntry{fileEntry("a", 1), fileEntry("a/b", 1)}}).encode())
	f.Add([]byte("PFM1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeManifest(b)
		if err != nil {
			return
		}
		if !bytes.Equal(m.encode(), b) {
			t.Fatal("decoded manifest does not re-encode to its bytes")
		}
		plan, err := validateManifest(m)
		if err != nil {
			return
		}
		if plan.name == "" || strings.ContainsAny(plan.name, `/\`) || plan.name == "." || plan.name == ".." {
			t.Fatalf("unsafe top folder name %q", plan.name)
		}
		top := "/dl/top"
		seen := map[string]bool{}
		for _, l := range plan.local {
			if seen[strings.ToLower(l)] {
				t.Fatalf("two entries land on %q", l)
			}
			seen[strings.ToLower(l)] = true
			p := filepath.Join(top, filepath.FromSlash(l))
			if !strings.HasPrefix(p, top+"/") {
				t.Fatalf("%q lands outside the tree at %q", l, p)
			}
			for _, c := range strings.Split(l, "/") {
				if c == "" || c == "." || c == ".." || strings.ContainsRune(c, '\\') || strings.ContainsRune(c, 0) {
					t.Fatalf("unsafe component %q", c)
				}
			}
		}
	})
}
