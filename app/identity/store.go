package identity

import (
	"errors"
	"fmt"
	"path/filepath"
)

// SecretStore keeps small secrets, one per account name. Account names look
// like "<profile>/identity" or "<profile>/history-key".
type SecretStore interface {
	// Get returns the secret stored for account, or an error wrapping
	// ErrNotFound when there is none.
	Get(account string) ([]byte, error)
	// Set stores secret for account, replacing any previous value.
	Set(account string, secret []byte) error
	// Delete removes the secret for account. Deleting an absent secret is
	// not an error.
	Delete(account string) error
}

// MaxSecretSize is the largest secret a SecretStore accepts. Keyrings are
// made for passwords and keys; Windows caps a credential at 2560 bytes, and
// the keyring store base64-encodes secrets.
const MaxSecretSize = 1024

// Secret store kinds accepted by OpenSecretStore (the --secret-store flag).
const (
	KindKeyring = "keyring"
	KindFile    = "file"
)

// KeyringService is the service name Parley's secrets are filed under in the
// OS keyring.
const KeyringService = "parley"

// ErrNotFound is returned (wrapped) by SecretStore.Get when the account has
// no secret.
var ErrNotFound = errors.New("secret not found")

// UnavailableError means the OS keyring cannot be used: there is no D-Bus
// session, no secret service on it, or the keyring is locked. Its message
// tells the user what to do about it.
type UnavailableError struct {
	// Err is the underlying keyring error.
	Err error
}

// Error implements error.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("OS keyring unavailable (%v): install and start a secret service "+
		"(e.g. gnome-keyring) in a D-Bus session and unlock it, or run with --secret-store file", e.Err)
}

// Unwrap returns the underlying keyring error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// OpenSecretStore returns the secret store of the given kind: "keyring" (the
// OS keyring, service "parley") or "file" (a 0600 file in dataDir). For
// "keyring" it checks that the keyring answers and returns an
// *UnavailableError when it does not, so the app can say so at startup rather
// than on first use.
func OpenSecretStore(kind, dataDir string) (SecretStore, error) {
	switch kind {
	case KindKeyring:
		s := NewKeyringStore(KeyringService)
		if _, err := s.Get(probeAccount); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return s, nil
	case KindFile:
		if dataDir == "" {
			return nil, errors.New("secret store file: empty data directory")
		}
		return NewFileStore(filepath.Clean(dataDir)), nil
	default:
		return nil, fmt.Errorf("unknown secret store %q: choose %q or %q", kind, KindKeyring, KindFile)
	}
}

// probeAccount is looked up (never written) to check that the keyring answers.
const probeAccount = "probe/availability"

func checkAccount(account string) error {
	if account == "" {
		return errors.New("empty account name")
	}
	if len(account) > 256 {
		return fmt.Errorf("account name too long (%d bytes)", len(account))
	}
	return nil
}

func checkSecret(secret []byte) error {
	if len(secret) == 0 {
		return errors.New("empty secret")
	}
	if len(secret) > MaxSecretSize {
		return fmt.Errorf("secret too large (%d bytes, max %d)", len(secret), MaxSecretSize)
	}
	return nil
}
