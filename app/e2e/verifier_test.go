package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

// withInventedSecret returns link with its secret (the fragment) replaced
// by random bytes: what a stranger who learned only the room id can make.
func withInventedSecret(t *testing.T, link string) string {
	t.Helper()
	base, _, ok := strings.Cut(link, "#")
	if !ok {
		t.Fatalf("link %q has no secret", link)
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	return base + "#" + base64.RawURLEncoding.EncodeToString(secret)
}

// The squatting finding of the hardening issue, end to end with the real
// binaries: a stranger with the right room id and an invented secret could
// take the free seat and `parley-cli destroy` the room (exit 0), which
// wiped the creator's history. Now the server refuses them (UNAUTHORIZED,
// non-zero exit) and the room, its free seat and the creator's history
// survive: the real link holder still gets in.
func TestStrangerWithRoomIDCannotSquatOrDestroy(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	alice, bob, mallory := newUser(t, "alice"), newUser(t, "bob"), newUser(t, "mallory")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	id := roomIDOf(t, link)
	a := alice.start(nil, "receive", link, "--count", "1")
	a.WaitStderr(`^waiting for peer$`, 1, step)
	waitConnected(t, server, id, 1, step)

	forged := withInventedSecret(t, link)
	for _, args := range [][]string{
		{"destroy", forged},
		{"receive", forged, "--count", "1", "--wait", "20s"},
	} {
		_, errs, code := mallory.run(args...)
		if code == 0 || !strings.Contains(errs, "UNAUTHORIZED") {
			t.Fatalf("stranger %s: exit %d, stderr %q; want a failure with UNAUTHORIZED", args[0], code, errs)
		}
	}
	// The room is alive with only alice in it: nobody took the free seat,
	// so the link holder gets in.
	waitConnected(t, server, id, 1, step)
	bob.mustRun("send", link, "--text", "still here")
	if got := a.Line(step); got != "still here" {
		t.Fatalf("alice received %q", got)
	}
	if code := a.Wait(step); code != 0 {
		t.Fatalf("alice's receive exited %d", code)
	}
	if rooms := alice.mustRun("rooms"); !strings.Contains(rooms, id) {
		t.Fatalf("alice lost the room:\n%s", rooms)
	}
}
