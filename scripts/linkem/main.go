// Command linkem runs Parley's link emulator (internal/linkem) between
// two TUN devices it creates, for benchmarks over emulated real links
// (make bench-net). It prints "READY" once the devices exist; move them
// into network namespaces with `ip link set DEV netns NS`. It runs until
// SIGINT or SIGTERM, then prints the counters as one JSON line.
//
//	linkem -tun-a lka0 -tun-b lkb0 -rate 100M -delay 20ms -loss 0.5 -control /run/x/linkem.sock
//	linkem -control /run/x/linkem.sock set rate=300k   # change a running link
//	linkem -control /run/x/linkem.sock stats
//
// Run it with real-time priority (chrt -f 20) on a busy machine, so the
// link's timing does not depend on the load.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/parley-chat/parley/internal/linkem"
)

func main() {
	tunA := flag.String("tun-a", "lka0", "name of the first TUN device")
	tunB := flag.String("tun-b", "lkb0", "name of the second TUN device")
	rate := flag.String("rate", "0", "link rate each way in bits/s of IP bytes, suffix k, M or G; 0 = unlimited")
	delay := flag.Duration("delay", 0, "one-way delay each way")
	loss := flag.Float64("loss", 0, "random loss each way, percent")
	queue := flag.String("queue", "0", "drop-tail queue each way in bytes, suffix k or M (0: one bandwidth-delay product, at least 64k)")
	mtu := flag.Int("mtu", 1500, "largest IP packet forwarded")
	seed := flag.Uint64("seed", 1, "random seed for the loss decisions")
	control := flag.String("control", "", "unix socket `PATH` for run-time changes (set KEY=VALUE..., config, stats); with arguments after the flags, send them to a running linkem instead")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "Usage: linkem [flags]            run the emulator\n       linkem -control PATH COMMAND...   talk to a running one")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		if *control == "" {
			fail(2, "a command needs -control PATH")
		}
		reply, err := linkem.Control(context.Background(), *control, strings.Join(flag.Args(), " "))
		if err != nil {
			fail(1, err.Error())
		}
		fmt.Println(reply)
		return
	}
	cfg, err := linkem.Parse(linkem.Config{MTU: *mtu}, fmt.Sprintf("rate=%s delay=%s loss=%g queue=%s", *rate, *delay, *loss, *queue))
	if err != nil {
		fail(2, err.Error())
	}
	if err := run(*tunA, *tunB, cfg, *seed, *control); err != nil {
		fail(1, err.Error())
	}
}

func fail(code int, msg string) {
	fmt.Fprintln(os.Stderr, "linkem:", msg)
	os.Exit(code)
}

func run(tunA, tunB string, cfg linkem.Config, seed uint64, control string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	emu, err := linkem.Open(tunA, tunB, cfg, seed)
	if err != nil {
		return err
	}
	done := make(chan error, 2)
	if control != "" {
		_ = os.Remove(control)
		ln, err := net.Listen("unix", control)
		if err != nil {
			emu.Close()
			return err
		}
		defer os.Remove(control)
		go func() { done <- linkem.ServeControl(ctx, ln, emu) }()
	}
	fmt.Printf("READY %s %s %s\n", tunA, tunB, emu.Config())
	start := time.Now()
	err = emu.Run(ctx)
	stop()
	if control != "" {
		if cerr := <-done; err == nil {
			err = cerr
		}
	}
	ab, ba := emu.Stats()
	b, _ := json.Marshal(map[string]any{"seconds": time.Since(start).Seconds(), "ab": ab, "ba": ba})
	fmt.Println(string(b))
	return err
}
