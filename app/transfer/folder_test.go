package transfer

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// makeTree builds a tree with nested folders, an empty folder, an
// executable, a hidden file, a symbolic link (to a file outside) and a
// named pipe, and returns the contents of its regular files by relative
// path and how many entries the sender must skip.
func makeTree(t *testing.T, root string, fileSize int) (map[string][]byte, int) {
	t.Helper()
	want := map[string][]byte{}
	add := func(rel string, n int, seed uint64) {
		dir, name := filepath.Split(filepath.Join(root, filepath.FromSlash(rel)))
		_, data := writeFile(t, dir, name, n, seed)
		want[rel] = data
	}
	add("top.txt", fileSize, 1)
	add("a/b/c.bin", fileSize, 2)
	add("a/b/d.bin", 0, 3)
	add("a/.hidden", 100, 4)
	add("run.sh", 300, 5)
	if err := os.Chmod(filepath.Join(root, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	outside, _ := writeFile(t, t.TempDir(), "secret", 10, 6)
	if err := os.Symlink(outside, filepath.Join(root, "a", "link")); err != nil {
		t.Fatal(err)
	}
	skipped := 1
	if makeSpecial(t, filepath.Join(root, "pipe")) {
		skipped++
	}
	return want, skipped
}

// checkTree asserts got holds exactly the files of want (and the empty
// folder), that run.sh is executable and nothing else is, and that no link
// or pipe was created.
func checkTree(t *testing.T, got string, want map[string][]byte) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(got, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(got, path)
		rel = filepath.ToSlash(rel)
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&os.ModeSymlink != 0 || info.Mode()&os.ModeNamedPipe != 0:
			t.Errorf("%s: a link or pipe was created", rel)
		case info.Mode().IsRegular():
			seen[rel] = true
			data, ok := want[rel]
			if !ok {
				t.Errorf("unexpected file %s", rel)
				return nil
			}
			sameFile(t, path, data)
			if exec := info.Mode().Perm()&0o100 != 0; exec != (rel == "run.sh") {
				t.Errorf("%s: mode %v", rel, info.Mode())
			}
			if info.Mode().Perm()&0o077 != 0 || info.Mode()&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky) != 0 {
				t.Errorf("%s: mode %v gives others access", rel, info.Mode())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel := range want {
		if !seen[rel] {
			t.Errorf("missing %s", rel)
		}
	}
	if st, err := os.Lstat(filepath.Join(got, "empty")); err != nil || !st.IsDir() {
		t.Errorf("empty folder not recreated: %v", err)
	}
}

func TestFolderRoundTrip(t *testing.T) {
	t.Parallel()
	a, b := pair(t, nil, nil)
	src := filepath.Join(t.TempDir(), "photos")
	want, skipped := makeTree(t, src, 200<<10)

	p, err := a.c.SendFolder(testCtx(t), src)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Folder || p.Files != len(want) || p.FilesDone != len(want) || p.Skipped != skipped {
		t.Fatalf("sender's last event %+v", p)
	}
	got := b.ev.waitDone(t)
	if got.Err != nil || !got.Folder || got.Path != filepath.Join(b.dir, "photos") || got.Skipped != skipped || got.FilesDone != len(want) {
		t.Fatalf("receiver's last event %+v", got)
	}
	b.ev.check(t, got.ID, nil)
	checkTree(t, got.Path, want)
	if names := dirNames(t, b.dir); len(names) != 1 {
		t.Fatalf("download folder holds %v, want only the tree (no staging left)", names)
	}

	// The same folder again: a new top folder, never merged or replaced.
	if _, err := a.c.SendFolder(testCtx(t), src); err != nil {
		t.Fatal(err)
	}
	again := b.ev.waitDone(t)
	if again.Path != filepath.Join(b.dir, "photos (1)") {
		t.Fatalf("second copy at %q", again.Path)
	}
	checkTree(t, again.Path, want)
}

// TestFolderDeclinedAndAsked: one question for the whole tree, with its
// file count and total; the files are not asked about again.
func TestFolderDeclinedAndAsked(t *testing.T) {
	t.Parallel()
	for _, accept := range []bool{false, true} {
		t.Run(fmt.Sprint(accept), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var asked []Offer
			a, b := pair(t, nil, func(c *Config) {
				c.AutoAcceptMax = 1
				c.Ask = func(o Offer) bool {
					mu.Lock()
					asked = append(asked, o)
					mu.Unlock()
					return accept
				}
			})
			src := filepath.Join(t.TempDir(), "tree")
			want, skipped := makeTree(t, src, 10<<10)
			_, err := a.c.SendFolder(testCtx(t), src)
			if accept != (err == nil) || (!accept && !errors.Is(err, ErrDeclined)) {
				t.Fatalf("SendFolder: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(asked) != 1 || !asked[0].Folder || asked[0].Files != len(want) || asked[0].Skipped != skipped || asked[0].Name != "tree" {
				t.Fatalf("asked %+v", asked)
			}
			if !accept && len(dirNames(t, b.dir)) != 0 {
				t.Fatalf("declined, yet the download folder holds %v", dirNames(t, b.dir))
			}
		})
	}
}

// countWriter counts the bytes written through it.
type countWriter struct {
	io.ReadWriteCloser
	mu sync.Mutex
	n  int
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.n += len(p)
	c.mu.Unlock()
	return c.ReadWriteCloser.Write(p)
}

// TestFolderResume: the stream breaks mid-folder; offering the folder
// again on a new connection finishes the same tree, without sending again
// the files the receiver has, and resumes the partial one.
func TestFolderResume(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "tree")
	want := map[string][]byte{}
	const size = 1 << 20
	for i, rel := range []string{"1.bin", "2.bin", "sub/3.bin"} {
		dir, name := filepath.Split(filepath.Join(src, filepath.FromSlash(rel)))
		_, want[rel] = writeFile(t, dir, name, size, uint64(i+10))
	}
	recvDir := filepath.Join(t.TempDir(), "downloads")
	setDir := func(c *Config) { c.DownloadDir = recvDir }

	a, b := pairRW(t, func(rw io.ReadWriteCloser) io.ReadWriteCloser {
		return &cutter{ReadWriteCloser: rw, left: size + size/2}
	}, nil, setDir)
	if _, err := a.c.SendFolder(testCtx(t), src); !errors.Is(err, ErrClosed) {
		t.Fatalf("first attempt: %v", err)
	}
	// The receiver's folder ends once its files are closed and saved.
	if p := b.ev.waitDone(t); !p.Folder || !errors.Is(p.Err, ErrClosed) {
		t.Fatalf("receiver after the cut: %+v", p)
	}
	// What the receiver holds, finished or partial.
	var have int64
	_ = filepath.WalkDir(recvDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasSuffix(path, ".side") && filepath.Base(path) != "target" {
			if info, err := d.Info(); err == nil {
				have += info.Size()
			}
		}
		return nil
	})
	if have < size {
		t.Fatalf("receiver holds %d bytes after the cut", have)
	}

	var cw *countWriter
	a2, b2 := pairRW(t, func(rw io.ReadWriteCloser) io.ReadWriteCloser {
		cw = &countWriter{ReadWriteCloser: rw}
		return cw
	}, nil, setDir)
	if _, err := a2.c.SendFolder(testCtx(t), src); err != nil {
		t.Fatal(err)
	}
	got := b2.ev.waitDone(t)
	if got.Err != nil || got.Path != filepath.Join(recvDir, "tree") {
		t.Fatalf("resumed folder: %+v", got)
	}
	for rel, data := range want {
		sameFile(t, filepath.Join(got.Path, filepath.FromSlash(rel)), data)
	}
	cw.mu.Lock()
	sent := cw.n
	cw.mu.Unlock()
	if limit := 3*size - int(have) + 64<<10; sent > limit {
		t.Fatalf("resume sent %d bytes, want at most %d (receiver had %d of %d)", sent, limit, have, 3*size)
	}
	if names := dirNames(t, recvDir); len(names) != 1 {
		t.Fatalf("download folder holds %v after the resume", names)
	}
}

