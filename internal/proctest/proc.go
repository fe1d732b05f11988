// Package proctest runs child processes for process-level tests (the CLI
// end-to-end tests, the NAT test) and reads their output line by line.
package proctest

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a running child process whose output the test reads line by line.
type Proc struct {
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

// Start runs bin with args, env added to the test's environment; the
// process is killed at the end of the test.
func Start(t testing.TB, name string, env []string, stdin io.Reader, bin string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	return StartCmd(t, name, cmd)
}

// StartCmd runs a prepared command (its own Env, Dir, Stdin; Stdout and
// Stderr must be unset: the Proc reads them). The process is killed at the
// end of the test.
func StartCmd(t testing.TB, name string, cmd *exec.Cmd) *Proc {
	t.Helper()
	outR, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Proc{t: t, name: name, cmd: cmd, stdout: make(chan string, 1024), notify: make(chan struct{}), done: make(chan struct{})}
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
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
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
			t.Logf("%s stderr:\n%s", name, p.StderrText())
		}
	})
	return p
}

// StderrText is everything the process printed on stderr so far.
func (p *Proc) StderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.stderr, "\n")
}

// WaitStderr waits until the n-th stderr line matching re appears and returns it.
func (p *Proc) WaitStderr(re string, n int, timeout time.Duration) string {
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
			p.t.Fatalf("%s exited (%d) before printing %q on stderr:\n%s", p.name, p.code, re, p.StderrText())
		case <-deadline:
			p.t.Fatalf("%s: no %q on stderr within %v:\n%s", p.name, re, timeout, p.StderrText())
		}
	}
}

// Line returns the next stdout line.
func (p *Proc) Line(timeout time.Duration) string {
	p.t.Helper()
	select {
	case l, ok := <-p.stdout:
		if !ok {
			p.t.Fatalf("%s closed stdout (exit %d):\n%s", p.name, p.code, p.StderrText())
		}
		return l
	case <-time.After(timeout):
		p.t.Fatalf("%s: no stdout line within %v:\n%s", p.name, timeout, p.StderrText())
	}
	return ""
}

// Wait waits for the process to exit and returns its status.
func (p *Proc) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %v:\n%s", p.name, timeout, p.StderrText())
	}
	return 0
}

// Kill9 kills the process without giving it a chance to clean up.
func (p *Proc) Kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Name is the name the process was started with.
func (p *Proc) Name() string { return p.name }

// TryLine returns a stdout line already printed, without waiting; ok is
// false when there is none (or stdout is closed).
func (p *Proc) TryLine() (line string, ok bool) {
	select {
	case l, open := <-p.stdout:
		return l, open
	default:
		return "", false
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }
