// Command transferbench times a whole file transfer between two real
// parley-cli processes over loopback and compares it with raw TCP on the
// same machine in the same run. `make bench` runs it through
// scripts/bench-transfer.sh.
//
// It prints a table and one JSON line: MB/s end to end, MB per CPU-second
// (both processes), peak RSS of each side, and the raw TCP loopback MB/s
// for the same bytes, with the ratio.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

func main() {
	signal := flag.String("signal", "bin/parley-signal", "parley-signal binary")
	cli := flag.String("cli", "bin/parley-cli", "parley-cli binary")
	size := flag.Int64("size", 1<<30, "bytes to transfer")
	flag.Parse()
	if err := run(*signal, *cli, *size); err != nil {
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
}

func run(signalBin, cliBin string, size int64) error {
	work, err := os.MkdirTemp("", "parley-transferbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "payload.bin")
	if err := writeRandom(src, size); err != nil {
		return err
	}

	srv := exec.Command(signalBin, "--addr", "127.0.0.1:0", "--rate-rooms", "0", "--rate-joins", "0")
	stderr, _ := srv.StderrPipe()
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
	addr, err := findAddr(stderr)
	if err != nil {
		return err
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	server := "http://" + addr

	env := func(profile string) []string {
		return append(os.Environ(), "PARLEY_SECRET_STORE=file", "PARLEY_PROFILE="+profile,
			"PARLEY_DATA_DIR="+filepath.Join(work, profile), "PARLEY_ICE_LOOPBACK=1")
	}
	create := exec.Command(cliBin, "create", "--server", server)
	create.Env = env("alice")
	out, err := create.Output()
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	link := strings.TrimSpace(string(out))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	recvDir := filepath.Join(work, "received")
	recv := exec.CommandContext(ctx, cliBin, "receive", link, "--out", recvDir, "--count", "1")
	recv.Env = env("bob")
	recvErr, _ := recv.StderrPipe()
	if err := recv.Start(); err != nil {
		return err
	}
	if err := waitLine(recvErr, "waiting for peer"); err != nil {
		return fmt.Errorf("receiver: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, recvErr) }()

	send := exec.CommandContext(ctx, cliBin, "send", link, "--file", src)
	send.Env = env("alice")
	send.Stderr = io.Discard
	start := time.Now()
	if err := send.Run(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	elapsed := time.Since(start)
	if err := recv.Wait(); err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	st, err := os.Stat(filepath.Join(recvDir, "payload.bin"))
	if err != nil || st.Size() != size {
		return fmt.Errorf("received file missing or wrong size: %v", err)
	}

	tcp, err := tcpLoopback(src)
	if err != nil {
		return err
	}
	su, ru := usage(send.ProcessState), usage(recv.ProcessState)
	mb := float64(size) / 1e6
	r := result{
		Bytes:            size,
		Seconds:          elapsed.Seconds(),
		MBps:             mb / elapsed.Seconds(),
		SenderCPUSeconds: cpu(su),
		RecvCPUSeconds:   cpu(ru),
		SenderRSSMiB:     float64(su.Maxrss) / 1024,
		ReceiverRSSMiB:   float64(ru.Maxrss) / 1024,
		TCPMBps:          mb / tcp.Seconds(),
	}
	r.MBPerCPUSecond = mb / (r.SenderCPUSeconds + r.RecvCPUSeconds)
	r.RatioToTCP = r.MBps / r.TCPMBps
	fmt.Printf("parley-cli send → receive, %d MiB over loopback (two processes, one parley-signal)\n", size>>20)
	fmt.Printf("  end to end            %8.1f MB/s   (%.1f s)\n", r.MBps, r.Seconds)
	fmt.Printf("  per CPU-second        %8.1f MB     (sender %.1f s, receiver %.1f s CPU)\n", r.MBPerCPUSecond, r.SenderCPUSeconds, r.RecvCPUSeconds)
	fmt.Printf("  peak RSS              sender %.1f MiB, receiver %.1f MiB\n", r.SenderRSSMiB, r.ReceiverRSSMiB)
	fmt.Printf("  raw TCP loopback      %8.1f MB/s   (same bytes, same run)\n", r.TCPMBps)
	fmt.Printf("  ratio parley / TCP    %8.3f\n", r.RatioToTCP)
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	return nil
}

func usage(ps *os.ProcessState) *syscall.Rusage {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru
	}
	return &syscall.Rusage{}
}

func cpu(ru *syscall.Rusage) float64 {
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

var addrRE = regexp.MustCompile(`addr=(127\.0\.0\.1:[0-9]+)`)

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
