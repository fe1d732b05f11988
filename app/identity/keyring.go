package identity

import (
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/zalando/go-keyring"
)

// keyringStore is a SecretStore on the OS keyring. Secrets are stored
// base64-encoded because keyrings hold text.
type keyringStore struct {
	service string
}

// NewKeyringStore returns a SecretStore backed by the OS keyring, filing
// secrets under service (Parley uses KeyringService). It does not contact the
// keyring; errors surface on first use as *UnavailableError.
func NewKeyringStore(service string) SecretStore {
	return &keyringStore{service: service}
}

func (k *keyringStore) Get(account string) ([]byte, error) {
	if err := checkAccount(account); err != nil {
		return nil, fmt.Errorf("keyring get: %w", err)
	}
	var v string
	err := withTimeout(func() (err error) { v, err = keyring.Get(k.service, account); return err })
	if err != nil {
		return nil, fmt.Errorf("keyring get %s: %w", account, classify(err))
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("keyring get %s: item is not a Parley secret: %w", account, err)
	}
	return b, nil
}

func (k *keyringStore) Set(account string, secret []byte) error {
	if err := checkAccount(account); err != nil {
		return fmt.Errorf("keyring set: %w", err)
	}
	if err := checkSecret(secret); err != nil {
		return fmt.Errorf("keyring set %s: %w", account, err)
	}
	if err := withTimeout(func() error { return keyring.Set(k.service, account, base64.StdEncoding.EncodeToString(secret)) }); err != nil {
		return fmt.Errorf("keyring set %s: %w", account, classify(err))
	}
	return nil
}

func (k *keyringStore) Delete(account string) error {
	if err := checkAccount(account); err != nil {
		return fmt.Errorf("keyring delete: %w", err)
	}
	err := withTimeout(func() error { return keyring.Delete(k.service, account) })
	if err == nil || errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("keyring delete %s: %w", account, classify(err))
}

// keyringTimeout bounds one keyring call. A secret service that waits on a
// password prompt nobody can see (a locked keyring on a headless machine)
// would otherwise hang the program forever.
const keyringTimeout = 20 * time.Second

// errKeyringTimeout is classified as "keyring unavailable".
var errKeyringTimeout = fmt.Errorf("the keyring did not answer within %v (is it locked, waiting for a password prompt?)", keyringTimeout)

// withTimeout runs one keyring call, giving up after keyringTimeout. The
// call's goroutine is left to finish on its own: there is no way to cancel a
// D-Bus call in go-keyring, and the caller reports the keyring unusable.
func withTimeout(call func() error) error {
	done := make(chan error, 1)
	go func() { done <- call() }()
	t := time.NewTimer(keyringTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return errKeyringTimeout
	}
}

// classify maps go-keyring errors onto this package's: only
// keyring.ErrNotFound is a sentinel there; every other error (no bus, no
// secret service, locked collection, D-Bus failures) means the keyring is not
// usable.
func classify(err error) error {
	if errors.Is(err, keyring.ErrNotFound) {
		return ErrNotFound
	}
	return &UnavailableError{Err: err}
}
