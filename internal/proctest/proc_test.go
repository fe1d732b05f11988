package proctest_test

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/internal/proctest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStartReadsOutputAndExitCode(t *testing.T) {
	t.Parallel()
	p := proctest.Start(t, "sh", []string{"PROCTEST_X=from-env"}, strings.NewReader("from-stdin\n"),
		"sh", "-c", `read l; echo "$l"; echo "$PROCTEST_X"; echo warn >&2; echo ready >&2; exit 3`)
	if got := p.Line(5 * time.Second); got != "from-stdin" {
		t.Errorf("line 1 = %q", got)
	}
	if got := p.Line(5 * time.Second); got != "from-env" {
		t.Errorf("line 2 = %q", got)
	}
	if got := p.WaitStderr(`^rea`, 1, 5*time.Second); got != "ready" {
		t.Errorf("WaitStderr = %q", got)
	}
	if code := p.Wait(5 * time.Second); code != 3 {
		t.Errorf("exit %d, want 3", code)
	}
	if p.StderrText() != "warn\nready" {
		t.Errorf("stderr %q", p.StderrText())
	}
}

// StartCmd keeps the command's own environment: a variable the test
// process has is not passed when Env leaves it out.
func TestStartCmdOwnEnv(t *testing.T) {
	t.Setenv("PROCTEST_DROPPED", "leaked")
	cmd := exec.Command("sh", "-c", `echo "${PROCTEST_DROPPED:-unset} $PROCTEST_KEPT"`)
	cmd.Env = []string{"PROCTEST_KEPT=kept"}
	p := proctest.StartCmd(t, "sh", cmd)
	if got := p.Line(5 * time.Second); got != "unset kept" {
		t.Errorf("output %q, want %q", got, "unset kept")
	}
	if code := p.Wait(5 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestSignal(t *testing.T) {
	t.Parallel()
	p := proctest.Start(t, "sleep", nil, nil, "sh", "-c", `trap 'echo term >&2; exit 0' TERM; echo up >&2; while :; do sleep 0.05; done`)
	p.WaitStderr(`^up$`, 1, 5*time.Second)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(5 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
	p.WaitStderr(`^term$`, 1, time.Second)
	select {
	case <-p.Done():
	default:
		t.Error("Done not closed after Wait")
	}
}
