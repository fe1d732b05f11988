package e2e

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// parley-signal's embedded TURN relay: with --relay-only both sides connect
// through it (chat and a file arrive, stderr says "connected relayed");
// without it the same server gives a direct path.
func TestRelayOnlyThroughEmbeddedTURN(t *testing.T) {
	t.Parallel()
	server, metricsURL := startSignalMetrics(t, "--turn-listen", "127.0.0.1:0", "--turn-public-ip", "127.0.0.1", "--turn-relay-ports", "40000-40999")
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))
	src := randomFile(t, t.TempDir(), "relayed.bin", 4<<20)
	out := t.TempDir()

	recv := bob.start(nil, "--relay-only", "receive", link, "--out", out, "--count", "2")
	recv.WaitStderr(`^waiting for peer$`, 1, step)
	alice.mustRun("--relay-only", "send", link, "--text", "through the relay", "--file", src)
	lines := map[string]bool{recv.Line(step): true, recv.Line(step): true}
	if !lines["through the relay"] || !lines[filepath.Join(out, "relayed.bin")] {
		t.Fatalf("receiver printed %v", lines)
	}
	if code := recv.Wait(step); code != 0 {
		t.Fatalf("receive exited %d", code)
	}
	sameFile(t, src, filepath.Join(out, "relayed.bin"))
	if errs := recv.StderrText(); !strings.Contains(errs, "connected relayed") || strings.Contains(errs, "connected direct") {
		t.Fatalf("receiver's states:\n%s", errs)
	}

	resp, err := http.Get(metricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "parley_signal_turn_allocations ") {
		t.Fatal("/metrics lacks parley_signal_turn_allocations")
	}

	// Same server, no --relay-only: the direct path wins.
	recv = bob.start(nil, "receive", link, "--count", "1")
	recv.WaitStderr(`^waiting for peer$`, 1, step)
	alice.mustRun("send", link, "--text", "direct now")
	if got := recv.Line(step); got != "direct now" {
		t.Fatalf("receiver got %q", got)
	}
	recv.Wait(step)
	recv.WaitStderr(`^connected direct$`, 1, time.Second)
}

func TestTURNListenNeedsPublicIP(t *testing.T) {
	t.Parallel()
	p := start(t, "parley-signal", nil, nil, bins.signal, "--addr", "127.0.0.1:0", "--metrics-addr", "off", "--turn-listen", "127.0.0.1:0")
	if code := p.Wait(step); code != 2 {
		t.Fatalf("parley-signal without --turn-public-ip exited %d, want 2 (usage)", code)
	}
	p.WaitStderr(`--turn-public-ip`, 1, time.Second)
}
