package identity

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestFileStore(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "parley")
	s := NewFileStore(dir)

	if _, err := s.Get("p/identity"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get on empty store: got %v, want ErrNotFound", err)
	}
	if err := s.Set("p/identity", []byte{0, 1, 2, 255}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if got, err := s.Get("p/identity"); err != nil || !bytes.Equal(got, []byte{0, 1, 2, 255}) {
		t.Fatalf("Get = %x, %v", got, err)
	}

	fi, err := os.Stat(filepath.Join(dir, secretsFileName))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("secrets file mode %o, want 600", perm)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := di.Mode().Perm(); perm != 0o700 {
		t.Errorf("secrets dir mode %o, want 700", perm)
	}

	// A second instance (another process, in effect) sees the same data.
	if got, err := NewFileStore(dir).Get("p/identity"); err != nil || len(got) != 4 {
		t.Fatalf("second instance Get = %x, %v", got, err)
	}
	if err := s.Delete("p/identity"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get("p/identity"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: got %v, want ErrNotFound", err)
	}
	if err := s.Delete("p/identity"); err != nil {
		t.Fatalf("Delete absent: %v", err)
	}
	assertNoTempFiles(t, dir)
}

func TestFileStoreRejects(t *testing.T) {
	t.Parallel()
	s := NewFileStore(t.TempDir())
	tests := []struct {
		name    string
		account string
		secret  []byte
	}{
		{"empty account", "", []byte("x")},
		{"long account", strings.Repeat("a", 257), []byte("x")},
		{"empty secret", "a", nil},
		{"huge secret", "a", make([]byte, MaxSecretSize+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := s.Set(tt.account, tt.secret); err == nil {
				t.Fatal("Set accepted bad input")
			}
		})
	}
}

func TestFileStoreCorrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, secretsFileName), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := NewFileStore(dir)
	if _, err := s.Get("a"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("Get on corrupt file: got %v, want a parse error", err)
	}
	if err := s.Set("a", []byte("x")); err == nil {
		t.Fatal("Set overwrote a corrupt file instead of reporting it")
	}
}

// TestFileStoreConcurrentSet writes from many goroutines through separate
// store instances, as separate processes would: no update may be lost.
func TestFileStoreConcurrentSet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const writers, perWriter = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	shared := NewFileStore(dir)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := shared
			if w%2 == 0 {
				s = NewFileStore(dir)
			}
			for i := range perWriter {
				acct := fmt.Sprintf("w%d/%d", w, i)
				if err := s.Set(acct, []byte(acct)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Set: %v", err)
	}
	for w := range writers {
		for i := range perWriter {
			acct := fmt.Sprintf("w%d/%d", w, i)
			if got, err := shared.Get(acct); err != nil || string(got) != acct {
				t.Errorf("Get %s = %q, %v", acct, got, err)
			}
		}
	}
	assertNoTempFiles(t, dir)
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(dir, ".secrets-*"))
	if err != nil || len(left) > 0 {
		t.Errorf("temporary files left behind: %v %v", left, err)
	}
}

func TestOpenSecretStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		kind, dir string
		wantErr   []string
	}{
		{kind: "file", dir: dir},
		{kind: "file", dir: "", wantErr: []string{"empty data directory"}},
		{kind: "vault", dir: dir, wantErr: []string{`"vault"`, `"keyring"`, `"file"`}},
		{kind: "", dir: dir, wantErr: []string{`"keyring"`, `"file"`}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			s, err := OpenSecretStore(tt.kind, tt.dir)
			if tt.wantErr == nil {
				if err != nil || s == nil {
					t.Fatalf("OpenSecretStore: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %s", err, w)
				}
			}
		})
	}
}
