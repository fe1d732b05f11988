package transfer

import (
	"crypto/sha256"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSanitizeName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 150) + ".pdf" // 304 bytes
	tests := []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`..\..\Windows\system.ini`, "system.ini"},
		{"/abs/path/x.txt", "x.txt"},
		{"C:\\Users\\me\\x.txt", "x.txt"},
		{"..", "file"},
		{".", "file"},
		{"...", "file"},
		{"", "file"},
		{"dir/", "file"},
		{".bashrc", "bashrc"},
		{"  .hidden  ", "hidden"},
		{"name. . ", "name"},
		{"a\x00b\nc\x7f", "a_b_c_"},
		{"evil\u202Etxt.exe", "evil_txt.exe"},
		{"a<b>c:d\"e|f?g*h", "a_b_c_d_e_f_g_h"},
		{"bad\xffutf8", "bad_utf8"},
		{"CON", "_CON"},
		{"con.txt", "_con.txt"},
		{"Nul.tar.gz", "_Nul.tar.gz"},
		{"COM1", "_COM1"},
		{"lpt9.doc", "_lpt9.doc"},
		{"COM0", "COM0"},
		{"CONSOLE.txt", "CONSOLE.txt"},
		{"AUX .txt", "_AUX .txt"},
		{"ünïcödé 文件.txt", "ünïcödé 文件.txt"},
	}
	for _, tt := range tests {
		if got := SanitizeName(tt.in); got != tt.want {
			t.Errorf("SanitizeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	got := SanitizeName(long)
	if len(got) > maxSafeName || !strings.HasSuffix(got, ".pdf") || !utf8.ValidString(got) {
		t.Errorf("long name sanitized to %q (%d bytes)", got, len(got))
	}
}

// FuzzSanitizeName checks the invariants on any input.
func FuzzSanitizeName(f *testing.F) {
	for _, s := range []string{"a.txt", "../x", "CON", "\x00", strings.Repeat("a", 300) + ".txt", ". ."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := SanitizeName(in)
		if got == "" || len(got) > maxSafeName+1 || !utf8.ValidString(got) {
			t.Fatalf("SanitizeName(%q) = %q", in, got)
		}
		if strings.ContainsAny(got, `/\`) || got == "." || got == ".." || strings.HasPrefix(got, ".") ||
			strings.HasSuffix(got, ".") || strings.HasSuffix(got, " ") {
			t.Fatalf("unsafe result %q", got)
		}
		if isReserved(got) {
			t.Fatalf("reserved result %q", got)
		}
		if filepath.Base(got) != got {
			t.Fatalf("%q is not a base name", got)
		}
	})
}

// rawSender speaks the protocol by hand, so tests can send what Send never
// would (hostile names, bad offsets).
type rawSender struct {
	t    *testing.T
	conn net.Conn
	buf  []byte
}

func (r *rawSender) send(f frame) {
	r.t.Helper()
	if _, err := r.conn.Write(encodeFrame(f)); err != nil {
		r.t.Fatalf("raw write: %v", err)
	}
}

func (r *rawSender) next() frame {
	r.t.Helper()
	_ = r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	body, err := readFrame(r.conn, r.buf)
	if err != nil {
		r.t.Fatalf("raw read: %v", err)
	}
	f, err := decodeFrame(body)
	if err != nil {
		r.t.Fatal(err)
	}
	return f
}

// offerRaw offers content under name and streams it; it returns the answer
// after the data.
func (r *rawSender) offerRaw(id, name string, content []byte) frame {
	r.t.Helper()
	r.send(frame{Type: typeOffer, ID: id, Name: name, Size: int64(len(content)), SHA256: sha256.Sum256(content)})
	ans := r.next()
	if ans.Type != typeAccept {
		return ans
	}
	for off := int(ans.Offset); off < len(content); off += ChunkSize {
		end := min(off+ChunkSize, len(content))
		r.send(frame{Type: typeData, ID: id, Offset: int64(off), Data: content[off:end]})
	}
	return r.next()
}

func newRawPair(t *testing.T) (*rawSender, side) {
	t.Helper()
	ra, rb := net.Pipe()
	t.Cleanup(func() { _ = ra.Close() })
	cfg, ev, dir := newSide(t, nil)
	c, _ := startConn(t, rb, cfg)
	return &rawSender{t: t, conn: ra, buf: make([]byte, maxFrameBytes)}, side{c, ev, dir}
}

// TestHostileNamesStayInside offers hostile names, with symlinks planted
// where a naive receiver would write, and checks every byte lands in a new
// regular file directly inside the download folder.
func TestHostileNamesStayInside(t *testing.T) {
	t.Parallel()
	r, b := newRawPair(t)
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"evil.txt", "evil.txt.part", ".evil.txt.parley-partial", "trap.part"} {
		if err := os.Symlink(victim, filepath.Join(b.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	names := []string{
		"../../../" + filepath.Base(outside) + "/victim",
		"..", "/etc/passwd", `..\..\victim`, "evil.txt", "trap", ".evil.txt.parley-partial",
		"CON", "a\x00/../b", strings.Repeat("x/", 400),
	}
	for i, name := range names {
		content := []byte(strings.Repeat("pwned ", i+1))
		id := "hostile" + string(rune('a'+i))
		ans := r.offerRaw(id, name, content)
		if ans.Type != typeDone {
			t.Fatalf("offer %q answered %d/%d", name, ans.Type, ans.Code)
		}
		p := b.ev.waitDone(t)
		if p.Err != nil {
			t.Fatalf("offer %q: %v", name, p.Err)
		}
		if filepath.Dir(p.Path) != b.dir {
			t.Fatalf("offer %q saved at %q, outside %q", name, p.Path, b.dir)
		}
		st, err := os.Lstat(p.Path)
		if err != nil || !st.Mode().IsRegular() {
			t.Fatalf("offer %q: %q is not a regular file (%v)", name, p.Path, err)
		}
		sameFile(t, p.Path, content)
	}
	sameFile(t, victim, []byte("precious"))
}

// TestBadFrames checks that offsets outside the offer fail the transfer
// and an oversized frame ends the stream.
func TestBadFrames(t *testing.T) {
	t.Parallel()
	r, b := newRawPair(t)
	content := []byte("0123456789")
	sum := sha256.Sum256(content)
	r.send(frame{Type: typeOffer, ID: "gap", Name: "x", Size: 10, SHA256: sum})
	if ans := r.next(); ans.Type != typeAccept || ans.Offset != 0 {
		t.Fatalf("answer %+v", ans)
	}
	r.send(frame{Type: typeData, ID: "gap", Offset: 5, Data: content[5:]})
	if ans := r.next(); ans.Type != typeFail || ans.Code != failReceiver {
		t.Fatalf("answer to a gap %+v", ans)
	}
	if p := b.ev.waitDone(t); !errors.Is(p.Err, ErrProtocol) {
		t.Fatalf("receiver ended with %v", p.Err)
	}

	r.send(frame{Type: typeOffer, ID: "long", Name: "y", Size: 3, SHA256: sum})
	if ans := r.next(); ans.Type != typeAccept {
		t.Fatalf("answer %+v", ans)
	}
	r.send(frame{Type: typeData, ID: "long", Offset: 0, Data: content})
	if ans := r.next(); ans.Type != typeFail {
		t.Fatalf("answer to an overlong chunk %+v", ans)
	}
	b.ev.waitDone(t)
	// Chunks for unknown transfers are dropped silently.
	r.send(frame{Type: typeData, ID: "nobody", Offset: 0, Data: content})

	if _, err := r.conn.Write([]byte{0xff, 0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	_ = r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("stream still open after an oversized frame")
	}
}
