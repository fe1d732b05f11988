// Command netbench measures Parley against croc over emulated real links
// (make bench-net, through scripts/bench-net.sh, which builds the binaries
// and checks for root). For each link of issue #20's table it builds three
// network namespaces, a =[link]= srv =[veth]= b (internal/netns; the link
// is the linkem command under real-time priority), runs parley-signal and
// a croc relay in srv, then alternates Parley and croc transfers of the
// same random file from a to b, and prints per row MB/s, CPU seconds per
// side, peak RSS, the fraction of the link rate and the Parley/croc ratio.
// The "share" row runs a Parley transfer beside one TCP CUBIC flow (this
// binary's tcp-send/tcp-recv) on the 100 Mbit/s link and prints the split.
//
// Every namespace, process and sysctl it changes is undone on exit, also
// on SIGINT/SIGTERM. All traffic stays inside its own namespaces.
//
// -tools names what runs in each round, in order: croc, parley (DIR/parley-cli)
// and parley-NAME (DIR/parley-cli-NAME, another build): a change's before
// and after alternate in the same run, on the same link, beside croc.
//
// The call rows run a 640x480 call with the busy synthetic camera both
// ways (parley-cli call --video testsrc-busy --stats) and print fps,
// freezes, keyframe requests, RTT and glass-to-glass latency per side and
// the link's load per phase.
//
//	netbench -bin DIR [-runs N] [-rows lan,gbit,home,relayed,homeloss,longfat,share,call2m,call300k,callstep] [-tools parley,croc]
//	netbench tcp-recv -l ADDR          (inside a namespace: the shared-link flow's receiver)
//	netbench tcp-send -c ADDR -dur D   (its sender, TCP CUBIC)
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/parley-chat/parley/internal/linkem"
	"github.com/parley-chat/parley/internal/netns"
)

// row is one link of the table.
type row struct {
	name, desc string
	lan        bool          // bridged veth, no emulator
	rate       float64       // bits/s
	delay      time.Duration // one way
	loss       float64       // fraction
	size       int64         // file bytes
	relay      bool          // Parley --relay-only through parley-signal's TURN
	crocLocal  bool          // croc as on a LAN: the sender's own relay
	call       time.Duration // a call row: its length (no file, no croc)
	steps      bool          // the call's link steps 2 Mbit/s -> 300 kbit/s -> 2 Mbit/s
}

// The sizes keep one transfer to 5-30 s at the speeds measured so far,
// so the default run stays within about 15 minutes.
var table = []row{
	{name: "lan", desc: "veth LAN, MTU 1500 (CPU-bound)", lan: true, size: 128 << 20, crocLocal: true},
	{name: "gbit", desc: "1 Gbit/s, 1 ms RTT", rate: 1e9, delay: 500 * time.Microsecond, size: 128 << 20, crocLocal: true},
	{name: "home", desc: "100 Mbit/s, 40 ms RTT", rate: 100e6, delay: 20 * time.Millisecond, size: 64 << 20},
	{name: "relayed", desc: "same, relayed (TURN / croc relay)", rate: 100e6, delay: 20 * time.Millisecond, size: 64 << 20, relay: true},
	{name: "homeloss", desc: "100 Mbit/s, 40 ms RTT, 0.5% loss", rate: 100e6, delay: 20 * time.Millisecond, loss: 0.005, size: 16 << 20},
	{name: "longfat", desc: "200 Mbit/s, 100 ms RTT, 0.1% loss", rate: 200e6, delay: 50 * time.Millisecond, loss: 0.001, size: 16 << 20},
	// Not in the default rows: a clean long path, where a fixed receive
	// window (1 MiB per round trip) or slow start's overshoot shows.
	{name: "longclean", desc: "200 Mbit/s, 100 ms RTT", rate: 200e6, delay: 50 * time.Millisecond, size: 64 << 20},
	{name: "share", desc: "100 Mbit/s, 40 ms RTT, shared 30 s with one TCP CUBIC flow", rate: 100e6, delay: 20 * time.Millisecond, size: 256 << 20},
	{name: "call2m", desc: "call 640x480 testsrc-busy, 2 Mbit/s, 40 ms RTT, 1% loss", rate: 2e6, delay: 20 * time.Millisecond, loss: 0.01, call: 25 * time.Second},
	{name: "call300k", desc: "call 640x480 testsrc-busy, 300 kbit/s, 40 ms RTT", rate: 300e3, delay: 20 * time.Millisecond, call: 25 * time.Second},
	{name: "callstep", desc: "call 640x480 testsrc-busy, 2 Mbit/s -> 300 kbit/s -> 2 Mbit/s, 40 ms RTT", rate: 2e6, delay: 20 * time.Millisecond, call: 36 * time.Second, steps: true},
}

