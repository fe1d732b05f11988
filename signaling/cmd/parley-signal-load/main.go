// Command parley-signal-load measures how many idle rooms one parley-signal
// holds and how fast it admits participants. For each of --rooms rooms it
// creates the room over HTTP, joins participant A, then joins B and times
// how long A waits for the "peer joined" event after B sent its join. All
// 2×rooms WebSockets stay open for --hold, then it reads the server's
// /metrics to work out the memory each idle connection costs and prints a
// table and one JSON line.
//
// With several --server URLs (nodes sharing one Redis) each room's two
// participants join different nodes, and the memory figures add up all the
// nodes.
//
// The server must run with its per-IP limits and caps off, since every
// connection comes from one address; the memory figures come from its
// metrics listener (--metrics-addr, given here as --metrics):
//
//	parley-signal --addr 127.0.0.1:8787 --rate-rooms 0 --rate-joins 0 \
//	  --max-conns-per-ip 0 --max-rooms-per-ip 0 --metrics-addr 127.0.0.1:9787
//
// Both processes need a file descriptor per connection (plus a few): raise
// the limit with `ulimit -n 65536` (the load program also raises its own
// soft limit to the hard one, and as root the hard one too). One client
// address reaches one server port through at most the ephemeral port range
// (/proc/sys/net/ipv4/ip_local_port_range, usually ~28,000 ports).
// scripts/bench-signal.sh does all of this.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley-signal-load:", err)
		os.Exit(1)
	}
}

// options is the command line.
type options struct {
	server      string
	metrics     string
	rooms       int
	concurrency int
	hold        time.Duration
	timeout     time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("parley-signal-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.server, "server", "http://127.0.0.1:8787", "parley-signal base `URL`; several, comma separated, spread the rooms and put each room's two participants on different nodes (a shared --redis)")
	fs.StringVar(&o.metrics, "metrics", "http://127.0.0.1:9787", "base `URL` of each server's metrics listener (its --metrics-addr), in the order of --server")
	fs.IntVar(&o.rooms, "rooms", 10000, "rooms to create; each gets two connections, all held open together")
	fs.IntVar(&o.concurrency, "concurrency", 64, "rooms set up in parallel")
	fs.DurationVar(&o.hold, "hold", 5*time.Second, "how long to hold every connection open (idle) before measuring and closing")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Second, "limit for each step (create, join, peer event)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: parley-signal-load [flags]\n\n"+
			"Opens 2 WebSockets per room against parley-signal (run it with --rate-rooms 0 --rate-joins 0\n"+
			"--max-conns-per-ip 0 --max-rooms-per-ip 0),\n"+
			"times join → peer-joined, holds everything open and reports the server's memory per idle\n"+
			"connection from its /metrics (--metrics, the server's --metrics-addr). Needs ~2 file descriptors per room: ulimit -n 65536.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.rooms < 1 || o.concurrency < 1 || o.hold < 0 || o.timeout <= 0 {
		return o, fmt.Errorf("--rooms and --concurrency must be positive, --hold not negative, --timeout positive")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if lim, err := raiseFileLimit(uint64(2*o.rooms + 256)); err != nil {
		fmt.Fprintf(stderr, "warning: file descriptor limit %d is below the %d needed (%v); run `ulimit -n %d` first\n",
			lim, 2*o.rooms+256, err, 2*o.rooms+256)
	}
	rep, err := loadTest(ctx, o, stderr)
	if err != nil {
		return err
	}
	if err := rep.write(stdout); err != nil {
		return err
	}
	if rep.Errors > 0 {
		return fmt.Errorf("%d rooms failed (first: %s)", rep.Errors, rep.FirstError)
	}
	return nil
}
