package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/parley-chat/parley/internal/linkem"
)

// callStats is what `parley-cli call --stats` prints: the JSON line on
// stdout and the "call stats:" line on stderr.
type callStats struct {
	VideoFramesReceived  int     `json:"videoFramesReceived"`
	VideoFramesDecoded   int     `json:"videoFramesDecoded"`
	AudioPacketsReceived int     `json:"audioPacketsReceived"`
	AvgFps               float64 `json:"avgFps"`
	RttMs                float64 `json:"rttMs"`
	Freezes              int     `json:"freezes"`
	summary              string  // the stderr line, from "latency" on
}

var callStatsRE = regexp.MustCompile(`^call stats: (.*)$`)

// runCall runs a call with the busy synthetic camera and a sine both ways
// over r's link for r.call with the Parley build tool, stepping the
// link's rate as r.steps says, and prints each side's figures and the
// link's load per phase.
func (b *bench) runCall(ctx context.Context, r row, tool string) error {
	bed, teardown, err := b.testbed(ctx, r)
	if err != nil {
		return err
	}
	defer teardown()
	ctl := filepath.Join(b.work, "linkem.sock")
	cli := b.cli(tool)
	data := filepath.Join(b.work, tool, r.name)
	if len(b.parleyTools()) > 1 {
		fmt.Printf("   -- %s\n", tool)
	}
	env := func(who string) []string {
		level := "warn"
		if b.callLogs != "" {
			level = "debug" // the sender's adaptation, every 500 ms
		}
		return []string{"PARLEY_PROFILE=" + who, "PARLEY_DATA_DIR=" + filepath.Join(data, who), "PARLEY_SECRET_STORE=file", "PARLEY_LOG_LEVEL=" + level}
	}
	create, err := start(ctx, "create", bed.Name("a"), env("alice"), cli, "create", "--server", "http://"+bed.SrvFromA+":8787")
	if err != nil {
		return err
	}
	link, err := create.line(30 * time.Second)
	if err != nil {
		return err
	}
	if err := create.wait(10 * time.Second); err != nil {
		return err
	}
	args := []string{"call", link, "--video", "testsrc-busy", "--audio", "sine", "--duration", r.call.String(), "--stats"}
	var sides []*proc
	for _, who := range []struct{ ns, name string }{{"a", "alice"}, {"b", "bob"}} {
		p, err := start(ctx, who.name+" call", bed.Name(who.ns), env(who.name), cli, args...)
		if err != nil {
			return err
		}
		defer p.stop()
		sides = append(sides, p)
	}
	if err := sides[0].waitStderr(`^call active$`, time.Minute); err != nil {
		return err
	}
	// The link's load per phase, from the emulator's counters.
	stats := func() (linkem.Stats, linkem.Stats) {
		reply, err := linkem.Control(ctx, ctl, "stats")
		var s map[string]linkem.Stats
		if err == nil {
			err = json.Unmarshal([]byte(reply), &s)
		}
		if err != nil {
			return linkem.Stats{}, linkem.Stats{}
		}
		return s["ab"], s["ba"]
	}
	var series func() string
	if b.timeline {
		series = linkSeries(ctx, ctl)
	}
	type phase struct {
		name   string
		length time.Duration
		set    string
	}
	phases := []phase{{fmt.Sprintf("%s whole call", rateName(r.rate)), r.call, ""}}
	if r.steps {
		third := r.call / 3
		phases = []phase{
			{"2 Mbit/s", third, ""},
			{"300 kbit/s", third, "rate=300k"},
			{"2 Mbit/s again", r.call - 2*third, "rate=2M"},
		}
	}
	for _, ph := range phases {
		if ph.set != "" {
			if _, err := linkem.Control(ctx, ctl, "set "+ph.set); err != nil {
				return err
			}
		}
		ab0, ba0 := stats()
		t0 := time.Now()
		select {
		case <-time.After(ph.length):
		case <-sides[0].done:
		case <-ctx.Done():
			return ctx.Err()
		}
		ab1, ba1 := stats()
		secs := time.Since(t0).Seconds()
		fmt.Printf("   link during %-16s a->b %5.0f kbit/s (%d queue drops), b->a %5.0f kbit/s (%d queue drops)\n", ph.name,
			float64(ab1.DelivBytes-ab0.DelivBytes)*8/1e3/secs, ab1.QueueDrops-ab0.QueueDrops,
			float64(ba1.DelivBytes-ba0.DelivBytes)*8/1e3/secs, ba1.QueueDrops-ba0.QueueDrops)
	}
	if series != nil {
		fmt.Printf("   link a->b MB/s each second:%s\n", series())
	}
	for _, p := range sides {
		if err := p.wait(time.Minute); err != nil {
			return err
		}
		if b.callLogs != "" {
			name := filepath.Join(b.callLogs, tool+"-"+r.name+"-"+strings.Fields(p.name)[0]+".log")
			if err := os.WriteFile(name, []byte(p.stderrText()), 0o644); err != nil {
				return err
			}
		}
		var st callStats
		for l := range p.stdout {
			if strings.HasPrefix(l, "{") {
				_ = json.Unmarshal([]byte(l), &st)
			}
		}
		for _, l := range strings.Split(p.stderrText(), "\n") {
			if m := callStatsRE.FindStringSubmatch(l); m != nil {
				st.summary = m[1]
			}
		}
		fmt.Printf("   %-10s received: %.1f fps (%d of %d frames decoded), freezes %d, RTT %.0f ms, audio packets %d; %s\n",
			p.name, st.AvgFps, st.VideoFramesDecoded, st.VideoFramesReceived, st.Freezes, st.RttMs, st.AudioPacketsReceived, st.summary)
	}
	return nil
}

func rateName(r float64) string {
	if r >= 1e6 {
		return fmt.Sprintf("%g Mbit/s", r/1e6)
	}
	return fmt.Sprintf("%g kbit/s", r/1e3)
}

// linkSeries samples the emulated link's a->b direction every second
// until stop is called, which returns the delivered MB/s and the queue
// drops of each second: where a transfer spent its time (setup, slow
// start overshoot, recovery, a queue that never fills) shows in it.
func linkSeries(ctx context.Context, ctl string) (stop func() string) {
	done := make(chan struct{})
	out := make(chan string, 1)
	go func() {
		var b strings.Builder
		defer func() { out <- b.String() }()
		read := func() linkem.Stats {
			reply, err := linkem.Control(ctx, ctl, "stats")
			var s map[string]linkem.Stats
			if err == nil && json.Unmarshal([]byte(reply), &s) == nil {
				return s["ab"]
			}
			return linkem.Stats{}
		}
		last := read()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				n := read()
				fmt.Fprintf(&b, " %.1f", float64(n.DelivBytes-last.DelivBytes)/1e6)
				if d := n.QueueDrops - last.QueueDrops; d > 0 {
					fmt.Fprintf(&b, "(%dq)", d)
				}
				last = n
			}
		}
	}()
	return func() string { close(done); return <-out }
}