func main() {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "tcp-") {
		if err := tcpTool(os.Args[1], os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "netbench:", err)
			os.Exit(1)
		}
		return
	}
	bin := flag.String("bin", "", "directory with parley-cli, parley-signal, linkem, croc and netbench itself")
	runs := flag.Int("runs", 2, "rounds per link (Parley and croc alternate in each)")
	rows := flag.String("rows", "lan,gbit,home,relayed,homeloss,longfat,share,call2m,call300k,callstep", "links to run, comma-separated")
	share := flag.Duration("share", 30*time.Second, "length of the shared-link row")
	trace := flag.Bool("sctp-trace", false, "run Parley's sender with PION_LOG_TRACE=sctp and keep its log in the work dir")
	timeline := flag.Bool("timeline", false, "print the emulated link's delivered MB/s each second of every transfer")
	callLogs := flag.String("call-logs", "", "run the call rows at log level debug and write each side's log to this directory")
	tools := flag.String("tools", "parley,croc", "what runs in each round, in order: croc, parley (parley-cli) or parley-NAME (the build parley-cli-NAME in -bin)")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "netbench: -bin is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *trace {
		maxStderrLines = 2_000_000
	}
	b := &bench{bin: *bin, runs: *runs, share: *share, trace: *trace, timeline: *timeline, callLogs: *callLogs, tools: strings.Split(*tools, ",")}
	for _, t := range b.tools {
		if t != "croc" && t != "parley" && !strings.HasPrefix(t, "parley-") {
			fmt.Fprintf(os.Stderr, "netbench: unknown tool %q (croc, parley, parley-NAME)\n", t)
			os.Exit(2)
		}
	}
	if len(b.parleyTools()) == 0 {
		fmt.Fprintln(os.Stderr, "netbench: -tools needs at least one Parley build")
		os.Exit(2)
	}
	err := b.run(ctx, strings.Split(*rows, ","))
	b.cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "netbench:", err)
		os.Exit(1)
	}
}

type bench struct {
	bin   string
	runs  int
	share time.Duration
	trace bool
	// timeline prints the link's delivered MB/s each second of a transfer.
	timeline bool
	// callLogs, when set, is where each call side's debug log is written.
	callLogs string
	tools    []string // croc, parley, parley-NAME
	work     string

	undo    []func() // run in reverse by cleanup
	results []result
}

// result is one transfer.
type result struct {
	row, tool        string
	ok               bool
	err              string
	seconds          float64
	mbps             float64
	sendCPU, recvCPU float64
	sendRSS, recvRSS float64
	sendExit         float64 // Parley: seconds from the receiver's verification to each exit
	recvExit         float64
}

func (b *bench) cleanup() {
	killAll()
	for i := len(b.undo) - 1; i >= 0; i-- {
		b.undo[i]()
	}
	b.undo = nil
}