// TestFolderPeerWithoutFolders: a peer from before folders ignores the
// offer; the sender says so instead of waiting forever.
func TestFolderPeerWithoutFolders(t *testing.T) {
	old := folderSeenWait
	folderSeenWait = 200 * time.Millisecond
	t.Cleanup(func() { folderSeenWait = old })
	ra, rb := net.Pipe()
	c, _ := startConn(t, ra, Config{Logger: testLogger()})
	go func() { _, _ = io.Copy(io.Discard, rb) }() // reads, never answers
	t.Cleanup(func() { rb.Close() })
	src := filepath.Join(t.TempDir(), "tree")
	writeFile(t, src, "x", 10, 1)
	if _, err := c.SendFolder(testCtx(t), src); !errors.Is(err, ErrPeerNoFolders) {
		t.Fatalf("got %v, want ErrPeerNoFolders", err)
	}
}

func TestSendFolderLimits(t *testing.T) {
	t.Parallel()
	ra, rb := net.Pipe()
	t.Cleanup(func() { rb.Close() })
	c, _ := startConn(t, ra, Config{Logger: testLogger()})
	deep := t.TempDir()
	p := deep
	for i := 0; i < MaxFolderDepth+1; i++ {
		p = filepath.Join(p, "d")
	}
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendFolder(testCtx(t), deep); !errors.Is(err, ErrFolderTooLarge) {
		t.Fatalf("deep tree: %v", err)
	}
	file, _ := writeFile(t, t.TempDir(), "f", 1, 1)
	if _, err := c.SendFolder(testCtx(t), file); err == nil {
		t.Fatal("a file sent as a folder")
	}
	link := filepath.Join(t.TempDir(), "l")
	if err := os.Symlink(deep, link); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendFolder(testCtx(t), link); err == nil {
		t.Fatal("a link to a folder was followed")
	}
}

