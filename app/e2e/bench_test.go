package e2e

import (
	"sort"
	"strings"
	"testing"
	"time"
)

// BenchmarkReceiveToVerified times, with real processes, how long a
// `parley-cli receive` takes from its start until it prints "verified" while
// the peer is already waiting in the room: process start, keyring, history,
// signaling join, ICE, DTLS, SCTP and the verification round trip. The
// baseline measured in the same run is `parley-cli whoami` (process start,
// keyring and nothing else); ratio = connect / baseline.
func BenchmarkReceiveToVerified(b *testing.B) {
	server := startSignal(b)
	var connect, base []time.Duration
	for i := 0; i < b.N; i++ {
		alice, bob := newUser(b, "alice"), newUser(b, "bob")
		start := time.Now()
		bob.mustRun("whoami")
		base = append(base, time.Since(start))

		link := strings.TrimSpace(alice.mustRun("create", "--server", server))
		a := alice.start(nil, "receive", link)
		a.WaitStderr(`^waiting for peer$`, 1, step)
		start = time.Now()
		r := bob.start(nil, "receive", link)
		r.WaitStderr(`^verified$`, 1, step)
		connect = append(connect, time.Since(start))
		r.Kill9()
		a.Kill9()
	}
	mc, mb := median(connect), median(base)
	b.ReportMetric(float64(mc.Microseconds())/1000, "ms-to-verified")
	b.ReportMetric(float64(mb.Microseconds())/1000, "ms-baseline")
	b.ReportMetric(float64(mc)/float64(mb), "ratio")
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
