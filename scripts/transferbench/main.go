// Command transferbench times a whole file transfer between two real
// parley-cli processes over loopback and compares it, in the same run and
// on the same bytes, with raw TCP and with croc (send and receive through a
// local croc relay on 127.0.0.1). `make bench` runs it through
// scripts/bench-transfer.sh, which builds croc from the Go module proxy.
//
// It prints a table and one JSON line: MB/s end to end, MB per CPU-second
// (both processes), peak RSS of each side, the raw TCP loopback MB/s and the
// croc figures, with ratios. When croc is unavailable the table says why and
// the parley figures are still printed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	signal := flag.String("signal", "bin/parley-signal", "parley-signal binary")
	cli := flag.String("cli", "bin/parley-cli", "parley-cli binary")
	croc := flag.String("croc", "", "croc binary (v10); empty means croc is unavailable")
	crocWhy := flag.String("croc-unavailable", "", "why croc is unavailable (printed when --croc is empty)")
	size := flag.Int64("size", 1<<30, "bytes to transfer")
	flag.Parse()
	if err := run(*signal, *cli, *croc, *crocWhy, *size); err != nil {
		fmt.Fprintln(os.Stderr, "transferbench:", err)
		os.Exit(1)
	}
}

type result struct {
	Bytes            int64   `json:"bytes"`
	Seconds          float64 `json:"seconds"`
	MBps             float64 `json:"mbPerSecond"`
	MBPerCPUSecond   float64 `json:"mbPerCpuSecond"`
	SenderRSSMiB     float64 `json:"senderPeakRssMiB"`
	ReceiverRSSMiB   float64 `json:"receiverPeakRssMiB"`
	TCPMBps          float64 `json:"tcpLoopbackMbPerSecond"`
	RatioToTCP       float64 `json:"ratioToTcp"`
	SenderCPUSeconds float64 `json:"senderCpuSeconds"`
	RecvCPUSeconds   float64 `json:"receiverCpuSeconds"`

	// Croc figures; CrocOK is false (and CrocError says why) when croc
	// could not be built or run.
	CrocOK               bool    `json:"crocOk"`
	CrocError            string  `json:"crocError,omitempty"`
	CrocVersion          string  `json:"crocVersion,omitempty"`
	CrocSeconds          float64 `json:"crocSeconds,omitempty"`
	CrocMBps             float64 `json:"crocMbPerSecond,omitempty"`
	CrocMBPerCPUSecond   float64 `json:"crocMbPerCpuSecond,omitempty"`
	CrocSenderRSSMiB     float64 `json:"crocSenderPeakRssMiB,omitempty"`
	CrocReceiverRSSMiB   float64 `json:"crocReceiverPeakRssMiB,omitempty"`
	CrocSenderCPUSeconds float64 `json:"crocSenderCpuSeconds,omitempty"`
	CrocRecvCPUSeconds   float64 `json:"crocReceiverCpuSeconds,omitempty"`
	CrocRelayCPUSeconds  float64 `json:"crocRelayCpuSeconds,omitempty"`
	RatioToCroc          float64 `json:"ratioToCroc,omitempty"`

	// Relayed through the embedded TURN server, with direct on the same
	// bytes for comparison.
	RelayedBytes      int64   `json:"relayedBytes"`
	RelayedMBps       float64 `json:"relayedMbPerSecond"`
	DirectSameMBps    float64 `json:"directSameBytesMbPerSecond"`
	RelayedSetupMs    float64 `json:"relayedSetupMs"`
	DirectSetupMs     float64 `json:"directSetupMs"`
	RatioToCrocPerCPU float64 `json:"ratioToCrocPerCpu,omitempty"`
}

// measurement is one whole-process transfer.
type measurement struct {
	elapsed      time.Duration
	setup        time.Duration // parley: send start until the sender printed "verified"
	sender, recv *syscall.Rusage
	relay        *syscall.Rusage // croc only; nil for parley
}

