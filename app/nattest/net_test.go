//go:build nattest

package nattest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Addresses of the topology:
//
//	a (10.0.1.2) ── nat1 (10.0.1.1 | 100.64.1.2) ──┐
//	                                               pub (100.64.1.1, 100.64.2.1): parley-signal + TURN
//	b (10.0.2.2) ── nat2 (10.0.2.1 | 100.64.2.2) ──┘
const (
	pubIP  = "100.64.1.1"
	nat1IP = "100.64.1.2"
	nat2IP = "100.64.2.2"
)

// topo is one set of namespaces.
type topo struct {
	t      *testing.T
	prefix string
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ns returns the full name of namespace short.
func (tp *topo) ns(short string) string { return tp.prefix + short }

// in runs a command inside namespace short.
func (tp *topo) in(short string, args ...string) string {
	tp.t.Helper()
	return run(tp.t, append([]string{"ip", "netns", "exec", tp.ns(short)}, args...)...)
}

func checkTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the NAT test needs root (network namespaces, iptables): run it as root, e.g. sudo make test-nat")
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run make deps (apt: iproute2 iptables)", tool)
		}
	}
}

// removeStale deletes namespaces left by a run that was killed. Names
// carry the pid of the test binary that made them, so a run still alive
// (another make test at the same time) keeps its namespaces.
func removeStale() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || !strings.HasPrefix(f[0], "parley-nat-") {
			continue
		}
		owner, _, _ := strings.Cut(strings.TrimPrefix(f[0], "parley-nat-"), "-")
		if pid, err := strconv.Atoi(owner); err == nil && syscall.Kill(pid, 0) == nil {
			continue
		}
		_ = exec.Command("ip", "netns", "del", f[0]).Run()
	}
}

// newTopo builds the namespaces, links, routes and NAT rules.
func newTopo(t *testing.T) *topo {
	t.Helper()
	checkTools(t)
	removeStale()
	var r [3]byte
	_, _ = rand.Read(r[:])
	tp := &topo{t: t, prefix: fmt.Sprintf("parley-nat-%d-%x-", os.Getpid(), r)}
	names := []string{"pub", "nat1", "nat2", "a", "b"}
	t.Cleanup(func() {
		for _, n := range names {
			_ = exec.Command("ip", "netns", "del", tp.ns(n)).Run()
		}
	})
	for _, n := range names {
		run(t, "ip", "netns", "add", tp.ns(n))
		tp.in(n, "ip", "link", "set", "lo", "up")
	}
	// veth pairs: names are local to a namespace once moved.
	link := func(n1, if1, addr1, n2, if2, addr2 string) {
		tmp1, tmp2 := fmt.Sprintf("pn%x%s", r[:2], if1), fmt.Sprintf("pn%x%s", r[:2], if2)
		run(t, "ip", "link", "add", tmp1, "type", "veth", "peer", "name", tmp2)
		run(t, "ip", "link", "set", tmp1, "netns", tp.ns(n1))
		run(t, "ip", "link", "set", tmp2, "netns", tp.ns(n2))
		tp.in(n1, "ip", "link", "set", tmp1, "name", if1)
		tp.in(n2, "ip", "link", "set", tmp2, "name", if2)
		tp.in(n1, "ip", "addr", "add", addr1, "dev", if1)
		tp.in(n2, "ip", "addr", "add", addr2, "dev", if2)
		tp.in(n1, "ip", "link", "set", if1, "up")
		tp.in(n2, "ip", "link", "set", if2, "up")
	}
	link("pub", "p1", pubIP+"/24", "nat1", "wan", nat1IP+"/24")
	link("pub", "p2", "100.64.2.1/24", "nat2", "wan", nat2IP+"/24")
	link("nat1", "lan", "10.0.1.1/24", "a", "eth0", "10.0.1.2/24")
	link("nat2", "lan", "10.0.2.1/24", "b", "eth0", "10.0.2.2/24")
	tp.in("pub", "sysctl", "-qw", "net.ipv4.ip_forward=1")
	for i, n := range []string{"nat1", "nat2"} {
		tp.in(n, "sysctl", "-qw", "net.ipv4.ip_forward=1")
		tp.in(n, "ip", "route", "add", "default", "via", fmt.Sprintf("100.64.%d.1", i+1))
		tp.in(n, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE")
	}
	tp.in("a", "ip", "route", "add", "default", "via", "10.0.1.1")
	tp.in("b", "ip", "route", "add", "default", "via", "10.0.2.1")
	return tp
}

// blockDirect drops traffic between the two NATs' public addresses in
// pub, so only the relay (in pub itself) connects them.
func (tp *topo) blockDirect(on bool) {
	op := "-I"
	if !on {
		op = "-D"
	}
	tp.in("pub", "iptables", op, "FORWARD", "-s", nat1IP, "-d", nat2IP, "-j", "DROP")
	tp.in("pub", "iptables", op, "FORWARD", "-s", nat2IP, "-d", nat1IP, "-j", "DROP")
}

// publicB makes b reachable from outside (its NAT stops masquerading
// and pub routes b's subnet to it), like a host with a public address.
func (tp *topo) publicB(on bool) {
	if on {
		tp.in("nat2", "iptables", "-t", "nat", "-F", "POSTROUTING")
		tp.in("pub", "ip", "route", "add", "10.0.2.0/24", "via", nat2IP)
		return
	}
	tp.in("pub", "ip", "route", "del", "10.0.2.0/24", "via", nat2IP)
	tp.in("nat2", "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE")
}

// binaries builds parley-signal and parley-cli once per test binary.
var bins struct{ signal, cli string }

func buildBins(t *testing.T) {
	t.Helper()
	if bins.cli != "" {
		return
	}
	dir, err := os.MkdirTemp("", "parley-nat-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(dir)
		bins.signal, bins.cli = "", ""
	})
	bins.signal, bins.cli = filepath.Join(dir, "parley-signal"), filepath.Join(dir, "parley-cli")
	run(t, "go", "build", "-o", bins.signal, "github.com/parley-chat/parley/signaling/cmd/parley-signal")
	run(t, "go", "build", "-o", bins.cli, "github.com/parley-chat/parley/app/cmd/parley-cli")
}

func randomFile(t *testing.T, size int) string {
	t.Helper()
	b := make([]byte, size)
	_, _ = rand.Read(b)
	p := filepath.Join(t.TempDir(), "payload.bin")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
		t.Fatalf("%s and %s differ (%v, %v; %d vs %d bytes)", a, b, err1, err2, len(x), len(y))
	}
}

// wait is a generous bound for one step across namespaces under -race.
const wait = 60 * time.Second
