package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
)

// Identity is a profile's long-term Ed25519 key pair. It is created on first
// use and kept in a SecretStore as a 32-byte seed; the private key exists
// only in memory. Printing or logging an Identity shows its fingerprint only.
type Identity struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	fp   string
}

// LoadOrCreate returns the identity of profile from store (account
// "<profile>/identity"), creating a fresh one from crypto/rand when the
// profile has none yet.
func LoadOrCreate(store SecretStore, profile string) (*Identity, error) {
	if err := ValidateProfile(profile); err != nil {
		return nil, fmt.Errorf("load identity: %w", err)
	}
	seed, err := LoadOrCreateSecret(store, profile+"/identity", ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("load identity of profile %s: %w", profile, err)
	}
	return fromSeed(seed), nil
}

func fromSeed(seed []byte) *Identity {
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	return &Identity{priv: priv, pub: pub, fp: Fingerprint(pub)}
}

// PublicKey returns the identity's public key.
func (id *Identity) PublicKey() ed25519.PublicKey { return id.pub }

// PrivateKey returns the identity's private key, for signing. Callers must
// keep it in memory only and never log it.
func (id *Identity) PrivateKey() ed25519.PrivateKey { return id.priv }

// Fingerprint returns the short, human-comparable fingerprint of the public
// key (see the package function Fingerprint).
func (id *Identity) Fingerprint() string { return id.fp }

// String shows the fingerprint only, so an Identity is safe to print.
func (id Identity) String() string { return "identity " + id.fp }

// GoString shows the fingerprint only, so %#v does not reveal the key.
func (id Identity) GoString() string { return "identity.Identity{" + id.fp + "}" }

// LogValue logs the fingerprint only.
func (id Identity) LogValue() slog.Value {
	return slog.GroupValue(slog.String("fingerprint", id.fp))
}

// LoadOrCreateSecret returns the size-byte secret stored for account,
// creating it from crypto/rand on first use. Parley keeps the history
// encryption key this way, under "<profile>/history-key". A stored secret of
// another size is an error, never silently replaced.
//
// When two processes create the same secret at once, the last write wins;
// both read the stored value back, so they agree unless they interleave
// exactly between write and read-back.
func LoadOrCreateSecret(store SecretStore, account string, size int) ([]byte, error) {
	if size <= 0 || size > MaxSecretSize {
		return nil, fmt.Errorf("secret %s: invalid size %d", account, size)
	}
	b, err := store.Get(account)
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		fresh := make([]byte, size)
		if _, err := rand.Read(fresh); err != nil {
			return nil, fmt.Errorf("secret %s: generate: %w", account, err)
		}
		if err := store.Set(account, fresh); err != nil {
			return nil, fmt.Errorf("secret %s: store: %w", account, err)
		}
		if b, err = store.Get(account); err != nil {
			return nil, fmt.Errorf("secret %s: read back: %w", account, err)
		}
	default:
		return nil, fmt.Errorf("secret %s: %w", account, err)
	}
	if len(b) != size {
		return nil, fmt.Errorf("secret %s: stored secret has %d bytes, want %d", account, len(b), size)
	}
	return b, nil
}

// ValidateProfile checks that a profile name is usable as the first part of
// an account name and a directory name: 1 to 64 characters of
// [A-Za-z0-9._-], not starting with a dot.
func ValidateProfile(profile string) error {
	if profile == "" {
		return errors.New("empty profile name")
	}
	if len(profile) > 64 {
		return fmt.Errorf("profile name too long (%d bytes, max 64)", len(profile))
	}
	if profile[0] == '.' {
		return fmt.Errorf("profile name %q starts with a dot", profile)
	}
	for i := 0; i < len(profile); i++ {
		c := profile[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("profile name %q: only letters, digits, '.', '_' and '-' are allowed", profile)
		}
	}
	return nil
}
