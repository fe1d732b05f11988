//go:build unix

package call

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/peer/peertest"
)

// benchCall runs one 5 s video call per iteration between two in-process
// pion peers with synthetic sources at w x h, 30 fps, and reports what the
// receivers decoded: fps, glass-to-glass latency (stamp to decoded
// picture), and the CPU both sides used together, in percent of one core.
func benchCall(b *testing.B, w, h int) {
	var fps, p50, p95, cpu float64
	for i := 0; i < b.N; i++ {
		p := peertest.New(b)
		a, c := benchSides(b, p, testSources(w, h))
		if _, err := a.Start(true); err != nil {
			b.Fatal(err)
		}
		waitState(b, c, StateIncoming)
		if _, err := c.Answer(true, true); err != nil {
			b.Fatal(err)
		}
		waitState(b, a, StateActive)
		// The first keyframe decoded at full size on both sides.
		peertest.Eventually(b, 15*time.Second, "the first pictures", func() bool {
			sa, sc := a.Stats(), c.Stats()
			return sa.Width == w && sc.Width == w && sa.VideoFramesDecoded > 0 && sc.VideoFramesDecoded > 0
		})
		time.Sleep(time.Second) // the bitrate settles before the measured window
		cpu0, t0 := cpuTime(), time.Now()
		sa0, sc0 := a.Stats(), c.Stats()
		time.Sleep(5 * time.Second) // the measured window
		sa, sc := a.Stats(), c.Stats()
		cpu += (cpuTime() - cpu0).Seconds() / time.Since(t0).Seconds() * 100
		frames := float64(sa.VideoFramesDecoded-sa0.VideoFramesDecoded+sc.VideoFramesDecoded-sc0.VideoFramesDecoded) / 2
		fps += frames / time.Since(t0).Seconds()
		p50 += (sa.LatencyP50Ms + sc.LatencyP50Ms) / 2
		p95 += max(sa.LatencyP95Ms, sc.LatencyP95Ms)
		if sa.Width != w || sc.Height != h {
			b.Fatalf("decoded %dx%d", sa.Width, sa.Height)
		}
		a.HangUp()
		a.Close()
		c.Close()
	}
	n := float64(b.N)
	b.ReportMetric(fps/n, "fps")
	b.ReportMetric(p50/n, "latency-p50-ms")
	b.ReportMetric(p95/n, "latency-p95-ms")
	b.ReportMetric(cpu/n, "cpu%-both-sides")
}

func BenchmarkCall640x480(b *testing.B)  { benchCall(b, 640, 480) }
func BenchmarkCall1280x720(b *testing.B) { benchCall(b, 1280, 720) }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchSides(b *testing.B, p *peertest.Pair, src Sources) (*Manager, *Manager) {
	b.Helper()
	type res struct {
		m   *Manager
		err error
	}
	rc := make(chan res, 1)
	go func() {
		m, err := New(b.Context(), Config{RoomID: "c", Conn: p.B, Decode: true, Sources: func() Sources { return src }})
		rc <- res{m, err}
	}()
	a, err := New(b.Context(), Config{RoomID: "a", Conn: p.A, Decode: true, Sources: func() Sources { return src }})
	if err != nil {
		b.Fatal(err)
	}
	r := <-rc
	if r.err != nil {
		b.Fatal(r.err)
	}
	return a, r.m
}

func waitState(b *testing.B, m *Manager, want State) {
	b.Helper()
	peertest.Eventually(b, 15*time.Second, fmt.Sprintf("the %s state", want), func() bool { return m.View().State == want })
}
