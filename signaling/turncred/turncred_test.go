package turncred

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

const roomID = "AbCdEfGhIjKlMnOpQrStU"

func TestPasswordIsTheRESTScheme(t *testing.T) {
	t.Parallel()
	// printf '1700000000:parley' | openssl dgst -sha1 -hmac secret -binary | base64
	if got := Password("secret", "1700000000:parley"); got != "7ZLJDMIc7ct8niNh/B9If+DliRE=" {
		t.Fatalf("Password = %q", got)
	}
}

func TestMintOpens(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	user, pass := Mint("secret", roomID, now.Add(time.Hour))
	if pass != Password("secret", user) {
		t.Fatal("password does not match the username")
	}
	exp, tag, ok := strings.Cut(user, ":")
	if !ok || exp != strconv.FormatInt(now.Add(time.Hour).Unix(), 10) || strings.Contains(tag, roomID) || len(user) > 100 {
		t.Fatalf("username %q: want <expiry>:<opaque tag>", user)
	}
	id, expiry, err := Open("secret", user, now)
	if err != nil || id != roomID || !expiry.Equal(now.Add(time.Hour)) {
		t.Fatalf("Open = %q %v %v", id, expiry, err)
	}
	if again, _ := Mint("secret", roomID, now.Add(time.Hour)); again == user {
		t.Fatal("two mints gave the same username: joins would share a quota")
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	good, _ := Mint("secret", roomID, now.Add(time.Hour))
	exp, tag, _ := strings.Cut(good, ":")
	expired, _ := Mint("secret", roomID, now.Add(-time.Second))
	later := strconv.FormatInt(now.Add(48*time.Hour).Unix(), 10)
	for _, c := range []struct {
		name, secret, user string
		want               error
	}{
		{"expired", "secret", expired, ErrExpired},
		{"other secret", "another", good, ErrMalformed},
		{"expiry moved", "secret", later + ":" + tag, ErrMalformed},
		{"plain REST user", "secret", exp + ":parley", ErrMalformed},
		{"no colon", "secret", "parley", ErrMalformed},
		{"empty", "secret", "", ErrMalformed},
		{"not a number", "secret", "soon:" + tag, ErrMalformed},
		{"leading plus", "secret", "+" + exp + ":" + tag, ErrMalformed},
		{"negative", "secret", "-1:" + tag, ErrMalformed},
		{"tag cut", "secret", exp + ":" + tag[:len(tag)-2], ErrMalformed},
		{"tag flipped", "secret", exp + ":" + flip(tag), ErrMalformed},
		{"long", "secret", exp + ":" + strings.Repeat("A", 400), ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			if id, _, err := Open(c.secret, c.user, now); !errors.Is(err, c.want) || id != "" {
				t.Fatalf("Open(%q) = %q, %v; want %v", c.user, id, err, c.want)
			}
		})
	}
}

func flip(tag string) string {
	b := []byte(tag)
	if b[5] == 'A' {
		b[5] = 'B'
	} else {
		b[5] = 'A'
	}
	return string(b)
}

// Open reads usernames straight off the network.
func FuzzOpen(f *testing.F) {
	now := time.Unix(1700000000, 0)
	good, _ := Mint("secret", roomID, now.Add(time.Hour))
	for _, s := range []string{good, "1700003600:parley", "", ":", "1:", "9999999999999999999:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, user string) {
		id, _, err := Open("secret", user, now)
		// Only the seeded tag opens; any other room id would be a forgery.
		if err == nil && id != roomID {
			t.Fatalf("Open(%q) = %q", user, id)
		}
	})
}
