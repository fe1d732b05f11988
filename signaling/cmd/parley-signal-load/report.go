package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the outcome of one run; its JSON form is the machine-readable
// line scripts compare between runs.
type report struct {
	Server         string  `json:"server"`
	Rooms          int     `json:"rooms"`
	Connections    int     `json:"connections"`
	Errors         int     `json:"errors"`
	FirstError     string  `json:"firstError,omitempty"`
	SetupSeconds   float64 `json:"setupSeconds"`
	HoldSeconds    float64 `json:"holdSeconds"`
	JoinsPerSecond float64 `json:"joinsPerSecond"`
	LatencyP50Ms   float64 `json:"latencyP50Ms"`
	LatencyP99Ms   float64 `json:"latencyP99Ms"`
	LatencyMaxMs   float64 `json:"latencyMaxMs"`
	// ServerBytesPerConn is Δ(heap in use + goroutine stacks) / connections:
	// what the server's Go runtime holds for each idle connection, including
	// garbage from the setup phase that no collection has freed yet.
	ServerBytesPerConn float64 `json:"serverBytesPerConn"`
	// ServerLiveBytesPerConn is Δ(live heap at the last GC + goroutine
	// stacks) / connections: closer to the steady-state cost, though the
	// last GC may have run before the last connections were opened.
	ServerLiveBytesPerConn float64 `json:"serverLiveBytesPerConn"`
	// ServerStackBytesPerConn is the goroutine-stack part of both figures.
	ServerStackBytesPerConn float64 `json:"serverStackBytesPerConn"`
	// ServerRSSBytesPerConn is Δ(resident set) / connections, which also
	// counts kernel-side and not yet collected memory.
	ServerRSSBytesPerConn   float64 `json:"serverRssBytesPerConn"`
	ServerGoroutinesPerConn float64 `json:"serverGoroutinesPerConn"`
}

func newReport(o options, l *loader, setup time.Duration, before, after serverStats) *report {
	slices.Sort(l.lat)
	conns := len(l.conns)
	per := func(a, b float64) float64 {
		if conns == 0 {
			return 0
		}
		return (b - a) / float64(conns)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return &report{
		Server:                  l.serverList(),
		Rooms:                   o.rooms,
		Connections:             conns,
		Errors:                  l.errs,
		FirstError:              l.firstErr,
		SetupSeconds:            setup.Seconds(),
		HoldSeconds:             o.hold.Seconds(),
		JoinsPerSecond:          float64(2*len(l.lat)) / setup.Seconds(),
		LatencyP50Ms:            ms(percentile(l.lat, 0.50)),
		LatencyP99Ms:            ms(percentile(l.lat, 0.99)),
		LatencyMaxMs:            ms(percentile(l.lat, 1)),
		ServerBytesPerConn:      per(before.heap+before.stack, after.heap+after.stack),
		ServerLiveBytesPerConn:  per(before.liveHeap()+before.stack, after.liveHeap()+after.stack),
		ServerStackBytesPerConn: per(before.stack, after.stack),
		ServerRSSBytesPerConn:   per(before.rss, after.rss),
		ServerGoroutinesPerConn: per(before.goroutines, after.goroutines),
	}
}

// write prints the human table, then the JSON line.
func (r *report) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "parley-signal load\t%s\n", r.Server)
	fmt.Fprintf(tw, "rooms\t%d\n", r.Rooms)
	fmt.Fprintf(tw, "connections held\t%d (for %.1fs)\n", r.Connections, r.HoldSeconds)
	fmt.Fprintf(tw, "failed rooms\t%d\n", r.Errors)
	fmt.Fprintf(tw, "setup time\t%.2fs\n", r.SetupSeconds)
	fmt.Fprintf(tw, "joins/s\t%.0f\n", r.JoinsPerSecond)
	fmt.Fprintf(tw, "join → peer joined\tp50 %.2f ms   p99 %.2f ms   max %.2f ms\n", r.LatencyP50Ms, r.LatencyP99Ms, r.LatencyMaxMs)
	fmt.Fprintf(tw, "server heap+stacks / conn\t%.1f KiB (in use, with garbage)   %.1f KiB (live at last GC)\n",
		r.ServerBytesPerConn/1024, r.ServerLiveBytesPerConn/1024)
	fmt.Fprintf(tw, "  of which stacks / conn\t%.1f KiB\n", r.ServerStackBytesPerConn/1024)
	fmt.Fprintf(tw, "server RSS / conn\t%.1f KiB\n", r.ServerRSSBytesPerConn/1024)
	fmt.Fprintf(tw, "server goroutines / conn\t%.2f\n", r.ServerGoroutinesPerConn)
	if r.FirstError != "" {
		fmt.Fprintf(tw, "first error\t%s\n", r.FirstError)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}

// serverList names the servers measured, comma separated.
func (l *loader) serverList() string {
	names := make([]string, len(l.servers))
	for i, e := range l.servers {
		names[i] = e.server
	}
	return strings.Join(names, ",")
}
