package e2e

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/parley-chat/parley/signaling/protocol"
)

func TestHelpListsMetricsAndCaps(t *testing.T) {
	t.Parallel()
	cmd := exec.CommandContext(ctxT(t), signalBin, "--help")
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	for _, want := range []string{"--metrics-addr", "-metrics-addr host:port", `"off"`, "-max-conns-per-ip", "-max-conns-per-48",
		"-max-rooms-per-ip", "-max-rooms-per-48", "-rate-lookups", "429 SERVER_BUSY"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

var metricsLogRE = regexp.MustCompile(`msg=metrics addr=(127\.0\.0\.1:[1-9][0-9]*)`)

// TestMetricsOnOwnListener: the process serves /metrics only on
// --metrics-addr; the public listener answers 404.
func TestMetricsOnOwnListener(t *testing.T) {
	t.Parallel()
	p := startSignal(t, "--metrics-addr", "127.0.0.1:0")
	line := p.WaitStderr(metricsLogRE.String(), 1, timeout)
	metricsURL := "http://" + metricsLogRE.FindStringSubmatch(line)[1]
	for _, tc := range []struct {
		url  string
		want int
	}{
		{p.URL + "/metrics", http.StatusNotFound},
		{p.URL + "/healthz", http.StatusOK},
		{metricsURL + "/metrics", http.StatusOK},
		{metricsURL + "/healthz", http.StatusNotFound},
	} {
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.url, resp.StatusCode, tc.want)
		}
	}
}

// TestClientCapFlags: --max-conns-per-ip and --max-rooms-per-ip reach the
// server: a second WebSocket and a second live room from 127.0.0.1 are
// refused with 429 SERVER_BUSY.
func TestClientCapFlags(t *testing.T) {
	t.Parallel()
	p := startSignal(t, "--max-conns-per-ip", "1", "--max-rooms-per-ip", "1")
	create := func() (int, string) {
		resp, err := http.Post(p.URL+"/api/rooms", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body protocol.ErrorResponse
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error
	}
	if status, code := create(); status != http.StatusCreated {
		t.Fatalf("first room: %d %s", status, code)
	}
	if status, code := create(); status != http.StatusTooManyRequests || code != protocol.CodeServerBusy {
		t.Fatalf("second room: %d %s, want 429 SERVER_BUSY", status, code)
	}
	wsURL := "ws" + strings.TrimPrefix(p.URL, "http") + "/ws"
	ws, resp, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatalf("first WebSocket: %v", err)
	}
	resp.Body.Close()
	defer ws.Close()
	_, resp, err = websocket.DefaultDialer.Dial(wsURL, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second WebSocket: %v %v, want 429", err, resp)
	}
	resp.Body.Close()
}
