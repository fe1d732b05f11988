package transfer

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// partFiles returns the .part files in dir and their sizes.
func partFiles(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	parts := map[string]int64{}
	for _, name := range dirNames(t, dir) {
		if strings.HasSuffix(name, ".part") {
			st, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			parts[name] = st.Size()
		}
	}
	return parts
}

// resumeInProcess sends path to a fresh receiver Conn on dir and checks
// it resumed from a non-zero offset and saved want.
func resumeInProcess(t *testing.T, dir, path string, want []byte) {
	t.Helper()
	ra, rb := net.Pipe()
	ca, eva, _ := newSide(t, nil)
	cb, evb, _ := newSide(t, nil)
	cb.DownloadDir = dir
	a, _ := startConn(t, ra, ca)
	startConn(t, rb, cb)
	p, err := a.Send(testCtx(t), path)
	if err != nil {
		t.Fatalf("resumed Send: %v", err)
	}
	evb.waitDone(t)
	evb.mu.Lock()
	first := evb.byID[p.ID][0]
	got := evb.received[p.ID]
	evb.mu.Unlock()
	if first.Bytes == 0 || first.Bytes == int64(len(want)) {
		t.Fatalf("receiver restarted at %d of %d bytes, want a resume", first.Bytes, len(want))
	}
	eva.check(t, p.ID, nil)
	evb.check(t, p.ID, nil)
	sameFile(t, got, want)
	names := dirNames(t, dir)
	if len(names) != 1 || names[0] != filepath.Base(path) {
		t.Fatalf("download folder holds %v after resume", names)
	}
}

// TestResumeAfterDisconnect tears the stream down mid-way, then offers
// the same file on new Conns: the receiver resumes from its partial file.
func TestResumeAfterDisconnect(t *testing.T) {
	t.Parallel()
	path, data := writeFile(t, t.TempDir(), "movie.mkv", 8<<20+123, 8)
	ra, rb := net.Pipe()
	ca, _, _ := newSide(t, nil)
	cb, _, dir := newSide(t, nil)
	a, _ := startConn(t, &cutter{ReadWriteCloser: ra, left: 3 << 20}, ca)
	_, errb := startConn(t, rb, cb)

	if _, err := a.Send(testCtx(t), path); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send over a cut stream = %v, want ErrClosed", err)
	}
	select {
	case <-errb:
	case <-time.After(10 * time.Second):
		t.Fatal("receiver Run did not end")
	}
	parts := partFiles(t, dir)
	if len(parts) != 1 || parts["movie.mkv.part"] == 0 {
		t.Fatalf("partial files after the cut: %v", parts)
	}
	resumeInProcess(t, dir, path, data)
}

// childEnv makes the test binary act as a receiver on stdin/stdout,
// saving into the folder it names (see TestMain).
const childEnv = "PARLEY_TRANSFER_CHILD_DIR"

type stdio struct{}

func (stdio) Read(p []byte) (int, error)  { return os.Stdin.Read(p) }
func (stdio) Write(p []byte) (int, error) { return os.Stdout.Write(p) }
func (stdio) Close() error {
	_ = os.Stdin.Close()
	return os.Stdout.Close()
}

// runChildReceiver receives files until its stream ends.
func runChildReceiver(dir string) int {
	c := NewConn(stdio{}, Config{DownloadDir: dir, AutoAcceptMax: DefaultAutoAcceptMax})
	_ = c.Run(context.Background())
	return 0
}

// pipeRW joins a child's stdout and stdin into one stream.
type pipeRW struct {
	io.ReadCloser
	w io.WriteCloser
}

func (p pipeRW) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p pipeRW) Close() error {
	_ = p.w.Close()
	return p.ReadCloser.Close()
}

// TestResumeAfterReceiverKilled receives into a child process, kills it
// with SIGKILL mid-way, then resumes in this process from what the dead
// receiver left on disk and checks the result byte for byte.
func TestResumeAfterReceiverKilled(t *testing.T) {
	t.Parallel()
	path, data := writeFile(t, t.TempDir(), "backup.tar.gz", 16<<20+77, 16)
	dir := filepath.Join(t.TempDir(), "downloads")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var killOnce sync.Once
	kill := func() {
		killOnce.Do(func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
	}
	t.Cleanup(kill)

	ca, _, _ := newSide(t, nil)
	rw := &killer{ReadWriteCloser: pipeRW{stdout, stdin}, left: 6 << 20, kill: kill}
	a, _ := startConn(t, rw, ca)
	if _, err := a.Send(testCtx(t), path); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send to a killed receiver = %v, want ErrClosed", err)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL", err)
	}
	parts := partFiles(t, dir)
	if n := parts["backup.tar.gz.part"]; len(parts) != 1 || n == 0 || n >= int64(len(data)) {
		t.Fatalf("partial files after the kill: %v", parts)
	}
	resumeInProcess(t, dir, path, data)
}

// killer calls kill once more than left bytes were written, and lets the
// writes go on (they fail once the child is gone).
type killer struct {
	io.ReadWriteCloser
	mu   sync.Mutex
	left int
	kill func()
}

func (k *killer) Write(p []byte) (int, error) {
	k.mu.Lock()
	k.left -= len(p)
	over := k.left < 0
	k.mu.Unlock()
	if over {
		k.kill()
	}
	return k.ReadWriteCloser.Write(p)
}
