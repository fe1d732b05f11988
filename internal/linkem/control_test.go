package linkem

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeLink records the settings the control socket applies.
type fakeLink struct {
	mu  sync.Mutex
	cfg Config
}

func (f *fakeLink) Config() Config { f.mu.Lock(); defer f.mu.Unlock(); return f.cfg }
func (f *fakeLink) Set(c Config) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg = c
	return nil
}
func (f *fakeLink) Stats() (ab, ba Stats) { return Stats{Packets: 7}, Stats{LossDrops: 2} }

func TestControlSocket(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	link := &fakeLink{cfg: Config{Rate: 2e6, Delay: 20 * time.Millisecond, MTU: 1500}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeControl(ctx, ln, link) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	tests := []struct {
		cmd, wantPrefix string
		wantErr         bool
	}{
		{"set rate=300k", "ok rate=300k delay=20ms loss=0", false},
		{"set loss=100", "ok rate=300k delay=20ms loss=100", false},
		{"config", "ok rate=300k delay=20ms loss=100", false},
		{"set rate=2M loss=0", "ok rate=2M delay=20ms loss=0", false},
		{"set loss=200", "", true},
		{"reboot", "", true},
	}
	for _, tt := range tests {
		got, err := Control(context.Background(), path, tt.cmd)
		if (err != nil) != tt.wantErr || !strings.HasPrefix(got, tt.wantPrefix) {
			t.Errorf("%q: %q, %v; want prefix %q (error %v)", tt.cmd, got, err, tt.wantPrefix, tt.wantErr)
		}
	}
	if c := link.Config(); c.Rate != 2e6 || c.Loss != 0 {
		t.Fatalf("link config %+v", c)
	}
	got, err := Control(context.Background(), path, "stats")
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]Stats
	if err := json.Unmarshal([]byte(got), &st); err != nil || st["ab"].Packets != 7 || st["ba"].LossDrops != 2 {
		t.Fatalf("stats %q: %v", got, err)
	}
}
