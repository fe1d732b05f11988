package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runShare runs, for each Parley build in b.tools, a Parley transfer on
// r's link and, once it is under way, one TCP CUBIC flow beside it for
// b.share, and prints what each got.
func (b *bench) runShare(ctx context.Context, r row, file string) error {
	for i := range b.runs {
		for _, tool := range b.parleyTools() {
			if err := b.share1(ctx, r, b.cli(tool), file, tool, i); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *bench) share1(ctx context.Context, r row, cli, file, tool string, run int) error {
	bed, teardown, err := b.testbed(ctx, r)
	if err != nil {
		return err
	}
	defer teardown()
	self := filepath.Join(b.bin, "netbench")
	tcpRecv, err := start(ctx, "tcp-recv", bed.Name("b"), nil, self, "tcp-recv", "-l", bed.B+":5201")
	if err != nil {
		return err
	}
	defer tcpRecv.stop()
	if err := waitListen(bed, "b", "5201", 10*time.Second); err != nil {
		return err
	}
	out := filepath.Join(b.work, "out")
	_ = os.RemoveAll(out)
	defer os.RemoveAll(out)
	data := filepath.Join(b.work, "parley", fmt.Sprintf("share-%s-%d", tool, run))
	env := func(who string) []string {
		return []string{"PARLEY_PROFILE=" + who, "PARLEY_DATA_DIR=" + filepath.Join(data, who), "PARLEY_SECRET_STORE=file", "PARLEY_LOG_LEVEL=info"}
	}
	create, err := start(ctx, "create", bed.Name("a"), env("alice"), cli, "create", "--server", "http://"+bed.SrvFromA+":8787")
	if err != nil {
		return err
	}
	link, err := create.line(30 * time.Second)
	if err != nil {
		return err
	}
	recv, err := start(ctx, "parley receive", bed.Name("b"), env("bob"), cli, "receive", link, "--out", out, "--count", "1")
	if err != nil {
		return err
	}
	defer recv.stop()
	if err := recv.waitStderr(`^waiting for peer$`, 30*time.Second); err != nil {
		return err
	}
	send, err := start(ctx, "parley send", bed.Name("a"), env("alice"), cli, "send", link, "--file", file)
	if err != nil {
		return err
	}
	defer send.stop()
	if err := send.waitStderr(`^verified$`, 30*time.Second); err != nil {
		return err
	}
	part := filepath.Join(out, filepath.Base(file)+".part")
	// Let Parley's transfer get going (its slow start), then the TCP flow
	// joins for the measured window.
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	tcpSend, err := start(ctx, "tcp-send", bed.Name("a"), nil, self, "tcp-send", "-c", bed.B+":5201", "-dur", b.share.String())
	if err != nil {
		return err
	}
	defer tcpSend.stop()
	// Skip the TCP flow's own first seconds, then measure.
	warm := min(5*time.Second, b.share/4)
	select {
	case <-time.After(warm):
	case <-ctx.Done():
		return ctx.Err()
	}
	p0, t0 := fileSize(part), time.Now()
	c0 := lastCount(tcpRecv)
	window := b.share - warm - time.Second
	select {
	case <-time.After(window):
	case <-recv.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	p1, t1 := fileSize(part), time.Now()
	c1 := lastCount(tcpRecv)
	if p1 == 0 {
		return errors.New("the Parley transfer finished (or never wrote) before the window ended: make the file bigger")
	}
	secs := t1.Sub(t0).Seconds()
	pm, tm := float64(p1-p0)/1e6/secs, float64(c1-c0)/1e6/secs
	linkMBps := r.rate / 8e6
	fmt.Printf("   %-8s run %d over %.1f s: Parley %.2f MB/s (%.0f%% of the link), TCP CUBIC %.2f MB/s (%.0f%%); Parley's share of the two: %.0f%%\n",
		tool, run+1, secs, pm, 100*pm/linkMBps, tm, 100*tm/linkMBps, 100*pm/(pm+tm))
	return nil
}

// lastCount returns the newest byte count tcp-recv printed.
func lastCount(p *proc) int64 {
	var n int64
	for {
		select {
		case l, ok := <-p.stdout:
			if !ok {
				return n
			}
			if v, err := strconv.ParseInt(strings.TrimSpace(l), 10, 64); err == nil {
				n = v
			}
		default:
			return n
		}
	}
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// tcpTool is the shared-link row's TCP flow: tcp-recv counts bytes and
// prints the running total every 100 ms; tcp-send sends for -dur with
// the CUBIC congestion control.
func tcpTool(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	listen := fs.String("l", "", "address to listen on")
	connect := fs.String("c", "", "address to send to")
	dur := fs.Duration("dur", 30*time.Second, "how long to send")
	cc := fs.String("cc", "cubic", "TCP congestion control")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch cmd {
	case "tcp-recv":
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		defer c.Close()
		var n int64
		buf := make([]byte, 256<<10)
		last := time.Now()
		w := bufio.NewWriter(os.Stdout)
		for {
			k, err := c.Read(buf)
			n += int64(k)
			if time.Since(last) >= 100*time.Millisecond || err != nil {
				fmt.Fprintln(w, n)
				w.Flush()
				last = time.Now()
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	case "tcp-send":
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptString(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CONGESTION, *cc)
			})
			if err != nil {
				return err
			}
			return serr
		}}
		c, err := d.Dial("tcp", *connect)
		if err != nil {
			return fmt.Errorf("dial with %s: %w", *cc, err)
		}
		defer c.Close()
		buf := make([]byte, 256<<10)
		end := time.Now().Add(*dur)
		_ = c.SetWriteDeadline(end)
		for time.Now().Before(end) {
			if _, err := c.Write(buf); err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					break
				}
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown tool %q", cmd)
}
