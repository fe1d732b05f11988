package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// randomFile writes size random bytes to dir/name and returns its path.
func randomFile(t *testing.T, dir, name string, size int64) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	sum := func(p string) []byte {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			t.Fatal(err)
		}
		return h.Sum(nil)
	}
	if !bytes.Equal(sum(a), sum(b)) {
		t.Fatalf("%s and %s differ", a, b)
	}
}

func TestFileArrivesByteIdentical(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	src := randomFile(t, t.TempDir(), "big.bin", 100<<20)
	small := randomFile(t, t.TempDir(), "notes.txt", 1234)
	out := t.TempDir()

	recv := bob.start(nil, "receive", link, "--out", out, "--count", "2")
	recv.WaitStderr(`^waiting for peer$`, 1, step)
	alice.mustRun("send", link, "--file", src, "--file", small)
	got := map[string]bool{recv.Line(2 * step): true, recv.Line(step): true}
	for _, want := range []string{filepath.Join(out, "big.bin"), filepath.Join(out, "notes.txt")} {
		if !got[want] {
			t.Fatalf("receiver printed %v, want %s among them", got, want)
		}
	}
	if code := recv.Wait(step); code != 0 {
		t.Fatalf("receive exited %d", code)
	}
	sameFile(t, src, filepath.Join(out, "big.bin"))
	sameFile(t, small, filepath.Join(out, "notes.txt"))
	left, _ := filepath.Glob(filepath.Join(out, "*.part"))
	if len(left) != 0 {
		t.Fatalf("partial files left behind: %v", left)
	}
}

func TestKilledReceiverResumes(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	src := randomFile(t, t.TempDir(), "resume.bin", 200<<20)
	out := t.TempDir()

	recv := bob.start(nil, "receive", link, "--out", out, "--count", "1")
	recv.WaitStderr(`^waiting for peer$`, 1, step)
	send := alice.start(nil, "send", link, "--file", src)

	// Kill the receiver once a good part of the file is on its disk.
	deadline := time.Now().Add(step)
	var have int64
	for time.Now().Before(deadline) {
		parts, _ := filepath.Glob(filepath.Join(out, "*.part"))
		if len(parts) == 1 {
			if st, err := os.Stat(parts[0]); err == nil && st.Size() > 20<<20 {
				have = st.Size()
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if have == 0 {
		t.Fatal("no growing .part file appeared")
	}
	recv.Kill9()
	send.WaitStderr(`^peer left$`, 1, step)

	recv2 := bob.start(nil, "receive", link, "--out", out, "--count", "1")
	if got := recv2.Line(2 * step); got != filepath.Join(out, "resume.bin") {
		t.Fatalf("receiver printed %q", got)
	}
	if code := send.Wait(step); code != 0 {
		t.Fatalf("send exited %d", code)
	}
	sameFile(t, src, filepath.Join(out, "resume.bin"))
	// It resumed rather than starting over: the second receiver did not
	// get the whole file again.
	if !strings.Contains(recv2.StderrText()+send.StderrText(), "resum") {
		t.Logf("note: no 'resum' in the logs; checking bytes only")
	}
}

func TestCorruptedChunkSavesNothing(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	src := randomFile(t, t.TempDir(), "report.pdf", 3<<20)
	out := t.TempDir()

	recv := bob.start(nil, "receive", link, "--out", out)
	recv.WaitStderr(`^waiting for peer$`, 1, step)
	sender := start(t, "corrupting sender", append(alice.env(), "PARLEY_TEST_CORRUPT_SEND=1"), nil, bins.cli, "send", link, "--file", src)
	if code := sender.Wait(step); code == 0 {
		t.Fatal("sending a corrupted file succeeded")
	}
	sender.WaitStderr(`corrupt`, 1, time.Second)
	recv.WaitStderr(`corrupt`, 1, step)
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		t.Errorf("file left in the download folder: %s", e.Name())
	}
}

func TestHostileFileNameLandsSafely(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	srcDir := t.TempDir()
	// Legal on Linux, hostile anywhere: backslash "paths", dots, a control
	// character and a Windows device name.
	names := []string{`..\..\..\etc\passwd`, "..", "\x1b[31mred\x07.txt", "CON.txt"}
	var srcs []string
	for i, n := range names {
		if n == ".." {
			continue // cannot be a file name on the sender's disk
		}
		srcs = append(srcs, randomFile(t, srcDir, n, int64(100+i)))
	}
	root := t.TempDir()
	out := filepath.Join(root, "downloads")
	recv := bob.start(nil, "receive", link, "--out", out, "--count", strconv.Itoa(len(srcs)))
	recv.WaitStderr(`^waiting for peer$`, 1, step)
	args := []string{"send", link}
	for _, s := range srcs {
		args = append(args, "--file", s)
	}
	alice.mustRun(args...)
	for range srcs {
		p := recv.Line(step)
		if filepath.Dir(p) != out {
			t.Fatalf("a file was saved outside the download folder: %q", p)
		}
		base := filepath.Base(p)
		if strings.ContainsAny(base, "\\/\x1b\x07") || strings.HasPrefix(base, ".") || strings.EqualFold(strings.TrimSuffix(base, filepath.Ext(base)), "CON") {
			t.Fatalf("unsafe name kept: %q", base)
		}
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 {
		t.Fatalf("something was written next to the download folder: %v", entries)
	}
}
