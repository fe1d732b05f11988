package identity

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// File store layout: one JSON file holding every account, next to a lock file
// that serialises read-modify-write cycles between processes.
const (
	secretsFileName = "secrets.json"
	lockFileName    = "secrets.lock"
	fileFormat      = 1
)

// fileStore is a SecretStore in a single 0600 file, for headless machines
// without a keyring. Anyone who can read the file can read the secrets: it is
// only as safe as the account and disk it lives on.
type fileStore struct {
	dir string
	mu  sync.Mutex // serialises this instance; the lock file serialises processes
}

type secretsFile struct {
	Version int               `json:"version"`
	Secrets map[string]string `json:"secrets"` // account → base64 secret
}

// NewFileStore returns a SecretStore that keeps every secret in one file,
// dir/secrets.json, with mode 0600; dir is created with mode 0700 on first
// write. Writes are atomic (temporary file, fsync, rename, fsync of the
// directory), so a crash leaves either the old or the new file, and
// concurrent writers, in this or other processes, are serialised by an
// advisory lock where the OS has one.
func NewFileStore(dir string) SecretStore {
	return &fileStore{dir: dir}
}

func (f *fileStore) path() string { return filepath.Join(f.dir, secretsFileName) }

func (f *fileStore) Get(account string) ([]byte, error) {
	if err := checkAccount(account); err != nil {
		return nil, fmt.Errorf("secret file get: %w", err)
	}
	sf, err := f.read()
	if err != nil {
		return nil, fmt.Errorf("secret file get %s: %w", account, err)
	}
	v, ok := sf.Secrets[account]
	if !ok {
		return nil, fmt.Errorf("secret file get %s: %w", account, ErrNotFound)
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("secret file get %s: corrupt entry: %w", account, err)
	}
	return b, nil
}

func (f *fileStore) Set(account string, secret []byte) error {
	if err := checkAccount(account); err != nil {
		return fmt.Errorf("secret file set: %w", err)
	}
	if err := checkSecret(secret); err != nil {
		return fmt.Errorf("secret file set %s: %w", account, err)
	}
	err := f.update(func(sf *secretsFile) bool {
		sf.Secrets[account] = base64.StdEncoding.EncodeToString(secret)
		return true
	})
	if err != nil {
		return fmt.Errorf("secret file set %s: %w", account, err)
	}
	return nil
}

func (f *fileStore) Delete(account string) error {
	if err := checkAccount(account); err != nil {
		return fmt.Errorf("secret file delete: %w", err)
	}
	err := f.update(func(sf *secretsFile) bool {
		if _, ok := sf.Secrets[account]; !ok {
			return false
		}
		delete(sf.Secrets, account)
		return true
	})
	if err != nil {
		return fmt.Errorf("secret file delete %s: %w", account, err)
	}
	return nil
}

// read loads the secrets file; a missing file is an empty store.
func (f *fileStore) read() (*secretsFile, error) {
	sf := &secretsFile{Version: fileFormat, Secrets: map[string]string{}}
	b, err := os.ReadFile(f.path())
	if errors.Is(err, fs.ErrNotExist) {
		return sf, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.path(), err)
	}
	if err := json.Unmarshal(b, sf); err != nil {
		return nil, fmt.Errorf("parse %s: %w", f.path(), err)
	}
	if sf.Version != fileFormat {
		return nil, fmt.Errorf("%s: unsupported format version %d", f.path(), sf.Version)
	}
	if sf.Secrets == nil {
		sf.Secrets = map[string]string{}
	}
	return sf, nil
}

// update runs a read-modify-write cycle under both locks; change reports
// whether it modified the file.
func (f *fileStore) update(change func(*secretsFile) bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return fmt.Errorf("create secret directory: %w", err)
	}
	unlock, err := lockFile(filepath.Join(f.dir, lockFileName))
	if err != nil {
		return err
	}
	defer unlock()

	sf, err := f.read()
	if err != nil {
		return err
	}
	if !change(sf) {
		return nil
	}
	b, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode secrets: %w", err)
	}
	return writeFileAtomic(f.path(), b)
}

// writeFileAtomic replaces path with data: a 0600 temporary file in the same
// directory is written and fsynced, renamed over path, and the directory is
// fsynced so the rename itself is durable.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".secrets-*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("chmod temporary file: %w", err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write temporary file: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync temporary file: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close temporary file: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return syncDir(dir)
}
