package profile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-chat/parley/app/identity"
)

func TestOpenFileStoreKeepsIdentityAndHistory(t *testing.T) {
	dir := t.TempDir()
	o := Options{Name: "alice", DataDir: dir, SecretStore: identity.KindFile}
	p, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	key := p.Identity.PublicKey()
	if p.DataDir != filepath.Join(dir, "alice") {
		t.Fatalf("profile dir %s", p.DataDir)
	}
	if _, err := os.Stat(filepath.Join(dir, "alice", "history.db")); err != nil {
		t.Fatalf("history not created: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if !again.Identity.PublicKey().Equal(key) {
		t.Fatal("the identity changed between two opens of the same profile")
	}
	// The history is held open: a second process (here, a second Open)
	// gets a clear error instead of waiting forever.
	if _, err := Open(o); err == nil {
		t.Fatal("a second Open of a profile in use succeeded")
	}
}

func TestOptionsChecksAndDefaults(t *testing.T) {
	t.Setenv("PARLEY_PROFILE", "envprof")
	t.Setenv("PARLEY_DATA_DIR", "/tmp/parley-env")
	t.Setenv("PARLEY_SECRET_STORE", "FILE")
	o := Options{}.FromEnv().withDefaults()
	if o.Name != "envprof" || o.DataDir != "/tmp/parley-env" || o.SecretStore != identity.KindFile {
		t.Fatalf("from env: %+v", o)
	}
	if o := (Options{Name: "x"}).withDefaults(); o.SecretStore != identity.KindKeyring || o.DataDir == "" {
		t.Fatalf("defaults: %+v", o)
	}
	for _, bad := range []Options{
		{Name: "../etc", DataDir: t.TempDir(), SecretStore: identity.KindFile},
		{Name: "ok", DataDir: t.TempDir(), SecretStore: "vault"},
	} {
		if _, err := Open(bad); err == nil {
			t.Errorf("Open(%+v) succeeded", bad)
		}
	}
}
