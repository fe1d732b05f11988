package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process whose output the bench reads line by line.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout chan string

	mu     sync.Mutex
	stderr []string
	notify chan struct{}

	done   chan struct{}
	exitAt time.Time
	err    error
	usage  *syscall.Rusage
}

// maxStderrLines bounds the stderr lines kept per process; -sctp-trace
// raises it (pion logs every congestion window change).
var maxStderrLines = 20000

// procs tracks every process started, so an interrupted run kills them all.
var procs struct {
	mu   sync.Mutex
	list []*proc
}

// start runs name args inside namespace ns (empty: the bench's own).
func start(ctx context.Context, label, ns string, env []string, name string, args ...string) (*proc, error) {
	full := append([]string{name}, args...)
	if ns != "" {
		full = append([]string{"ip", "netns", "exec", ns}, full...)
	}
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.Env = append(os.Environ(), env...)
	outR, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errR, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p := &proc{name: label, cmd: cmd, stdout: make(chan string, 1024), notify: make(chan struct{}), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", label, err)
	}
	procs.mu.Lock()
	procs.list = append(procs.list, p)
	procs.mu.Unlock()
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case p.stdout <- sc.Text():
			default: // nobody reads this much: drop
			}
		}
	}()
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(errR)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			if len(p.stderr) < maxStderrLines {
				p.stderr = append(p.stderr, sc.Text())
			}
			close(p.notify)
			p.notify = make(chan struct{})
			p.mu.Unlock()
		}
	}()
	go func() {
		readers.Wait()
		p.err = cmd.Wait()
		p.exitAt = time.Now()
		if cmd.ProcessState != nil {
			p.usage, _ = cmd.ProcessState.SysUsage().(*syscall.Rusage)
		}
		close(p.stdout)
		close(p.done)
	}()
	return p, nil
}

// killAll kills every process still running and waits for them.
func killAll() {
	procs.mu.Lock()
	list := procs.list
	procs.list = nil
	procs.mu.Unlock()
	for _, p := range list {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
		}
	}
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.stderr, "\n")
}

// waitStderr waits for a stderr line matching re.
func (p *proc) waitStderr(re string, timeout time.Duration) error {
	rx := regexp.MustCompile(re)
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		for _, l := range p.stderr {
			if rx.MatchString(l) {
				p.mu.Unlock()
				return nil
			}
		}
		ch := p.notify
		p.mu.Unlock()
		select {
		case <-ch:
		case <-p.done:
			if p.hasStderr(rx) {
				return nil
			}
			return fmt.Errorf("%s exited (%v) before %q: %s", p.name, p.err, re, tailLines(p.stderrText(), 5))
		case <-deadline:
			return fmt.Errorf("%s: no %q within %v: %s", p.name, re, timeout, tailLines(p.stderrText(), 5))
		}
	}
}

func (p *proc) hasStderr(rx *regexp.Regexp) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.stderr {
		if rx.MatchString(l) {
			return true
		}
	}
	return false
}

// line returns the next stdout line.
func (p *proc) line(timeout time.Duration) (string, error) {
	select {
	case l, ok := <-p.stdout:
		if !ok {
			return "", fmt.Errorf("%s exited (%v) without output: %s", p.name, p.err, tailLines(p.stderrText(), 5))
		}
		return l, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("%s: no output within %v: %s", p.name, timeout, tailLines(p.stderrText(), 5))
	}
}

// wait waits for the process to end.
func (p *proc) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		var ee *exec.ExitError
		if errors.As(p.err, &ee) {
			return fmt.Errorf("%s exited %d: %s", p.name, ee.ExitCode(), tailLines(p.stderrText(), 5))
		}
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s did not exit within %v", p.name, timeout)
	}
}

// cpu returns the user+system CPU seconds and the peak RSS in MiB of an
// exited process.
func (p *proc) cpu() (seconds, rssMiB float64) {
	if p.usage == nil {
		return 0, 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(p.usage.Utime) + tv(p.usage.Stime), float64(p.usage.Maxrss) / 1024
}

func tailLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], " | ")
}