func (b *bench) run(ctx context.Context, names []string) error {
	netns.RemoveStale("parley-bench")
	work, err := os.MkdirTemp("", "parley-netbench-")
	if err != nil {
		return err
	}
	b.work = work
	b.undo = append(b.undo, func() {
		if b.trace {
			fmt.Printf("SCTP traces kept in %s\n", work)
			return
		}
		os.RemoveAll(work)
	})
	if err := b.allowCubic(); err != nil {
		return err
	}
	files := map[int64]string{}
	for _, name := range names {
		i := slices.IndexFunc(table, func(r row) bool { return r.name == name })
		if i < 0 {
			return fmt.Errorf("unknown row %q", name)
		}
		r := table[i]
		if _, ok := files[r.size]; !ok && r.call == 0 {
			p := filepath.Join(work, fmt.Sprintf("f%d.bin", r.size>>20))
			if err := writeRandom(p, r.size); err != nil {
				return err
			}
			files[r.size] = p
		}
		fmt.Printf("== %s (%s)\n", r.desc, r.name)
		var err error
		switch {
		case r.call > 0:
			// Each Parley build in turn (BASE=REV: before, then after).
			for _, tool := range b.parleyTools() {
				if err = b.runCall(ctx, r, tool); err != nil {
					break
				}
			}
		case r.name == "share":
			err = b.runShare(ctx, r, files[r.size])
		default:
			err = b.runRow(ctx, r, files[r.size])
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Printf("   row %s failed: %v\n", r.name, err)
		}
	}
	b.print(names)
	return nil
}

// allowCubic lets the namespaces choose CUBIC (this kernel allows only
// reno and bbr in child namespaces) and restores the setting afterwards.
func (b *bench) allowCubic() error {
	const key = "/proc/sys/net/ipv4/tcp_allowed_congestion_control"
	old, err := os.ReadFile(key)
	if err != nil {
		return err
	}
	cur := strings.Fields(string(old))
	if slices.Contains(cur, "cubic") {
		return nil
	}
	want := strings.Join(append(cur, "cubic"), " ")
	if err := os.WriteFile(key, []byte(want), 0o644); err != nil {
		return fmt.Errorf("allow cubic: %w", err)
	}
	b.undo = append(b.undo, func() { _ = os.WriteFile(key, old, 0o644) })
	return nil
}

// testbed builds the namespaces for r (with the emulator for a routed
// link) and starts parley-signal and a croc relay in srv.
func (b *bench) testbed(ctx context.Context, r row) (*netns.Bed, func(), error) {
	var bed *netns.Bed
	var lk *proc
	var err error
	if r.lan {
		bed, err = netns.LAN("parley-bench", 1500)
	} else {
		tag := fmt.Sprintf("%04x", os.Getpid()&0xffff)
		cfg := linkem.Config{Rate: r.rate, Delay: r.delay, Loss: r.loss}
		lk, err = start(ctx, "linkem", "", nil, "chrt", "-f", "20", filepath.Join(b.bin, "linkem"),
			"-tun-a", "pbk"+tag+"a", "-tun-b", "pbk"+tag+"b", "-control", filepath.Join(b.work, "linkem.sock"),
			"-rate", fmt.Sprint(cfg.Rate), "-delay", cfg.Delay.String(), "-loss", fmt.Sprint(cfg.Loss*100))
		if err != nil {
			return nil, nil, err
		}
		if _, err = lk.line(10 * time.Second); err != nil {
			return nil, nil, err
		}
		bed, err = netns.Routed("parley-bench", "pbk"+tag+"a", "pbk"+tag+"b", 1500)
	}
	if err != nil {
		if lk != nil {
			lk.stop()
		}
		return nil, nil, err
	}
	var servers []*proc
	teardown := func() {
		for _, p := range servers {
			p.stop()
		}
		if lk != nil {
			lk.stop()
		}
		_ = bed.Close()
	}
	fail := func(err error) (*netns.Bed, func(), error) { teardown(); return nil, nil, err }
	for _, ns := range []string{"a", "b", "srv"} {
		if err := bed.Run(ns, "sysctl", "-qw", "net.ipv4.tcp_congestion_control=cubic"); err != nil {
			return fail(err)
		}
	}
	sig := []string{"--addr", bed.SrvFromA + ":8787", "--rate-rooms", "0", "--rate-joins", "0"}
	if r.relay {
		sig = append(sig, "--turn-listen", "0.0.0.0:3478", "--turn-public-ip", bed.SrvFromA, "--turn-relay-ports", "41000-41999")
	}
	p, err := start(ctx, "parley-signal", bed.Name("srv"), nil, filepath.Join(b.bin, "parley-signal"), sig...)
	if err != nil {
		return fail(err)
	}
	servers = append(servers, p)
	if err := p.waitStderr(`msg=listening`, 20*time.Second); err != nil {
		return fail(err)
	}
	if !r.crocLocal && r.call == 0 {
		c, err := start(ctx, "croc relay", bed.Name("srv"), []string{"CROC_CONFIG_DIR=" + filepath.Join(b.work, "croc-srv")},
			filepath.Join(b.bin, "croc"), "--pass", "benchpass", "relay", "--ports", "9009,9010,9011,9012,9013")
		if err != nil {
			return fail(err)
		}
		servers = append(servers, c)
		if err := waitListen(bed, "srv", "9009", 20*time.Second); err != nil {
			return fail(err)
		}
	}
	return bed, teardown, nil
}

