package history

import (
	"bytes"
	"errors"
	"os"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestThumbs: thumbnails are sealed on disk, bound to their room and
// file, and go with ClearMessages and Forget (which a destroyed or
// expired room also uses).
func TestThumbs(t *testing.T) {
	t.Parallel()
	for _, wipe := range []string{"clear", "forget"} {
		t.Run(wipe, func(t *testing.T) {
			t.Parallel()
			s, path, _ := newStore(t)
			mustPutRoom(t, s, testRoom("roomA", base))
			mustPutRoom(t, s, testRoom("roomB", base))
			a, b := k(s, "roomA"), k(s, "roomB")
			img := bytes.Repeat([]byte("\xff\xd8\xffJPEGSECRETPIXELS"), 100)
			for _, key := range []string{a, b} {
				if err := s.PutThumb(key, "file-1", img); err != nil {
					t.Fatal(err)
				}
			}
			got, ok, err := s.Thumb(a, "file-1")
			if err != nil || !ok || !bytes.Equal(got, img) {
				t.Fatalf("Thumb = %d bytes, %t, %v", len(got), ok, err)
			}
			if _, ok, _ := s.Thumb(a, "file-2"); ok {
				t.Fatal("a thumbnail that was never stored")
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte("SECRETPIXELS")) {
				t.Fatal("thumbnail stored in clear")
			}
			if wipe == "clear" {
				err = s.ClearMessages(a)
			} else {
				err = s.Forget(a)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, ok, err := s.Thumb(a, "file-1"); ok || err != nil {
				t.Fatalf("after %s: ok=%t err=%v", wipe, ok, err)
			}
			if n, _ := s.ThumbCount(a); n != 0 {
				t.Fatalf("after %s: %d thumbnails", wipe, n)
			}
			if _, ok, _ := s.Thumb(b, "file-1"); !ok {
				t.Fatal("the other room lost its thumbnail")
			}
		})
	}
}

func TestPutThumbRefuses(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	mustPutRoom(t, s, testRoom("roomA", base))
	a := k(s, "roomA")
	if err := s.PutThumb(k(s, "gone"), "f", []byte{1}); !errors.Is(err, ErrRoomNotFound) {
		t.Errorf("unknown room: %v", err)
	}
	if err := s.PutThumb(a, "f", make([]byte, MaxThumbBytes+1)); !errors.Is(err, ErrThumbTooLarge) {
		t.Errorf("too large: %v", err)
	}
	if err := s.PutThumb(a, "", []byte{1}); err == nil {
		t.Error("empty file id accepted")
	}
	// A record moved to another file id fails to open.
	if err := s.PutThumb(a, "f1", []byte("one")); err != nil {
		t.Fatal(err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketThumbs).Bucket([]byte(a))
		return b.Put([]byte("f2"), append([]byte(nil), b.Get([]byte("f1"))...))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Thumb(a, "f2"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a swapped record opened: %v", err)
	}
}