// hostileFolder sends a raw folder offer for enc (with its hash, or
// offerLen/sum overridden) to a receiving Conn and returns the receiver's
// answer to it (fail code, or typeDecline / typeAccept) and the download
// folder.
func hostileFolder(t *testing.T, enc []byte, mutate func(*frame), mod func(*Config)) (frame, string) {
	t.Helper()
	cfg, _, dir := newSide(t, mod)
	ra, rb := net.Pipe()
	startConn(t, rb, cfg)
	t.Cleanup(func() { ra.Close() })
	offer := frame{Type: typeFolderOffer, ID: "hostile", Size: int64(len(enc)), SHA256: sha256.Sum256(enc)}
	if mutate != nil {
		mutate(&offer)
	}
	go func() {
		if _, err := ra.Write(encodeFrame(offer)); err != nil {
			return
		}
		for off := 0; off < len(enc); off += ChunkSize {
			if _, err := ra.Write(encodeFrame(frame{Type: typeFolderPart, ID: "hostile", Data: enc[off:min(off+ChunkSize, len(enc))]})); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, maxFrameBytes)
	_ = ra.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		body, err := readFrame(ra, buf)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		f, err := decodeFrame(body)
		if err != nil {
			t.Fatal(err)
		}
		if f.ID == "hostile" && f.Type != typeFolderSeen {
			return f, dir
		}
	}
}

func dirEntry(p string) manifestEntry { return manifestEntry{Kind: entryDir, Path: p} }
func fileEntry(p string, n int64) manifestEntry {
	return manifestEntry{Kind: entryFile, Path: p, Size: n}
}