// stepTimeout bounds one transfer: generous for slow machines, but finite so
// a wedged process never hangs `make bench`.
func stepTimeout(size int64) time.Duration {
	return 2*time.Minute + time.Duration(size/(1<<20))*time.Second
}

func run(signalBin, cliBin, crocBin, crocWhy string, size int64) error {
	work, err := os.MkdirTemp("", "parley-transferbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "payload.bin")
	if err := writeRandom(src, size); err != nil {
		return err
	}
	want, err := fileHash(src)
	if err != nil {
		return err
	}

	pm, err := measureParley(signalBin, cliBin, work, src, size, want, false)
	if err != nil {
		return err
	}
	// The same through parley-signal's embedded TURN relay (--relay-only),
	// on at most 256 MiB so the run stays short; direct on the same bytes
	// for the ratio.
	relSize := min(size, 256<<20)
	relSrc := src
	if relSize != size {
		relSrc = filepath.Join(work, "relayed.bin")
		if err := writeRandom(relSrc, relSize); err != nil {
			return err
		}
	}
	relWant, err := fileHash(relSrc)
	if err != nil {
		return err
	}
	rm, err := measureParley(signalBin, cliBin, work, relSrc, relSize, relWant, true)
	if err != nil {
		return fmt.Errorf("relayed: %w", err)
	}
	dm := pm
	if relSize != size {
		if dm, err = measureParley(signalBin, cliBin, work, relSrc, relSize, relWant, false); err != nil {
			return err
		}
	}

	r := result{Bytes: size}
	if crocBin == "" {
		if crocWhy == "" {
			crocWhy = "no croc binary given (--croc)"
		}
		r.CrocError = crocWhy
	} else {
		r.CrocVersion = crocVersion(crocBin)
		cm, err := measureCroc(crocBin, work, src, size, want)
		if err != nil {
			r.CrocError = err.Error()
		} else {
			r.CrocOK = true
			r.CrocSeconds = cm.elapsed.Seconds()
			r.CrocSenderCPUSeconds, r.CrocRecvCPUSeconds = cpu(cm.sender), cpu(cm.recv)
			r.CrocRelayCPUSeconds = cpu(cm.relay)
			r.CrocSenderRSSMiB = float64(cm.sender.Maxrss) / 1024
			r.CrocReceiverRSSMiB = float64(cm.recv.Maxrss) / 1024
		}
	}

	tcp, err := tcpLoopback(src)
	if err != nil {
		return err
	}
	mb := float64(size) / 1e6
	r.Seconds = pm.elapsed.Seconds()
	r.MBps = mb / r.Seconds
	r.SenderCPUSeconds, r.RecvCPUSeconds = cpu(pm.sender), cpu(pm.recv)
	r.SenderRSSMiB = float64(pm.sender.Maxrss) / 1024
	r.ReceiverRSSMiB = float64(pm.recv.Maxrss) / 1024
	r.TCPMBps = mb / tcp.Seconds()
	r.MBPerCPUSecond = mb / (r.SenderCPUSeconds + r.RecvCPUSeconds)
	r.RatioToTCP = r.MBps / r.TCPMBps
	if r.CrocOK {
		r.CrocMBps = mb / r.CrocSeconds
		r.CrocMBPerCPUSecond = mb / (r.CrocSenderCPUSeconds + r.CrocRecvCPUSeconds)
		r.RatioToCroc = r.MBps / r.CrocMBps
		r.RatioToCrocPerCPU = r.MBPerCPUSecond / r.CrocMBPerCPUSecond
	}

	fmt.Printf("parley-cli send → receive, %d MiB over loopback (two processes, one parley-signal), sha256 verified\n", size>>20)
	fmt.Printf("  end to end            %8.1f MB/s   (%.1f s)\n", r.MBps, r.Seconds)
	fmt.Printf("  per CPU-second        %8.1f MB     (sender %.1f s, receiver %.1f s CPU)\n", r.MBPerCPUSecond, r.SenderCPUSeconds, r.RecvCPUSeconds)
	fmt.Printf("  peak RSS              sender %.1f MiB, receiver %.1f MiB\n", r.SenderRSSMiB, r.ReceiverRSSMiB)
	fmt.Printf("  raw TCP loopback      %8.1f MB/s   (same bytes, same run)\n", r.TCPMBps)
	fmt.Printf("  ratio parley / TCP    %8.3f\n", r.RatioToTCP)
	if r.CrocOK {
		fmt.Printf("croc %s send → receive, same bytes, local croc relay on 127.0.0.1, sha256 verified\n", r.CrocVersion)
		fmt.Printf("  end to end            %8.1f MB/s   (%.1f s)\n", r.CrocMBps, r.CrocSeconds)
		fmt.Printf("  per CPU-second        %8.1f MB     (sender %.1f s, receiver %.1f s CPU; relay %.1f s not counted)\n", r.CrocMBPerCPUSecond, r.CrocSenderCPUSeconds, r.CrocRecvCPUSeconds, r.CrocRelayCPUSeconds)
		fmt.Printf("  peak RSS              sender %.1f MiB, receiver %.1f MiB\n", r.CrocSenderRSSMiB, r.CrocReceiverRSSMiB)
		fmt.Printf("  ratio parley / croc   %8.3f MB/s, %.3f MB per CPU-second\n", r.RatioToCroc, r.RatioToCrocPerCPU)
	} else {
		fmt.Printf("croc: NOT MEASURED: %s\n", r.CrocError)
	}
	relMB := float64(relSize) / 1e6
	r.RelayedBytes = relSize
	r.RelayedMBps = relMB / rm.elapsed.Seconds()
	r.DirectSameMBps = relMB / dm.elapsed.Seconds()
	r.RelayedSetupMs = float64(rm.setup.Microseconds()) / 1000
	r.DirectSetupMs = float64(dm.setup.Microseconds()) / 1000
	fmt.Printf("relayed through parley-signal's embedded TURN (--relay-only), %d MiB, same run\n", relSize>>20)
	fmt.Printf("  end to end            %8.1f MB/s   (direct on the same bytes %.1f MB/s, ratio %.2f)\n", r.RelayedMBps, r.DirectSameMBps, r.RelayedMBps/r.DirectSameMBps)
	fmt.Printf("  send start → verified %8.0f ms     (direct %.0f ms)\n", r.RelayedSetupMs, r.DirectSetupMs)
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	return nil
}

// measureParley times parley-cli send until it exits (the receiver has
// acknowledged the whole file), then checks the received bytes.
// With relayed, parley-signal runs its TURN relay and both sides use
// --relay-only.
func measureParley(signalBin, cliBin, work, src string, size int64, want string, relayed bool) (measurement, error) {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout(size))
	defer cancel()
	args := []string{"--addr", "127.0.0.1:0", "--metrics-addr", "off", "--rate-rooms", "0", "--rate-joins", "0"}
	var relay []string
	if relayed {
		args = append(args, "--turn-listen", "127.0.0.1:0", "--turn-public-ip", "127.0.0.1", "--turn-relay-ports", "41000-41999")
		relay = []string{"--relay-only"}
	}
	srv := command(ctx, signalBin, args...)
	stderr, _ := srv.StderrPipe()
	if err := srv.Start(); err != nil {
		return measurement{}, fmt.Errorf("start parley-signal: %w", err)
	}
	defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
	addr, err := findAddr(stderr)
	if err != nil {
		return measurement{}, err
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	server := "http://" + addr

	env := func(profile string) []string {
		return append(os.Environ(), "PARLEY_SECRET_STORE=file", "PARLEY_PROFILE="+profile,
			"PARLEY_DATA_DIR="+filepath.Join(work, profile), "PARLEY_ICE_LOOPBACK=1")
	}
	create := command(ctx, cliBin, "create", "--server", server)
	create.Env = env("alice")
	out, err := create.Output()
	if err != nil {
		return measurement{}, fmt.Errorf("create: %w", err)
	}
	link := strings.TrimSpace(string(out))

	recvDir := filepath.Join(work, "received")
	recv := command(ctx, cliBin, append(relay, "receive", link, "--out", recvDir, "--count", "1")...)
	recv.Env = env("bob")
	recvErr, _ := recv.StderrPipe()
	if err := recv.Start(); err != nil {
		return measurement{}, err
	}
	defer func() { _ = recv.Process.Kill(); _ = recv.Wait() }()
	if err := waitLine(recvErr, "waiting for peer"); err != nil {
		return measurement{}, fmt.Errorf("receiver: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, recvErr) }()

	send := command(ctx, cliBin, append(relay, "send", link, "--file", src)...)
	send.Env = env("alice")
	sendErr, _ := send.StderrPipe()
	start := time.Now()
	if err := send.Start(); err != nil {
		return measurement{}, fmt.Errorf("send: %w", err)
	}
	var setup time.Duration
	if err := waitLine(sendErr, "verified"); err == nil {
		setup = time.Since(start)
	}
	go func() { _, _ = io.Copy(io.Discard, sendErr) }()
	if err := send.Wait(); err != nil {
		return measurement{}, fmt.Errorf("send: %w", err)
	}
	elapsed := time.Since(start)
	if err := recv.Wait(); err != nil {
		return measurement{}, fmt.Errorf("receive: %w", err)
	}
	if err := checkFile(filepath.Join(recvDir, filepath.Base(src)), size, want); err != nil {
		return measurement{}, fmt.Errorf("parley: %w", err)
	}
	_ = os.RemoveAll(recvDir) // free the disk before the croc run
	return measurement{elapsed: elapsed, setup: setup, sender: usage(send.ProcessState), recv: usage(recv.ProcessState)}, nil
}

// measureCroc runs a croc relay on 127.0.0.1, then croc send and croc
// receive against it, and times from the start of send until the receiver
// has exited with the whole file. Only loopback addresses are used: the
// relay address is explicit (which also clears croc's public IPv6 relay),
// the sender runs no local relay and does no multicast discovery
// (--no-local), the receiver connects straight to the relay (--ip, which
// skips discovery), and a private config dir keeps remembered options and
// internal-DNS mode out. croc still resolves its default relay's name
// through the system resolver at start-up; that lookup sends no data.
func measureCroc(crocBin, work, src string, size int64, want string) (measurement, error) {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout(size))
	defer cancel()
	ports, err := freePorts(5)
	if err != nil {
		return measurement{}, err
	}
	relayAddr := net.JoinHostPort("127.0.0.1", ports[0])
	cfg := filepath.Join(work, "croc-config")
	if err := os.MkdirAll(cfg, 0o700); err != nil {
		return measurement{}, err
	}
	var nonce [6]byte
	_, _ = rand.Read(nonce[:])
	env := append(os.Environ(), "CROC_CONFIG_DIR="+cfg,
		"CROC_SECRET=bench-"+hex.EncodeToString(nonce[:])+"-parley-transferbench")

	relay := command(ctx, crocBin, "relay", "--host", "127.0.0.1", "--ports", strings.Join(ports, ","))
	relay.Env = env
	var relayLog tail
	relay.Stdout, relay.Stderr = &relayLog, &relayLog
	if err := relay.Start(); err != nil {
		return measurement{}, fmt.Errorf("start croc relay: %w", err)
	}
	relayStopped := false
	stopRelay := func() {
		if !relayStopped {
			relayStopped = true
			_ = relay.Process.Kill() // rusage survives SIGKILL
			_ = relay.Wait()
		}
	}
	defer stopRelay()
	if err := waitListening(ctx, ports, 15*time.Second); err != nil {
		return measurement{}, fmt.Errorf("croc relay: %w (output: %s)", err, relayLog.String())
	}

	global := []string{"--yes", "--ignore-stdin", "--disable-clipboard", "--overwrite", "--relay", relayAddr}
	recvDir := filepath.Join(work, "croc-received")
	if err := os.MkdirAll(recvDir, 0o700); err != nil {
		return measurement{}, err
	}
	send := command(ctx, crocBin, append(global, "send", "--no-local", src)...)
	send.Env = env
	var sendLog tail
	send.Stdout, send.Stderr = &sendLog, &sendLog
	recv := command(ctx, crocBin, append(global, "--ip", relayAddr, "--out", recvDir)...)
	recv.Env = env
	var recvLog tail
	recv.Stdout, recv.Stderr = &recvLog, &recvLog

	start := time.Now()
	if err := send.Start(); err != nil {
		return measurement{}, fmt.Errorf("start croc send: %w", err)
	}
	var sendErr error
	sendExited := make(chan struct{})
	go func() { sendErr = send.Wait(); close(sendExited) }()
	defer func() {
		select {
		case <-sendExited:
		default:
			_ = send.Process.Kill()
			<-sendExited
		}
	}()
	// The receiver joins right after the sender, as a person would; the
	// clock started with the sender.
	if err := recv.Start(); err != nil {
		return measurement{}, fmt.Errorf("start croc receive: %w", err)
	}
	recvErr := recv.Wait()
	elapsed := time.Since(start)
	if recvErr != nil {
		return measurement{}, fmt.Errorf("croc receive: %w (output: %s)", timeoutErr(ctx, recvErr), recvLog.String())
	}
	<-sendExited
	if sendErr != nil {
		return measurement{}, fmt.Errorf("croc send: %w (output: %s)", timeoutErr(ctx, sendErr), sendLog.String())
	}
	if err := checkFile(filepath.Join(recvDir, filepath.Base(src)), size, want); err != nil {
		return measurement{}, fmt.Errorf("croc: %w (receiver output: %s)", err, recvLog.String())
	}
	_ = os.RemoveAll(recvDir)
	stopRelay()
	return measurement{elapsed: elapsed, sender: usage(send.ProcessState), recv: usage(recv.ProcessState), relay: usage(relay.ProcessState)}, nil
}

// command is exec.CommandContext that never waits long on a killed
// process's pipes.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.WaitDelay = 5 * time.Second
	return c
}

func timeoutErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("timed out: %w", err)
	}
	return err
}

