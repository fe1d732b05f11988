package transfer

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenNoFollow runs the same cases through the platform's open (the
// kernel's O_NOFOLLOW here) and the portable check used where that flag
// does not exist (Windows), so the fallback is tested on every system.
func TestOpenNoFollow(t *testing.T) {
	t.Parallel()
	opens := map[string]func(string, int, fs.FileMode) (*os.File, error){
		"platform": openNoFollow,
		"portable": openNoFollowChecked,
	}
	for name, open := range opens {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			victim := filepath.Join(dir, "victim")
			if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dir, "link")
			if err := os.Symlink(victim, link); err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name string
				path string
				flag int
				ok   bool
			}{
				{"regular file", victim, os.O_RDWR, true},
				{"link read", link, os.O_RDONLY, false},
				{"link write", link, os.O_RDWR, false},
				{"link create excl", link, os.O_WRONLY | os.O_CREATE | os.O_EXCL, false},
				{"new file excl", filepath.Join(dir, "new-"+name), os.O_WRONLY | os.O_CREATE | os.O_EXCL, true},
				{"missing", filepath.Join(dir, "missing"), os.O_RDONLY, false},
			}
			for _, tc := range tests {
				f, err := open(tc.path, tc.flag, 0o600)
				if (err == nil) != tc.ok {
					t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
				}
				if f != nil {
					if _, err := f.Write([]byte("x")); err != nil && tc.flag != os.O_RDONLY {
						t.Errorf("%s: write: %v", tc.name, err)
					}
					f.Close()
				}
			}
			if b, _ := os.ReadFile(victim); string(b) != "xeep" && string(b) != "keep" {
				t.Errorf("victim changed through the link: %q", b)
			}
		})
	}
}