// TestHostileFolders: every unsafe tree ends in a clear refusal before
// anything is written, and the download folder stays empty.
func TestHostileFolders(t *testing.T) {
	t.Parallel()
	deep := make([]manifestEntry, 0, 1000)
	p := "d"
	for i := 0; i < 1000; i++ {
		deep = append(deep, dirEntry(p))
		p += "/d"
	}
	tooMany := make([]manifestEntry, MaxFolderEntries+1)
	for i := range tooMany {
		tooMany[i] = fileEntry(fmt.Sprintf("f%d", i), 0)
	}
	enc := func(es ...manifestEntry) []byte { return (&manifest{Name: "x", Entries: es}).encode() }
	tests := []struct {
		name   string
		enc    []byte
		mutate func(*frame)
		code   byte
	}{
		{"dot dot", enc(fileEntry("../escape", 1)), nil, failBadFolder},
		{"dot dot inside", enc(dirEntry("a"), fileEntry("a/../../escape", 1)), nil, failBadFolder},
		{"dot", enc(fileEntry("./x", 1)), nil, failBadFolder},
		{"absolute", enc(fileEntry("/etc/passwd", 1)), nil, failBadFolder},
		{"backslash absolute", enc(fileEntry(`\windows\x`, 1)), nil, failBadFolder},
		{"empty component", enc(dirEntry("a"), fileEntry("a//b", 1)), nil, failBadFolder},
		{"trailing slash", enc(dirEntry("a/")), nil, failBadFolder},
		{"NUL", enc(fileEntry("a\x00b", 1)), nil, failBadFolder},
		{"listed twice", enc(dirEntry("a"), dirEntry("a")), nil, failBadFolder},
		{"listed twice as file and folder", enc(fileEntry("a", 1), dirEntry("a")), nil, failBadFolder},
		{"file becomes folder", enc(fileEntry("x", 1), fileEntry("x/y", 1)), nil, failBadFolder},
		{"parent not listed", enc(fileEntry("p/q", 1)), nil, failBadFolder},
		{"parent listed after", enc(fileEntry("p/q", 1), dirEntry("p")), nil, failBadFolder},
		{"depth 1000", enc(deep...), nil, failBadFolder},
		{"too many entries", enc(tooMany...), nil, failBadFolder},
		{"hash mismatch", enc(fileEntry("a", 1)), func(f *frame) { f.SHA256[0] ^= 1 }, failBadFolder},
		{"longer than offered", enc(fileEntry("a", 1)), func(f *frame) { f.Size -= 3 }, failBadFolder},
		{"offer beyond bound", enc(fileEntry("a", 1)), func(f *frame) { f.Size = maxManifestBytes + 1 }, failBadFolder},
		{"garbage", []byte("PFM1 not a manifest at all"), nil, failBadFolder},
		{"older manifest version", append([]byte("PFM0"), enc(fileEntry("a", 1))[4:]...), nil, failBadFolder},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ans, dir := hostileFolder(t, tc.enc, tc.mutate, nil)
			if ans.Type != typeFail || ans.Code != tc.code {
				t.Fatalf("answer type %d code %d, want fail %d", ans.Type, ans.Code, tc.code)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Fatalf("the download folder holds %v", names)
			}
		})
	}
}

// TestHostileFolderManyTinyFiles: 100,000 empty files fit the manifest
// but not the room's file budget: a clear refusal, nothing written.
func TestHostileFolderManyTinyFiles(t *testing.T) {
	t.Parallel()
	es := make([]manifestEntry, MaxFolderEntries)
	for i := range es {
		es[i] = fileEntry(fmt.Sprintf("f%06d", i), 0)
	}
	ans, dir := hostileFolder(t, (&manifest{Name: "many", Entries: es}).encode(), nil, nil)
	if ans.Type != typeFail || ans.Code != failCannotStore {
		t.Fatalf("answer type %d code %d, want fail %d", ans.Type, ans.Code, failCannotStore)
	}
	for _, n := range dirNames(t, dir) {
		t.Fatalf("the download folder holds %s", n)
	}
}