func crocVersion(bin string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := command(ctx, bin, "--version").Output()
	if err != nil {
		return "(version unknown)"
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "croc version ")
}

// freePorts asks the kernel for n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]string, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	return ports, nil
}

// waitListening waits until every port accepts TCP on 127.0.0.1.
func waitListening(ctx context.Context, ports []string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, p := range ports {
		for {
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", p), time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("port %s not listening after %v: %w", p, limit, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// tail keeps the last 2 KiB written to it, for error messages.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2048 {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-2048:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Progress bars redraw with \r; keep the output on one readable line.
	s := strings.NewReplacer("\r", " | ", "\n", " | ").Replace(string(bytes.TrimSpace(t.buf)))
	if s == "" {
		return "(none)"
	}
	return s
}

func checkFile(path string, size int64, want string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("received file missing: %w", err)
	}
	if st.Size() != size {
		return fmt.Errorf("received file has %d bytes, want %d", st.Size(), size)
	}
	got, err := fileHash(path)
	if err != nil {
		return err
	}
	if got != want {
		return errors.New("received file's sha256 differs from the source")
	}
	return nil
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func usage(ps *os.ProcessState) *syscall.Rusage {
	if ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			return ru
		}
	}
	return &syscall.Rusage{}
}

func cpu(ru *syscall.Rusage) float64 {
	if ru == nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func writeRandom(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	// Random data: no compression anywhere can flatter the numbers.
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var addrRE = regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:[0-9]+)`)

func findAddr(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
			return m[1], nil
		}
	}
	return "", fmt.Errorf("parley-signal did not report its address")
}

func waitLine(r io.Reader, want string) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.Contains(sc.Text(), want) {
			return nil
		}
	}
	return fmt.Errorf("no %q line", want)
}

// tcpLoopback copies the file through one TCP connection on 127.0.0.1.
func tcpLoopback(path string) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(io.Discard, c)
		done <- err
	}()
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(c, f); err != nil {
		return 0, err
	}
	c.Close()
	if err := <-done; err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
