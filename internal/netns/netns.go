// Package netns builds small networks of Linux network namespaces for the
// root-only tests and benchmarks (the emulated-link test, make bench-net):
// the namespaces, veth pairs, addresses and routes, and their removal.
//
// Names carry the pid of the process that made them, so RemoveStale can
// delete what a killed run left behind without touching a run still alive.
// Nothing here sends traffic: it only shapes namespaces the caller owns.
package netns

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// Set is a group of namespaces named Prefix+short name.
type Set struct {
	prefix string
	names  []string
	tag    string // short random tag for temporary interface names
}

// New creates namespaces called kind-PID-RANDOM-NAME for each name, with
// loopback up and IPv6 off. kind is a short word (e.g. "parley-link").
func New(kind string, names ...string) (*Set, error) {
	var r [3]byte
	_, _ = rand.Read(r[:])
	s := &Set{prefix: fmt.Sprintf("%s-%d-%x-", kind, os.Getpid(), r), tag: fmt.Sprintf("%x", r[:2])}
	for _, n := range names {
		if err := run("ip", "netns", "add", s.Name(n)); err != nil {
			s.Close()
			return nil, err
		}
		s.names = append(s.names, n)
		if err := s.Run(n, "ip", "link", "set", "lo", "up"); err != nil {
			s.Close()
			return nil, err
		}
		_ = s.Run(n, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	return s, nil
}

// Name returns the full name of namespace short.
func (s *Set) Name(short string) string { return s.prefix + short }

// Command returns a command that runs inside namespace short.
func (s *Set) Command(short, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", s.Name(short), name}, args...)...)
}

// Run runs a command inside namespace short.
func (s *Set) Run(short string, args ...string) error {
	return run(append([]string{"ip", "netns", "exec", s.Name(short)}, args...)...)
}

// Close deletes the namespaces (their interfaces go with them). Processes
// still inside keep running in an unnamed namespace: stop them first.
func (s *Set) Close() error {
	var errs []error
	for _, n := range s.names {
		errs = append(errs, run("ip", "netns", "del", s.Name(n)))
	}
	s.names = nil
	return errors.Join(errs...)
}

// Veth joins namespaces n1 and n2 with a veth pair: if1 with addr1 (CIDR)
// in n1, if2 with addr2 in n2, both up with the given MTU.
func (s *Set) Veth(n1, if1, addr1, n2, if2, addr2 string, mtu int) error {
	tmp1, tmp2 := "pv"+s.tag+if1, "pv"+s.tag+if2
	if len(tmp1) > 15 || len(tmp2) > 15 {
		return fmt.Errorf("netns: interface names %q, %q too long", if1, if2)
	}
	if err := run("ip", "link", "add", tmp1, "type", "veth", "peer", "name", tmp2); err != nil {
		return err
	}
	for _, e := range []struct{ ns, tmp, name, addr string }{{n1, tmp1, if1, addr1}, {n2, tmp2, if2, addr2}} {
		if err := s.MoveLink(e.tmp, e.ns, e.name, e.addr, mtu); err != nil {
			return err
		}
	}
	return nil
}

// MoveLink moves the interface dev of the caller's namespace into
// namespace ns, renames it name, gives it addr (CIDR) and the MTU and
// sets it up. An empty addr adds none (a bridge port).
func (s *Set) MoveLink(dev, ns, name, addr string, mtu int) error {
	if err := run("ip", "link", "set", dev, "netns", s.Name(ns)); err != nil {
		return err
	}
	steps := [][]string{
		{"ip", "link", "set", dev, "name", name},
		{"ip", "link", "set", name, "mtu", strconv.Itoa(mtu)},
		{"ip", "addr", "add", addr, "dev", name},
		{"ip", "link", "set", name, "up"},
	}
	for _, st := range steps {
		if st[1] == "addr" && addr == "" {
			continue
		}
		if err := s.Run(ns, st...); err != nil {
			return err
		}
	}
	return nil
}

// RemoveStale deletes namespaces of this kind whose creating process is
// gone (a run that was killed).
func RemoveStale(kind string) {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || !strings.HasPrefix(f[0], kind+"-") {
			continue
		}
		owner, _, _ := strings.Cut(strings.TrimPrefix(f[0], kind+"-"), "-")
		if pid, err := strconv.Atoi(owner); err == nil && syscall.Kill(pid, 0) == nil {
			continue
		}
		_ = exec.Command("ip", "netns", "del", f[0]).Run()
	}
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