// TestHostileFolderSanitizedNames: names that are unsafe but do not
// collide are renamed and stay inside.
func TestHostileFolderSanitizedNames(t *testing.T) {
	t.Parallel()
	m := &manifest{Name: "../../evil", Entries: []manifestEntry{
		dirEntry("CON"), dirEntry("a\\..\\b"), dirEntry("...."), dirEntry(".git"), dirEntry("C:"),
	}}
	ans, dir := hostileFolder(t, m.encode(), nil, nil)
	if ans.Type != typeDone && ans.Type != typeAccept {
		t.Fatalf("answer type %d code %d", ans.Type, ans.Code)
	}
	top := filepath.Join(dir, "evil")
	deadline := time.Now().Add(10 * time.Second)
	for len(dirNames(t, dir)) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the staging folder goes after the accept
	}
	if names := dirNames(t, dir); len(names) != 1 || names[0] != "evil" {
		t.Fatalf("download folder holds %v", names)
	}
	got := strings.Join(dirNames(t, top), ",")
	if got != ".git,C_,_CON,b,file" {
		t.Fatalf("tree holds %s", got)
	}
}

// TestHostileFolderFileOffers: file offers that do not match the accepted
// manifest end the folder; nothing is written beside the tree.
func TestHostileFolderFileOffers(t *testing.T) {
	t.Parallel()
	m := &manifest{Name: "t", Entries: []manifestEntry{dirEntry("d"), fileEntry("d/f", 5)}}
	for _, tc := range []struct {
		name string
		f    frame
	}{
		{"index of a folder", frame{Type: typeFolderFile, ID: "file1", Size: 0, Folder: "hostile", Index: 0}},
		{"index beyond", frame{Type: typeFolderFile, ID: "file1", Size: 5, Folder: "hostile", Index: 7}},
		{"wrong size", frame{Type: typeFolderFile, ID: "file1", Size: 6, Folder: "hostile", Index: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, ev, dir := newSide(t, nil)
			ra, rb := net.Pipe()
			startConn(t, rb, cfg)
			t.Cleanup(func() { ra.Close() })
			enc := m.encode()
			go func() {
				_, _ = ra.Write(encodeFrame(frame{Type: typeFolderOffer, ID: "hostile", Size: int64(len(enc)), SHA256: sha256.Sum256(enc)}))
				_, _ = ra.Write(encodeFrame(frame{Type: typeFolderPart, ID: "hostile", Data: enc}))
			}()
			buf := make([]byte, maxFrameBytes)
			_ = ra.SetReadDeadline(time.Now().Add(20 * time.Second))
			for {
				body, err := readFrame(ra, buf)
				if err != nil {
					t.Fatal(err)
				}
				f, _ := decodeFrame(body)
				if f.Type == typeAccept && f.ID == "hostile" {
					go func() { _, _ = ra.Write(encodeFrame(tc.f)) }()
				}
				if f.Type == typeFail && f.ID == "hostile" {
					break
				}
			}
			p := ev.waitDone(t)
			if !p.Folder || !errors.Is(p.Err, ErrProtocol) {
				t.Fatalf("folder ended with %+v", p)
			}
			if names := strings.Join(dirNames(t, filepath.Join(dir, "t", "d")), ","); names != "" {
				t.Fatalf("the tree holds %s", names)
			}
		})
	}
}

