package identity

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// testService keeps test secrets apart from real Parley secrets.
const testService = "parley-test"

// requireKeyring fails the test (never skips) unless a D-Bus session with an
// unlocked secret service is reachable.
func requireKeyring(t *testing.T) SecretStore {
	t.Helper()
	const how = "run via make test: needs a D-Bus session with gnome-keyring " +
		"(dbus-run-session -- sh -c 'printf ci-pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null; go test ./app/identity/...')"
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatalf("DBUS_SESSION_BUS_ADDRESS is not set: %s", how)
	}
	s := NewKeyringStore(testService)
	if _, err := s.Get("probe/" + randomSuffix(t)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("keyring not usable (%v): %s", err, how)
	}
	return s
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// uniqueProfile returns a fresh profile name and deletes everything the test
// may have stored for it.
func uniqueProfile(t *testing.T, s SecretStore) string {
	t.Helper()
	p := "test-" + randomSuffix(t)
	t.Cleanup(func() {
		for _, acct := range []string{p + "/identity", p + "/history-key", p + "/secret"} {
			if err := s.Delete(acct); err != nil {
				t.Errorf("cleanup %s: %v", acct, err)
			}
		}
	})
	return p
}

func TestKeyringStore(t *testing.T) {
	t.Parallel()
	s := requireKeyring(t)
	p := uniqueProfile(t, s)
	acct := p + "/secret"

	if _, err := s.Get(acct); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get absent: got %v, want ErrNotFound", err)
	}
	// Binary secrets with every byte value survive the text keyring.
	secret := make([]byte, 256)
	for i := range secret {
		secret[i] = byte(i)
	}
	if err := s.Set(acct, secret); err != nil {
		t.Fatalf("Set: %v", err)
	}
	got, err := s.Get(acct)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Get = %x, %v; want %x", got, err, secret)
	}
	if err := s.Set(acct, []byte("second")); err != nil {
		t.Fatalf("Set overwrite: %v", err)
	}
	if got, _ := s.Get(acct); string(got) != "second" {
		t.Fatalf("after overwrite Get = %q", got)
	}
	if err := s.Delete(acct); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(acct); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: got %v, want ErrNotFound", err)
	}
	if err := s.Delete(acct); err != nil {
		t.Fatalf("Delete absent: %v", err)
	}
}

func TestKeyringIdentity(t *testing.T) {
	t.Parallel()
	s := requireKeyring(t)
	p := uniqueProfile(t, s)

	first, err := LoadOrCreate(s, p)
	if err != nil {
		t.Fatalf("LoadOrCreate: %v", err)
	}
	again, err := LoadOrCreate(NewKeyringStore(testService), p)
	if err != nil {
		t.Fatalf("LoadOrCreate again: %v", err)
	}
	if !first.PublicKey().Equal(again.PublicKey()) || !first.PrivateKey().Equal(again.PrivateKey()) {
		t.Fatal("identity changed between loads")
	}
	key, err := LoadOrCreateSecret(s, p+"/history-key", 32)
	if err != nil || len(key) != 32 {
		t.Fatalf("LoadOrCreateSecret = %d bytes, %v", len(key), err)
	}
	// The seed is in the keyring, not on disk: nothing to check on disk, but
	// the keyring must hold exactly the seed of this identity.
	seed, err := s.Get(p + "/identity")
	if err != nil || !bytes.Equal(seed, first.PrivateKey().Seed()) {
		t.Fatalf("stored seed mismatch: %v", err)
	}
}

func TestOpenSecretStoreKeyring(t *testing.T) {
	t.Parallel()
	requireKeyring(t)
	s, err := OpenSecretStore(KindKeyring, "")
	if err != nil {
		t.Fatalf("OpenSecretStore(keyring): %v", err)
	}
	if _, ok := s.(*keyringStore); !ok {
		t.Fatalf("got %T, want keyring store", s)
	}
}

// helperEnv makes the test binary, re-executed by TestKeyringUnavailable,
// try the keyring and report what happened instead of running tests.
const helperEnv = "PARLEY_IDENTITY_KEYRING_HELPER"

// TestHelperKeyringProbe is not a test: it is the child process of
// TestKeyringUnavailable and does nothing unless helperEnv is set.
func TestHelperKeyringProbe(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		return
	}
	s := NewKeyringStore(testService)
	_, getErr := s.Get("probe/unavailable")
	setErr := s.Set("probe/unavailable", []byte("x"))
	_, openErr := OpenSecretStore(KindKeyring, "")
	for name, err := range map[string]error{"get": getErr, "set": setErr, "open": openErr} {
		var ue *UnavailableError
		fmt.Printf("%s unavailable=%t notfound=%t msg=%v\n", name, errors.As(err, &ue), errors.Is(err, ErrNotFound), err)
	}
}

func TestKeyringUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		bus  func(t *testing.T) string // DBUS_SESSION_BUS_ADDRESS for the child
		want string                    // part of go-keyring's error
	}{
		{
			name: "no bus",
			bus: func(t *testing.T) string {
				return "unix:path=" + filepath.Join(t.TempDir(), "nothing-here")
			},
			want: "no such file",
		},
		{
			name: "bus without secret service",
			bus:  startBareBus,
			want: "org.freedesktop.secrets",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKeyringProbe$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperEnv+"=1", "DBUS_SESSION_BUS_ADDRESS="+tt.bus(t))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			for _, op := range []string{"get", "set", "open"} {
				line := findLine(string(out), op+" ")
				if !strings.Contains(line, "unavailable=true notfound=false") {
					t.Errorf("%s: want *UnavailableError, got %q", op, line)
				}
				for _, want := range []string{tt.want, "gnome-keyring", "--secret-store file"} {
					if !strings.Contains(line, want) {
						t.Errorf("%s: message %q lacks %q", op, line, want)
					}
				}
			}
		})
	}
}

func findLine(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// startBareBus starts a private dbus-daemon with no service files, so that
// nothing provides org.freedesktop.secrets, and returns its address. The
// daemon is stopped when the test ends.
func startBareBus(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "bus")
	conf := filepath.Join(dir, "bus.conf")
	const config = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(config, sock)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // it warns about fd limits when not allowed to raise them
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon (apt-get install dbus): %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			return "unix:path=" + sock
		}
		if time.Now().After(deadline) {
			t.Fatalf("dbus-daemon did not create its socket: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	locked := errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'")
	tests := []struct {
		name            string
		in              error
		notFound, unavl bool
	}{
		{"not found", keyring.ErrNotFound, true, false},
		{"wrapped not found", fmt.Errorf("x: %w", keyring.ErrNotFound), true, false},
		{"locked", locked, false, true},
		{"no dbus-launch", errors.New(`exec: "dbus-launch": executable file not found in $PATH`), false, true},
		{"too big", keyring.ErrSetDataTooBig, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := classify(tt.in)
			var ue *UnavailableError
			if got := errors.Is(err, ErrNotFound); got != tt.notFound {
				t.Errorf("Is(ErrNotFound) = %t, want %t", got, tt.notFound)
			}
			if got := errors.As(err, &ue); got != tt.unavl {
				t.Errorf("As(*UnavailableError) = %t, want %t", got, tt.unavl)
			}
			if tt.unavl && !errors.Is(err, tt.in) {
				t.Errorf("%v does not wrap %v", err, tt.in)
			}
		})
	}
}