func (b *bench) runRow(ctx context.Context, r row, file string) error {
	bed, teardown, err := b.testbed(ctx, r)
	if err != nil {
		return err
	}
	defer teardown()
	want, err := fileHash(file)
	if err != nil {
		return err
	}
	for i := range b.runs {
		for _, tool := range b.tools {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var res result
			if tool == "croc" {
				res = b.croc(ctx, bed, r, file, want, i)
			} else {
				res = b.parley(ctx, bed, r, b.cli(tool), file, want, i)
			}
			res.row, res.tool = r.name, tool
			b.results = append(b.results, res)
			if res.ok {
				extra := ""
				if tool != "croc" {
					extra = fmt.Sprintf(", exits %.2f / %.2f s after verification", res.sendExit, res.recvExit)
				}
				fmt.Printf("   %-8s run %d: %6.2f MB/s (%.1f s), CPU s send %.1f recv %.1f, RSS MiB %.0f / %.0f%s\n",
					tool, i+1, res.mbps, res.seconds, res.sendCPU, res.recvCPU, res.sendRSS, res.recvRSS, extra)
			} else {
				fmt.Printf("   %-8s run %d: FAILED: %s\n", tool, i+1, res.err)
			}
		}
	}
	return nil
}

// transferTimeout bounds one transfer: 200 kB/s at the least.
func transferTimeout(size int64) time.Duration {
	return time.Minute + time.Duration(size/200e3)*time.Second
}

// cli is the parley-cli build that tool (parley or parley-NAME) runs.
func (b *bench) cli(tool string) string {
	return filepath.Join(b.bin, strings.Replace(tool, "parley", "parley-cli", 1))
}

// parleyTools are the Parley builds in b.tools.
func (b *bench) parleyTools() []string {
	var ts []string
	for _, t := range b.tools {
		if t != "croc" {
			ts = append(ts, t)
		}
	}
	return ts
}