// TestCollidingNamesRenamed: names that collide once sanitized (or
// compared without case) get deterministic new names; their contents
// follow them.
func TestCollidingNamesRenamed(t *testing.T) {
	t.Parallel()
	m := &manifest{Name: "t", Entries: []manifestEntry{
		fileEntry("ab:c", 1), fileEntry("ab_c", 1), fileEntry("ab_c (1)", 1),
		fileEntry("Photo.jpg", 1), fileEntry("photo.JPG", 1),
		fileEntry("x.", 1), fileEntry("x", 1),
		dirEntry("A"), fileEntry("a", 1), dirEntry("A/b"), fileEntry("A/b/f", 1),
		dirEntry("d:"), dirEntry("d_"), fileEntry("d_/f", 1), fileEntry("d:/f", 1),
	}}
	want := []string{
		"ab_c", "ab_c (1)", "ab_c (1) (1)",
		"Photo.jpg", "photo (1).JPG",
		"x", "x (1)",
		"A", "a (1)", "A/b", "A/b/f",
		"d_", "d_ (1)", "d_ (1)/f", "d_/f",
	}
	p, err := validateManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.local, "|") != strings.Join(want, "|") {
		t.Fatalf("local paths\n got %q\nwant %q", p.local, want)
	}

	// Over the wire, from a real tree (Linux names may differ only in case).
	a, b := pair(t, nil, nil)
	src := filepath.Join(t.TempDir(), "tree")
	// WalkDir lists README, a:b, a_b, readme: the later of two colliding
	// names is renamed.
	files := map[string]string{"README": "README", "a:b": "a_b", "a_b": "a_b (1)", "readme": "readme (1)"}
	got := map[string][]byte{}
	for i, n := range []string{"README", "a:b", "a_b", "readme"} {
		_, got[n] = writeFile(t, src, n, 100+i, uint64(i))
	}
	if _, err := a.c.SendFolder(testCtx(t), src); err != nil {
		t.Fatal(err)
	}
	done := b.ev.waitDone(t)
	for n, local := range files {
		sameFile(t, filepath.Join(done.Path, local), got[n])
	}
}

func TestManifestRoundTrip(t *testing.T) {
	t.Parallel()
	m := &manifest{Name: "n", SkippedLinks: 2, SkippedSpecial: 3, Entries: []manifestEntry{
		dirEntry("a"), {Kind: entryFile, Exec: true, Size: 7, Path: "a/x"}, fileEntry("y", 0),
	}}
	got, err := decodeManifest(m.encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "n" || got.SkippedLinks != 2 || got.SkippedSpecial != 3 || len(got.Entries) != 3 ||
		got.Entries[1] != m.Entries[1] || got.files != 2 || got.total != 7 {
		t.Fatalf("decoded %+v", got)
	}
}

// TestFolderCancel: either side cancels the folder mid-way; both see
// ErrCanceled, and the receiver keeps no partial files (the staging
// folder is gone).
func TestFolderCancel(t *testing.T) {
	t.Parallel()
	for _, who := range []string{"sender", "receiver"} {
		t.Run(who, func(t *testing.T) {
			t.Parallel()
			var ca, cb *Conn
			hook := func(c **Conn) func(Progress) {
				var once sync.Once
				return func(p Progress) {
					if p.Folder && !p.Done && p.Bytes > 2*ChunkSize {
						once.Do(func() {
							if err := (*c).Cancel(p.ID); err != nil {
								t.Errorf("Cancel: %v", err)
							}
						})
					}
				}
			}
			withHook := func(mine string, c **Conn) func(*Config) {
				return func(cfg *Config) {
					if who == mine {
						next, h := cfg.OnProgress, hook(c)
						cfg.OnProgress = func(p Progress) { next(p); h(p) }
					}
				}
			}
			slow := func(rw io.ReadWriteCloser) io.ReadWriteCloser { return slowWriter{rw, 2 * time.Millisecond} }
			a, b := pairRW(t, slow, withHook("sender", &ca), withHook("receiver", &cb))
			ca, cb = a.c, b.c
			src := filepath.Join(t.TempDir(), "tree")
			writeFile(t, src, "one.bin", 4<<20, 1)
			writeFile(t, filepath.Join(src, "sub"), "two.bin", 4<<20, 2)
			p, err := a.c.SendFolder(testCtx(t), src)
			if !errors.Is(err, ErrCanceled) {
				t.Fatalf("SendFolder = %v, want ErrCanceled", err)
			}
			last := b.ev.waitDone(t)
			if !last.Folder || !errors.Is(last.Err, ErrCanceled) {
				t.Fatalf("receiver ended with %+v", last)
			}
			b.ev.check(t, p.ID, ErrCanceled)
			for _, n := range dirNames(t, b.dir) {
				if strings.HasPrefix(n, stagingPrefix) {
					t.Fatalf("canceled folder left its staging folder %s", n)
				}
			}
		})
	}
}
