// Package identity gives a Parley profile its long-term Ed25519 identity and
// keeps small secrets (the identity seed, the history encryption key) out of
// plain files.
//
// Secrets live in a SecretStore: the OS keyring through the Secret Service
// D-Bus API (gnome-keyring, KWallet) on Linux, the Keychain on macOS and the
// Credential Manager on Windows, or, for headless servers that have none of
// these, a single 0600 file. In keyring mode the private key never touches
// disk; it lives in memory only and is never logged: Identity's String,
// GoString and LogValue show the public fingerprint only.
//
// The package also defines how keys are shown to people: a short Fingerprint
// of one key and a Signal-style SafetyNumber of a pair, which both
// participants compare out of band. It must not know about rooms, sessions or
// the network.
package identity
