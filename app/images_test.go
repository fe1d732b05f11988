package app

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-chat/parley/app/session"
)

func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bombPNG declares 100,000 × 100,000 RGBA pixels in a few hundred bytes.
func bombPNG() []byte {
	chunk := func(typ string, data []byte) []byte {
		var b bytes.Buffer
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
		return b.Bytes()
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100_000)
	binary.BigEndian.PutUint32(ihdr[4:], 100_000)
	ihdr[8], ihdr[9] = 8, 6
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(make([]byte, 4096))
	_ = zw.Close()
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", z.Bytes())...)
	return append(out, chunk("IEND", nil)...)
}

// waitImage waits for the transfer named name to reach image state want.
func waitImage(t *testing.T, w *fakeWindow, name, want string) Transfer {
	t.Helper()
	return w.wait(t, EventTransferUpdate, func(p any) bool {
		tr := p.(TransferEvent).Transfer
		return tr.Name == name && tr.Image == want
	}).(TransferEvent).Transfer
}

func decodeDataURL(t *testing.T, u string) image.Config {
	t.Helper()
	mime, b64, ok := strings.Cut(strings.TrimPrefix(u, "data:"), ";base64,")
	if !ok || (mime != "image/jpeg" && mime != "image/png") {
		t.Fatalf("not an image data URL: %.40q", u)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	cfg, f, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || "image/"+f != mime {
		t.Fatalf("data URL does not decode as %s: %v", mime, err)
	}
	return cfg
}

// TestTwoWindowsImages sends images between two facades over real pion
// peers: a pasted PNG gets a thumbnail on both sides (sealed in history)
// and a full-size view; a .jpg that is not an image stays a plain file; a
// decompression bomb gets IMAGE_TOO_LARGE; clearing the messages (bob)
// and destroying the room (alice) remove the thumbnails; the pasted file
// is private and removed when the app closes.
func TestTwoWindowsImages(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice := newUser(t, srv)
	bob := newUser(t, srv, func(c *Config) { c.DownloadDir = filepath.Join(t.TempDir(), "dl") })
	av, err := alice.CreateRoom(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.OpenRoom(av.Link); err != nil {
		t.Fatal(err)
	}
	room := av.ID

	// Paste errors first: too big, not an image, not base64, closed room.
	huge := strings.Repeat("A", base64.StdEncoding.EncodedLen(MaxPasteBytes)+4)
	if _, err := alice.SendPastedImage(room, huge); codeOf(err) != CodeImageTooLarge {
		t.Fatalf("huge paste: %v", err)
	}
	if _, err := alice.SendPastedImage(room, base64.StdEncoding.EncodeToString([]byte("just text"))); codeOf(err) != CodeNotImage {
		t.Fatalf("text paste: %v", err)
	}
	if _, err := alice.SendPastedImage(room, "%%%"); codeOf(err) != CodeBadRequest {
		t.Fatalf("bad base64: %v", err)
	}
	if _, err := alice.SendPastedImage("nope", base64.StdEncoding.EncodeToString(testPNG(t, 2, 2))); codeOf(err) != session.CodePeerOffline {
		t.Fatalf("closed room: %v", err)
	}

	// A text file named .jpg, then a bomb, then the pasted image.
	src := t.TempDir()
	fake := filepath.Join(src, "holiday.jpg")
	bomb := filepath.Join(src, "bomb.png")
	if err := os.WriteFile(fake, []byte("not a picture at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bomb, bombPNG(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SendFiles(room, []string{fake, bomb}); err != nil {
		t.Fatal(err)
	}
	pasted, err := alice.SendPastedImage(room, base64.StdEncoding.EncodeToString(testPNG(t, 800, 600)))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^pasted-\d{8}-\d{6}\.png$`).MatchString(pasted.Name) || !pasted.Outgoing {
		t.Fatalf("pasted transfer %+v", pasted)
	}
	if filepath.Dir(pasted.Path) != alice.pasteDir() {
		t.Fatalf("pasted file at %s", pasted.Path)
	}
	st, err := os.Stat(pasted.Path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("pasted file mode %v: %v", st.Mode(), err)
	}
	if st, err := os.Stat(alice.pasteDir()); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("paste folder mode %v: %v", st.Mode(), err)
	}

	// Bob: the bomb is refused with a clear note, the image gets a thumbnail.
	bombT := waitImage(t, bob.win, "bomb.png", ImageFailed)
	if !strings.HasPrefix(bombT.ImageError, CodeImageTooLarge+": ") || bombT.State != StateDone {
		t.Fatalf("bomb %+v", bombT)
	}
	got := waitImage(t, bob.win, pasted.Name, ImageReady)
	u, err := bob.Thumbnail(room, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := decodeDataURL(t, u); cfg.Width != 320 || cfg.Height != 240 {
		t.Fatalf("bob's thumbnail %d×%d", cfg.Width, cfg.Height)
	}
	view, err := bob.ViewImage(room, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := decodeDataURL(t, view.DataURL); cfg.Width != 800 || view.SourceWidth != 800 || view.SourceHeight != 600 || view.Name != pasted.Name {
		t.Fatalf("view %dx%d %+v", cfg.Width, cfg.Height, view.Name)
	}
	if _, err := bob.ViewImage(room, "nope"); codeOf(err) != CodeBadRequest {
		t.Fatalf("ViewImage of an unknown id: %v", err)
	}
	if _, err := bob.ViewImage(room, bombT.ID); codeOf(err) != CodeImageTooLarge {
		t.Fatalf("ViewImage of the bomb: %v", err)
	}
	// The fake .jpg is a plain file: no image state, no note.
	list, _ := bob.Transfers(room)
	for _, tr := range list {
		if tr.Name == "holiday.jpg" && (tr.Image != ImageNone || tr.ImageError != "") {
			t.Fatalf("a text file got an image state: %+v", tr)
		}
	}
	if n, _ := bob.prof.History.ThumbCount(room); n != 1 {
		t.Fatalf("bob stored %d thumbnails", n)
	}

	// Alice, the sender, gets the thumbnail once the file is verified.
	mine := waitImage(t, alice.win, pasted.Name, ImageReady)
	if mine.ID != pasted.ID || mine.State != StateDone {
		t.Fatalf("alice's transfer %+v", mine)
	}
	if u, err := alice.Thumbnail(room, pasted.ID); err != nil || decodeDataURL(t, u).Width != 320 {
		t.Fatalf("alice's thumbnail: %v", err)
	}

	// Clear on bob's side removes his thumbnails.
	if err := bob.ClearMessages(room); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Thumbnail(room, got.ID); codeOf(err) != CodeBadRequest {
		t.Fatalf("thumbnail after clear: %v", err)
	}
	if n, _ := bob.prof.History.ThumbCount(room); n != 0 {
		t.Fatalf("%d thumbnails after clear", n)
	}
	list, _ = bob.Transfers(room)
	for _, tr := range list {
		if tr.Image != ImageNone || tr.ImageError != "" {
			t.Fatalf("after clear, %s still has image %q %q", tr.Name, tr.Image, tr.ImageError)
		}
	}

	// Destroy on alice's side wipes the room and its thumbnails.
	if err := alice.DestroyRoom(room); err != nil {
		t.Fatal(err)
	}
	if n, _ := alice.prof.History.ThumbCount(room); n != 0 {
		t.Fatalf("%d thumbnails after destroy", n)
	}

	// The pasted file goes when the app closes.
	if err := alice.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(alice.pasteDir()); !os.IsNotExist(err) {
		t.Fatalf("paste folder after close: %v", err)
	}
}

// TestForgetRemovesThumbnails: a thumbnail being made across a clear is
// not stored; Forget removes the room's thumbnails; a thumbnail finished
// after Forget is not stored.
func TestForgetRemovesThumbnails(t *testing.T) {
	t.Parallel()
	alice, av, p := userWithRoom(t, false)
	dir := t.TempDir()
	img := filepath.Join(dir, "a.png")
	if err := os.WriteFile(img, testPNG(t, 40, 30), 0o600); err != nil {
		t.Fatal(err)
	}
	// A verified file as the transfer code records it.
	alice.files.mu.Lock()
	rf := alice.files.roomLocked(av.ID)
	rf.addLocked(&transferEntry{t: Transfer{ID: "in-1", RoomID: av.ID, Name: "a.png", State: StateDone, Path: img}})
	alice.files.mu.Unlock()
	// A thumbnail being made while the room is cleared is not stored.
	alice.images.decode.Lock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		alice.makeThumb(t.Context(), av.ID, "in-1", img)
	}()
	waitImage(t, alice.win, "a.png", ImagePending)
	if err := alice.ClearMessages(av.ID); err != nil {
		t.Fatal(err)
	}
	alice.images.decode.Unlock()
	<-done
	if n, _ := p.History.ThumbCount(av.ID); n != 0 {
		t.Fatalf("%d thumbnails stored across a clear", n)
	}
	if list, _ := alice.Transfers(av.ID); list[0].Image != ImageNone {
		t.Fatalf("image state after a clear: %q", list[0].Image)
	}

	alice.queueThumb(av.ID, "in-1", img)
	waitImage(t, alice.win, "a.png", ImageReady)
	if n, _ := p.History.ThumbCount(av.ID); n != 1 {
		t.Fatalf("%d thumbnails", n)
	}
	if err := alice.Forget(av.ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := p.History.ThumbCount(av.ID); n != 0 {
		t.Fatalf("%d thumbnails after forget", n)
	}
	if _, err := alice.Thumbnail(av.ID, "in-1"); err == nil {
		t.Fatal("thumbnail after forget")
	}
	// Made after Forget: not stored, the card stays plain.
	alice.makeThumb(t.Context(), av.ID, "in-1", img)
	if n, _ := p.History.ThumbCount(av.ID); n != 0 {
		t.Fatalf("%d thumbnails stored after forget", n)
	}
	if list, _ := alice.Transfers(av.ID); len(list) != 1 || list[0].Image != ImageNone {
		t.Fatalf("transfer after a late thumbnail: %+v", list)
	}
}
