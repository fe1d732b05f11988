// Package turncred mints and opens parley-signal's TURN credentials: TURN
// REST API credentials (username "<unix expiry>:<user>", password
// base64(HMAC-SHA1(secret, username))) whose user part is an opaque tag
// that names the room the credential was minted for.
//
// The tag is the room id sealed with AES-256-GCM under a key derived from
// the shared secret, so the room id never crosses the wire in clear, and
// any parley-signal node holding the secret can tell which room a
// credential belongs to without shared state. coturn (use-auth-secret)
// accepts these credentials as it accepts any REST username; only the
// embedded relay opens the tag and refuses credentials of rooms that have
// ended.
//
// It imports only the standard library; both the minting server and the
// relay use it, so the format has one definition.
package turncred

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Errors Open returns.
var (
	// ErrMalformed: the username is not "<unix expiry>:<tag>" with a tag
	// this secret sealed.
	ErrMalformed = errors.New("turn credential malformed or not minted with this secret")
	// ErrExpired: the expiry in the username has passed.
	ErrExpired = errors.New("turn credential expired")
)

// maxUsername bounds what Open looks at; minted usernames are about 80
// bytes (STUN allows 513).
const maxUsername = 256

// tagKeyLabel separates the tag key from other uses of the secret.
const tagKeyLabel = "parley turn room tag v1"

// Password returns the REST credential for username:
// base64(HMAC-SHA1(secret, username)), the scheme coturn's use-auth-secret
// and pion/turn's LongTermTURNRESTAuthHandler check.
func Password(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Mint returns credentials for a member of roomID, valid until expiry.
// Every call gives a different username (a fresh nonce), so each join has
// its own credential and its own allocation quota.
func Mint(secret, roomID string, expiry time.Time) (username, password string) {
	exp := strconv.FormatInt(expiry.Unix(), 10)
	aead := tagAEAD(secret)
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(roomID)+aead.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails on supported platforms
	sealed := aead.Seal(nonce, nonce, []byte(roomID), []byte(exp))
	username = exp + ":" + base64.RawURLEncoding.EncodeToString(sealed)
	return username, Password(secret, username)
}

// Open checks a username minted by Mint with secret: it returns the room
// id, ErrExpired when the expiry is before now, or ErrMalformed. It does
// not check the password (the TURN server does, with Password).
func Open(secret, username string, now time.Time) (roomID string, expiry time.Time, err error) {
	if len(username) > maxUsername {
		return "", time.Time{}, ErrMalformed
	}
	exp, tag, ok := strings.Cut(username, ":")
	if !ok {
		return "", time.Time{}, ErrMalformed
	}
	sec, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || sec <= 0 || strconv.FormatInt(sec, 10) != exp {
		return "", time.Time{}, ErrMalformed
	}
	sealed, err := base64.RawURLEncoding.DecodeString(tag)
	aead := tagAEAD(secret)
	if err != nil || len(sealed) < aead.NonceSize()+aead.Overhead() {
		return "", time.Time{}, ErrMalformed
	}
	id, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(exp))
	if err != nil || len(id) == 0 {
		return "", time.Time{}, ErrMalformed
	}
	expiry = time.Unix(sec, 0)
	if expiry.Before(now) {
		return "", expiry, fmt.Errorf("%w at %s", ErrExpired, expiry.UTC().Format(time.RFC3339))
	}
	return string(id), expiry, nil
}

func tagAEAD(secret string) cipher.AEAD {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(tagKeyLabel))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}
