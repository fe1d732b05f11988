// Package profile opens one local profile: its identity (from the secret
// store) and its history (on disk). The desktop app and parley-cli open
// profiles the same way through it, so both agree on where data lives.
package profile

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/identity"
)

// Default values of Options.
const (
	DefaultName        = "default"
	DefaultSecretStore = identity.KindKeyring
)

// Options say which profile to open and where.
type Options struct {
	Name        string // "" = DefaultName
	DataDir     string // "" = DefaultDataDir()
	SecretStore string // identity.KindKeyring or identity.KindFile; "" = keyring
}

// FromEnv fills empty fields from PARLEY_PROFILE, PARLEY_DATA_DIR and
// PARLEY_SECRET_STORE.
func (o Options) FromEnv() Options {
	if o.Name == "" {
		o.Name = os.Getenv("PARLEY_PROFILE")
	}
	if o.DataDir == "" {
		o.DataDir = os.Getenv("PARLEY_DATA_DIR")
	}
	if o.SecretStore == "" {
		o.SecretStore = os.Getenv("PARLEY_SECRET_STORE")
	}
	return o
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir()
	}
	if o.SecretStore == "" {
		o.SecretStore = DefaultSecretStore
	}
	o.SecretStore = strings.ToLower(o.SecretStore)
	return o
}

// DefaultDataDir follows the XDG base directory rules on Linux and the
// platform's config dir elsewhere.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "parley")
	}
	if runtime.GOOS == "linux" {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, ".local", "share", "parley")
		}
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "Parley")
	}
	return ".parley"
}

// Profile is an opened profile.
type Profile struct {
	Name     string
	DataDir  string // the profile's own folder: <data dir>/<name>
	Identity *identity.Identity
	History  *history.Store
}

// OpenIdentity loads (or creates, on first use) the profile's identity
// without opening its history.
func OpenIdentity(o Options) (*identity.Identity, identity.SecretStore, Options, error) {
	o = o.withDefaults()
	if err := identity.ValidateProfile(o.Name); err != nil {
		return nil, nil, o, fmt.Errorf("profile: %w", err)
	}
	if o.SecretStore != identity.KindKeyring && o.SecretStore != identity.KindFile {
		return nil, nil, o, fmt.Errorf("profile: secret store must be %s or %s, not %q", identity.KindKeyring, identity.KindFile, o.SecretStore)
	}
	store, err := identity.OpenSecretStore(o.SecretStore, o.DataDir)
	if err != nil {
		return nil, nil, o, err
	}
	id, err := identity.LoadOrCreate(store, o.Name)
	if err != nil {
		return nil, nil, o, err
	}
	return id, store, o, nil
}

// Open loads the identity and opens the history of a profile. The history
// key comes from the same secret store as the identity.
func Open(o Options) (*Profile, error) {
	id, store, o, err := OpenIdentity(o)
	if err != nil {
		return nil, err
	}
	key, err := identity.LoadOrCreateSecret(store, o.Name+"/history-key", history.KeySize)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(o.DataDir, o.Name)
	h, err := history.Open(filepath.Join(dir, "history.db"), key)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	return &Profile{Name: o.Name, DataDir: dir, Identity: id, History: h}, nil
}

// Close closes the history.
func (p *Profile) Close() error { return p.History.Close() }
