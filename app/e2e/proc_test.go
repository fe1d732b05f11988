package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

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
		cmd := exec.Command("go", "build", "-o", out, pkg)
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

// proc is a running child process whose output the test reads line by line.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd

	stdout chan string
	mu     sync.Mutex
	stderr []string
	notify chan struct{} // closed and replaced on every stderr line
	done   chan struct{}
	code   int
}

// start runs bin with args; the process is killed at the end of the test.
func start(t testing.TB, name string, env []string, stdin io.Reader, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	outR, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: name, cmd: cmd, stdout: make(chan string, 1024), notify: make(chan struct{}), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			p.stdout <- sc.Text()
		}
	}()
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(errR)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr = append(p.stderr, sc.Text())
			close(p.notify)
			p.notify = make(chan struct{})
			p.mu.Unlock()
		}
	}()
	go func() {
		readers.Wait()
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			p.code = 0
		case errors.As(err, &ee):
			p.code = ee.ExitCode()
		default:
			p.code = -1
		}
		close(p.stdout)
		close(p.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			// A Go child dumps its goroutines on SIGQUIT: that shows
			// where a hung process was stuck.
			_ = cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-p.done:
			case <-time.After(3 * time.Second):
			}
		}
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, p.stderrText())
		}
	})
	return p
}

func (p *proc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.stderr, "\n")
}

// waitStderr waits until the n-th stderr line matching re appears and returns it.
func (p *proc) waitStderr(re string, n int, timeout time.Duration) string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		seen := 0
		for _, l := range p.stderr {
			if rx.MatchString(l) {
				seen++
				if seen == n {
					p.mu.Unlock()
					return l
				}
			}
		}
		ch := p.notify
		p.mu.Unlock()
		select {
		case <-ch:
		case <-p.done:
			// The process ended; look once more at what it printed.
			p.mu.Lock()
			seen = 0
			for _, l := range p.stderr {
				if rx.MatchString(l) {
					if seen++; seen == n {
						p.mu.Unlock()
						return l
					}
				}
			}
			p.mu.Unlock()
			p.t.Fatalf("%s exited (%d) before printing %q on stderr:\n%s", p.name, p.code, re, p.stderrText())
		case <-deadline:
			p.t.Fatalf("%s: no %q on stderr within %v:\n%s", p.name, re, timeout, p.stderrText())
		}
	}
}

// line returns the next stdout line.
func (p *proc) line(timeout time.Duration) string {
	p.t.Helper()
	select {
	case l, ok := <-p.stdout:
		if !ok {
			p.t.Fatalf("%s closed stdout (exit %d):\n%s", p.name, p.code, p.stderrText())
		}
		return l
	case <-time.After(timeout):
		p.t.Fatalf("%s: no stdout line within %v:\n%s", p.name, timeout, p.stderrText())
	}
	return ""
}

// wait waits for the process to exit and returns its status.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %v:\n%s", p.name, timeout, p.stderrText())
	}
	return 0
}

// kill9 kills the process without giving it a chance to clean up.
func (p *proc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

var addrRE = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)

// startSignal runs parley-signal on a free loopback port and returns its base URL.
func startSignal(t testing.TB, args ...string) string {
	t.Helper()
	p := start(t, "parley-signal", nil, nil, bins.signal, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
	l := p.waitStderr(`msg=listening addr=127\.0\.0\.1:[1-9][0-9]*`, 1, 20*time.Second)
	return "http://" + addrRE.FindString(l)
}

// user is one parley-cli profile with its own data dir; the identity key
// lives in the real OS keyring of the test's D-Bus session.
type user struct {
	t       testing.TB
	profile string
	dataDir string
}

func newUser(t testing.TB, name string) *user {
	return &user{t: t, profile: fmt.Sprintf("%s-%d", name, time.Now().UnixNano()), dataDir: t.TempDir()}
}

func (u *user) env() []string {
	return []string{"PARLEY_PROFILE=" + u.profile, "PARLEY_DATA_DIR=" + u.dataDir, "PARLEY_SECRET_STORE=keyring", "PARLEY_ICE_LOOPBACK=1"}
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