func (b *bench) parley(ctx context.Context, bed *netns.Bed, r row, cli, file, want string, run int) result {
	data := filepath.Join(b.work, "parley", fmt.Sprint(run))
	out := filepath.Join(b.work, "out")
	_ = os.RemoveAll(out)
	defer os.RemoveAll(out)
	env := func(who string) []string {
		return []string{"PARLEY_PROFILE=" + who, "PARLEY_DATA_DIR=" + filepath.Join(data, who), "PARLEY_SECRET_STORE=file", "PARLEY_LOG_LEVEL=info"}
	}
	fail := func(err error) result { return result{err: err.Error()} }
	create, err := start(ctx, "create", bed.Name("a"), env("alice"), cli, "create", "--server", "http://"+bed.SrvFromA+":8787")
	if err != nil {
		return fail(err)
	}
	link, err := create.line(30 * time.Second)
	if err != nil {
		return fail(err)
	}
	if err := create.wait(10 * time.Second); err != nil {
		return fail(err)
	}
	var global []string
	if r.relay {
		global = []string{"--relay-only"}
	}
	recv, err := start(ctx, "parley receive", bed.Name("b"), env("bob"), cli, append(global, "receive", link, "--out", out, "--count", "1")...)
	if err != nil {
		return fail(err)
	}
	defer recv.stop()
	if err := recv.waitStderr(`^waiting for peer$`, 30*time.Second); err != nil {
		return fail(err)
	}
	senv := env("alice")
	if b.trace {
		senv = append(senv, "PION_LOG_TRACE=sctp")
	}
	var series func() string
	if b.timeline && !r.lan {
		series = linkSeries(ctx, filepath.Join(b.work, "linkem.sock"))
	}
	t0 := time.Now()
	send, err := start(ctx, "parley send", bed.Name("a"), senv, cli, append(global, "send", link, "--file", file)...)
	if err != nil {
		return fail(err)
	}
	defer send.stop()
	got, err := recv.line(transferTimeout(r.size))
	if series != nil {
		fmt.Printf("   %-8s run %d: link a->b MB/s each second (queue drops):%s\n", filepath.Base(cli), run+1, series())
	}
	if err != nil {
		return fail(err)
	}
	verified := time.Now()
	for _, p := range []*proc{send, recv} {
		if err := p.wait(time.Minute); err != nil {
			return fail(err)
		}
	}
	if b.trace {
		_ = os.WriteFile(filepath.Join(b.work, fmt.Sprintf("sctp-%s-%s-%d.log", r.name, filepath.Base(cli), run)), []byte(send.stderrText()), 0o644)
	}
	if h, err := fileHash(got); err != nil || h != want {
		return fail(fmt.Errorf("received file differs (%v)", err))
	}
	if r.relay && !strings.Contains(send.stderrText(), "connected relayed") {
		return fail(errors.New("not relayed"))
	}
	res := b.measure(r, verified.Sub(t0), send, recv)
	res.sendExit, res.recvExit = send.exitAt.Sub(verified).Seconds(), recv.exitAt.Sub(verified).Seconds()
	return res
}

func (b *bench) croc(ctx context.Context, bed *netns.Bed, r row, file, want string, run int) result {
	out := filepath.Join(b.work, "out")
	_ = os.RemoveAll(out)
	_ = os.MkdirAll(out, 0o700)
	defer os.RemoveAll(out)
	croc := filepath.Join(b.bin, "croc")
	var sec [12]byte
	_, _ = rand.Read(sec[:])
	secret := "bench-" + hex.EncodeToString(sec[:])
	env := func(who string) []string {
		return []string{"CROC_SECRET=" + secret, "CROC_CONFIG_DIR=" + filepath.Join(b.work, "croc-"+who)}
	}
	common := []string{"--pass", "benchpass", "--yes", "--ignore-stdin", "--disable-clipboard", "--overwrite"}
	fail := func(err error) result { return result{err: err.Error()} }
	var send, recv *proc
	var t0 time.Time
	var err error
	var series func() string
	if b.timeline && !r.lan {
		series = linkSeries(ctx, filepath.Join(b.work, "linkem.sock"))
	}
	if r.crocLocal {
		// As on a LAN: the sender runs its own relay; the receiver goes
		// straight to it (as its local discovery would).
		t0 = time.Now()
		send, err = start(ctx, "croc send", bed.Name("a"), env("a"), croc, append(common, "--relay", bed.A+":9009", "send", file)...)
		if err != nil {
			return fail(err)
		}
		defer send.stop()
		if err := waitListen(bed, "a", "9009", 30*time.Second); err != nil {
			return fail(err)
		}
		recv, err = start(ctx, "croc receive", bed.Name("b"), env("b"), croc, append(common, "--ip", bed.A+":9009", "--out", out)...)
		if err != nil {
			return fail(err)
		}
		defer recv.stop()
	} else {
		recv, err = start(ctx, "croc receive", bed.Name("b"), env("b"), croc, append(common, "--ip", bed.SrvFromB+":9009", "--out", out)...)
		if err != nil {
			return fail(err)
		}
		defer recv.stop()
		// The receiver waits at the relay; give it time to get there.
		select {
		case <-time.After(1500 * time.Millisecond):
		case <-ctx.Done():
			return fail(ctx.Err())
		}
		t0 = time.Now()
		send, err = start(ctx, "croc send", bed.Name("a"), env("a"), croc, append(common, "--relay", bed.SrvFromA+":9009", "send", "--no-local", file)...)
		if err != nil {
			return fail(err)
		}
		defer send.stop()
	}
	err = recv.wait(transferTimeout(r.size))
	if series != nil {
		fmt.Printf("   %-8s run %d: link a->b MB/s each second (queue drops):%s\n", "croc", run+1, series())
	}
	if err != nil {
		return fail(err)
	}
	done := recv.exitAt
	if err := send.wait(time.Minute); err != nil {
		return fail(err)
	}
	if h, err := fileHash(filepath.Join(out, filepath.Base(file))); err != nil || h != want {
		return fail(fmt.Errorf("received file differs (%v)", err))
	}
	return b.measure(r, done.Sub(t0), send, recv)
}

