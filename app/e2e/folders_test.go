package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// folderTree builds a tree with nested folders, an empty folder, an
// executable and a symbolic link, and returns the relative paths of its
// regular files.
func folderTree(t *testing.T, root string, sizes map[string]int64) []string {
	t.Helper()
	var files []string
	for rel, size := range sizes {
		dir := filepath.Join(root, filepath.Dir(filepath.FromSlash(rel)))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		randomFile(t, dir, filepath.Base(rel), size)
		files = append(files, rel)
	}
	for _, d := range []string{"empty", "nested/deeper/empty too"} {
		if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func TestFolderArrivesWhole(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	src := filepath.Join(t.TempDir(), "photos")
	files := folderTree(t, src, map[string]int64{
		"a.jpg": 300 << 10, "nested/b.jpg": 2 << 20, "nested/deeper/c.txt": 10, "tool.sh": 200,
	})
	if err := os.Chmod(filepath.Join(src, "tool.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	secret := randomFile(t, t.TempDir(), "secret", 100)
	if err := os.Symlink(secret, filepath.Join(src, "nested", "link")); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()

	recv := bob.start(nil, "receive", link, "--out", out, "--count", "1")
	recv.WaitStderr(`^waiting for peer$`, 1, step)
	send := alice.start(nil, "send", link, "--file", src)
	if got := recv.Line(2 * step); got != filepath.Join(out, "photos") {
		t.Fatalf("receiver printed %q, want the folder's path", got)
	}
	if code := send.Wait(step); code != 0 {
		t.Fatalf("send exited %d", code)
	}
	if code := recv.Wait(step); code != 0 {
		t.Fatalf("receive exited %d", code)
	}
	got := filepath.Join(out, "photos")
	for _, rel := range files {
		sameFile(t, filepath.Join(src, rel), filepath.Join(got, filepath.FromSlash(rel)))
	}
	if st, err := os.Stat(filepath.Join(got, "tool.sh")); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Fatalf("executable bit lost: %v %v", st.Mode(), err)
	}
	if st, err := os.Stat(filepath.Join(got, "a.jpg")); err != nil || st.Mode().Perm()&0o111 != 0 {
		t.Fatalf("a.jpg became executable: %v %v", st.Mode(), err)
	}
	for _, d := range []string{"empty", "nested/deeper/empty too"} {
		if st, err := os.Lstat(filepath.Join(got, filepath.FromSlash(d))); err != nil || !st.IsDir() {
			t.Fatalf("empty folder %s missing: %v", d, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(got, "nested", "link")); !os.IsNotExist(err) {
		t.Fatalf("the symbolic link was sent: %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 1 {
		t.Fatalf("download folder holds %d entries, want only the tree", len(entries))
	}
}

// TestKilledReceiverResumesFolder: the receiver is killed -9 mid-folder;
// the next receiver finishes the same tree, keeps the files it already had
// (not sent again: the same file on disk) and resumes the partial one.
func TestKilledReceiverResumesFolder(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	src := filepath.Join(t.TempDir(), "tree")
	files := folderTree(t, src, map[string]int64{"1.bin": 20 << 20, "2.bin": 150 << 20, "sub/3.bin": 1 << 20})
	out := t.TempDir()

	recv := bob.start(nil, "receive", link, "--out", out, "--count", "1")
	recv.WaitStderr(`^waiting for peer$`, 1, step)
	send := alice.start(nil, "send", link, "--file", src)

	// Kill the receiver once the first file is saved and the second is
	// well on its way.
	first := filepath.Join(out, "tree", "1.bin")
	deadline := time.Now().Add(step)
	var have int64
	for time.Now().Before(deadline) && have == 0 {
		parts, _ := filepath.Glob(filepath.Join(out, ".parley-folder-*", "*.part"))
		if _, err := os.Stat(first); err == nil && len(parts) == 1 {
			if st, err := os.Stat(parts[0]); err == nil && st.Size() > 20<<20 {
				have = st.Size()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if have == 0 {
		t.Fatal("no growing partial file of the second file appeared")
	}
	before, err := os.Stat(first)
	if err != nil {
		t.Fatal(err)
	}
	recv.Kill9()
	send.WaitStderr(`^peer left$`, 1, step)

	recv2 := bob.start(nil, "receive", link, "--out", out, "--count", "1")
	if got := recv2.Line(2 * step); got != filepath.Join(out, "tree") {
		t.Fatalf("receiver printed %q", got)
	}
	if code := send.Wait(step); code != 0 {
		t.Fatalf("send exited %d", code)
	}
	for _, rel := range files {
		sameFile(t, filepath.Join(src, rel), filepath.Join(out, "tree", filepath.FromSlash(rel)))
	}
	if after, err := os.Stat(first); err != nil || !os.SameFile(before, after) {
		t.Fatal("the file saved before the kill was received again")
	}
	if entries, _ := os.ReadDir(out); len(entries) != 1 {
		t.Fatalf("download folder holds %d entries after the resume, want only the tree", len(entries))
	}
	if entries, _ := os.ReadDir(filepath.Join(out, "tree")); len(entries) != 5 {
		t.Fatalf("tree holds %d entries, want 1.bin, 2.bin, sub, empty, nested", len(entries))
	}
}
