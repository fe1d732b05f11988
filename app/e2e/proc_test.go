package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/proctest"
)

// proc is a child process the test reads line by line.
type proc = proctest.Proc

// start runs bin with args; the process is killed at the end of the test.
func start(t testing.TB, name string, env []string, stdin io.Reader, bin string, args ...string) *proc {
	t.Helper()
	return proctest.Start(t, name, env, stdin, bin, args...)
}

// bins holds the binaries built once by TestMain.
var bins struct {
	signal, cli string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parley-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins.signal = filepath.Join(dir, "parley-signal")
	bins.cli = filepath.Join(dir, "parley-cli")
	for out, pkg := range map[string]string{
		bins.signal: "github.com/parley-chat/parley/signaling/cmd/parley-signal",
		bins.cli:    "github.com/parley-chat/parley/app/cmd/parley-cli",
	} {
		// parleytest: the CLI's test hooks (app/cmd/parley-cli/testhooks.go).
		cmd := exec.Command("go", "build", "-tags", "parleytest", "-o", out, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", pkg, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var addrRE = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)

// startSignal runs parley-signal on a free loopback port and returns its base URL.
func startSignal(t testing.TB, args ...string) string {
	t.Helper()
	server, _ := startSignalMetrics(t, args...)
	return server
}

// startSignalMetrics is startSignal that also returns the base URL of the
// server's metrics listener (--metrics-addr, also on a free port).
func startSignalMetrics(t testing.TB, args ...string) (server, metrics string) {
	t.Helper()
	p := start(t, "parley-signal", nil, nil, bins.signal, append([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"}, args...)...)
	l := p.WaitStderr(`msg=listening addr=127\.0\.0\.1:[1-9][0-9]*`, 1, 20*time.Second)
	m := p.WaitStderr(`msg=metrics addr=127\.0\.0\.1:[1-9][0-9]*`, 1, 20*time.Second)
	return "http://" + addrRE.FindString(l), "http://" + addrRE.FindString(m)
}

// user is one parley-cli profile with its own data dir; the identity key
// lives in the real OS keyring of the test's D-Bus session.
type user struct {
	t       testing.TB
	profile string
	dataDir string
	// extraEnv is added to every command's environment (DISPLAY, ...).
	extraEnv []string
}

func newUser(t testing.TB, name string) *user {
	return &user{t: t, profile: fmt.Sprintf("%s-%d", name, time.Now().UnixNano()), dataDir: t.TempDir()}
}

func (u *user) env() []string {
	return append([]string{"PARLEY_PROFILE=" + u.profile, "PARLEY_DATA_DIR=" + u.dataDir, "PARLEY_SECRET_STORE=keyring", "PARLEY_ICE_LOOPBACK=1"}, u.extraEnv...)
}

// start runs a parley-cli command as this user.
func (u *user) start(stdin io.Reader, args ...string) *proc {
	u.t.Helper()
	return start(u.t, u.profile+" "+args[0], u.env(), stdin, bins.cli, args...)
}

// run runs a parley-cli command to completion and returns stdout and the exit status.
func (u *user) run(args ...string) (string, string, int) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.cli, args...)
	// On timeout, SIGQUIT makes the Go runtime print every goroutine's
	// stack to stderr, which the failure message then shows.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), u.env()...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		u.t.Fatalf("parley-cli %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// mustRun runs a command that must succeed and returns its stdout.
func (u *user) mustRun(args ...string) string {
	u.t.Helper()
	out, errs, code := u.run(args...)
	if code != 0 {
		u.t.Fatalf("parley-cli %v exited %d:\n%s", args, code, errs)
	}
	return out
}