func (b *bench) measure(r row, took time.Duration, send, recv *proc) result {
	res := result{ok: true, seconds: took.Seconds(), mbps: float64(r.size) / 1e6 / took.Seconds()}
	res.sendCPU, res.sendRSS = send.cpu()
	res.recvCPU, res.recvRSS = recv.cpu()
	return res
}

// waitListen waits until something listens on TCP port in namespace ns.
func waitListen(bed *netns.Bed, ns, port string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		out, _ := bed.Command(ns, "ss", "-Hltn", "sport = :"+port).Output()
		if strings.Contains(string(out), "LISTEN") {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s:%s within %v", ns, port, timeout)
}

func (b *bench) print(names []string) {
	fmt.Println()
	fmt.Println("| link | tool | n | MB/s median [min-max] | of link rate | CPU s send / recv | peak RSS MiB send / recv | /croc |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, name := range names {
		i := slices.IndexFunc(table, func(r row) bool { return r.name == name })
		if i < 0 || name == "share" || table[i].call > 0 {
			continue
		}
		r := table[i]
		type line struct {
			n, failed   int
			med, lo, hi float64
			scpu, rcpu  float64
			srss, rrss  float64
		}
		lines := map[string]line{}
		for _, tool := range b.tools {
			var mb, scpu, rcpu []float64
			var l line
			for _, x := range b.results {
				if x.row != name || x.tool != tool {
					continue
				}
				if !x.ok {
					l.failed++
					continue
				}
				mb, scpu, rcpu = append(mb, x.mbps), append(scpu, x.sendCPU), append(rcpu, x.recvCPU)
				l.srss, l.rrss = max(l.srss, x.sendRSS), max(l.rrss, x.recvRSS)
			}
			if l.n = len(mb); l.n > 0 {
				l.med, l.lo, l.hi = median(mb), slices.Min(mb), slices.Max(mb)
				l.scpu, l.rcpu = median(scpu), median(rcpu)
			}
			lines[tool] = l
		}
		for _, tool := range b.tools {
			l := lines[tool]
			if l.n == 0 {
				fmt.Printf("| %s | %s | 0 (%d failed) | | | | | |\n", r.desc, tool, l.failed)
				continue
			}
			frac := "n/a (CPU)"
			if r.rate > 0 {
				frac = fmt.Sprintf("%.0f%%", 100*l.med/(r.rate/8e6))
			}
			ratio := ""
			if c := lines["croc"]; tool != "croc" && c.n > 0 {
				ratio = fmt.Sprintf("%.2f", l.med/c.med)
			}
			fl := ""
			if l.failed > 0 {
				fl = fmt.Sprintf(" (+%d failed)", l.failed)
			}
			fmt.Printf("| %s | %s | %d%s | %.2f [%.2f-%.2f] | %s | %.1f / %.1f | %.0f / %.0f | %s |\n",
				r.desc, tool, l.n, fl, l.med, l.lo, l.hi, frac, l.scpu, l.rcpu, l.srss, l.rrss, ratio)
		}
	}
	for _, tool := range b.parleyTools() {
		var exits []float64
		for _, x := range b.results {
			if x.ok && x.tool == tool {
				exits = append(exits, max(x.sendExit, x.recvExit))
			}
		}
		if len(exits) > 0 {
			fmt.Printf("\n%s: later of the two exits after the receiver's verification: median %.3f s, max %.3f s (%d transfers)\n",
				tool, median(exits), slices.Max(exits), len(exits))
		}
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func writeRandom(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
