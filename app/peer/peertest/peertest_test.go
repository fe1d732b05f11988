package peertest_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/app/peer/peertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPairs: each option of the kit gives a verified pair whose streams
// carry bytes both ways; through the proxy every packet goes via it.
func TestPairs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []peertest.Option
	}{
		{"plain", nil},
		{"collision", []peertest.Option{peertest.WithCollision()}},
		{"own sockets", []peertest.Option{peertest.WithUDPBuffer(1 << 20)}},
		{"through the proxy", []peertest.Option{peertest.WithLoss(1e-9)}},
		{"roles swapped", []peertest.Option{peertest.Configure(func(side int, c *peer.Config) { c.Polite = side == 0 })}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := peertest.New(t, tc.opts...)
			a, b := p.Streams(t, peer.ChannelChat)
			roundTrip(t, a, b)
			roundTrip(t, b, a)
			if p.Proxy != nil && p.Proxy.Passed() == 0 {
				t.Fatal("the pair connected around the proxy")
			}
		})
	}
}

func roundTrip(t *testing.T, w io.Writer, r io.Reader) {
	t.Helper()
	if _, err := w.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
}

// TestOnlyTestsImportTheKit: the kit is for tests; no package of the
// module may import it from its code (test files may).
func TestOnlyTestsImportTheKit(t *testing.T) {
	t.Parallel()
	const module = "github.com/parley-chat/parley"
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
		for _, imp := range p.Imports {
			if imp == module+"/app/peer/peertest" {
				t.Errorf("%s imports the test kit peertest outside its tests", p.ImportPath)
			}
		}
	}
	if n < 10 {
		t.Fatalf("go list found only %d packages", n)
	}
}
