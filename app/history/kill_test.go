package history

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Environment of the writer child process started by TestKillDashNine.
const (
	writerPathEnv   = "PARLEY_HISTORY_WRITER_DB"
	writerKeyEnv    = "PARLEY_HISTORY_WRITER_KEY"
	writerPrefixEnv = "PARLEY_HISTORY_WRITER_PREFIX"
	// writerEditEnv makes the writer edit one message over and over
	// (UpdateMessage) instead of adding messages.
	writerEditEnv = "PARLEY_HISTORY_WRITER_EDIT"
	killRoom      = "kill-room"
)

// TestHelperWriter is not a test: it is the child process of
// TestKillDashNine and does nothing unless writerPathEnv is set. It adds
// messages forever, printing each id right after AddMessage returns, until
// it is killed.
func TestHelperWriter(t *testing.T) {
	path := os.Getenv(writerPathEnv)
	if path == "" {
		return
	}
	key, err := hex.DecodeString(os.Getenv(writerKeyEnv))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Room(RoomKey("https://x", killRoom)); err != nil {
		t.Fatal(err)
	} else if !ok {
		if err := s.PutRoom(Room{ID: killRoom, Server: "https://x", Link: "https://x/r/k#secret", CreatedAt: time.Now(), LastActive: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	prefix := os.Getenv(writerPrefixEnv)
	if os.Getenv(writerEditEnv) != "" {
		editForever(t, s, prefix)
	}
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%06d", prefix, i)
		added, err := s.AddMessage(Message{ID: id, RoomKey: RoomKey("https://x", killRoom), Outgoing: true, Text: "message " + id, SentAt: time.Now(), State: StateSending})
		if err != nil || !added {
			fmt.Printf("error %t %v\n", added, err)
			os.Exit(3)
		}
		// Unbuffered: the parent sees the line only after the commit.
		fmt.Printf("id %s\n", id)
	}
}

// editText is the text of edit i: long enough (8 KiB) that a torn write
// would show as a mix of two edits.
func editText(i int) string { return strings.Repeat(fmt.Sprintf("edit %06d ", i), 8<<10/12) }

// editForever adds the message <prefix>-target, then replaces its text
// with editText(i) for i = 0, 1, ..., printing "id <prefix>-<i>" after each
// edit returns. It edits as the session does: UpdateMessageQueued, which
// also queues the edit for the peer (replacing the previous one).
func editForever(t *testing.T, s *Store, prefix string) {
	rk := RoomKey("https://x", killRoom)
	target := prefix + "-target"
	if _, err := s.AddMessage(Message{ID: target, RoomKey: rk, Outgoing: true, Text: "original", SentAt: time.Now(), State: StateDelivered}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		op := Op{ID: fmt.Sprintf("%s-op-%06d", prefix, i), Kind: OpEdit, Of: target, Text: editText(i), SentAt: time.Now()}
		if _, err := s.UpdateMessageQueued(rk, op, func(m *Message) error { m.Text, m.Edited = editText(i), true; return nil }); err != nil {
			fmt.Printf("error %v\n", err)
			os.Exit(3)
		}
		fmt.Printf("id %s-%06d\n", prefix, i)
	}
}

// TestKillDuringEdit kills a writer that edits one message over and over:
// after reopening, the message holds one whole edit, the last one printed
// or the one committed while the writer was being killed, never a mix, and
// the one edit queued for the peer is that same edit (never the text of
// one with the queue of another).
func TestKillDuringEdit(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	key := newKey(t)
	for round := range 3 {
		prefix := fmt.Sprintf("e%d", round)
		printed := runAndKill(t, path, key, prefix, 50+rand.IntN(150), writerEditEnv+"=1")
		s, err := Open(path, key)
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		checkConsistent(t, s)
		m, ok, err := s.Message(RoomKey("https://x", killRoom), prefix+"-target")
		ops, operr := s.PendingOps(RoomKey("https://x", killRoom))
		if cerr := s.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		if err != nil || !ok {
			t.Fatalf("round %d: the edited message: %t, %v", round, ok, err)
		}
		n := len(printed)
		if !m.Edited || (m.Text != editText(n-1) && m.Text != editText(n)) {
			t.Fatalf("round %d: %d edits printed; the text is %.40q… (%d bytes), not edit %d or %d", round, n, m.Text, len(m.Text), n-1, n)
		}
		var queued []Op
		for _, op := range ops {
			if op.Of == prefix+"-target" {
				queued = append(queued, op)
			}
		}
		if operr != nil || len(queued) != 1 || queued[0].Text != m.Text {
			t.Fatalf("round %d: queued for the peer: %d edits (%v), the last not the stored text", round, len(queued), operr)
		}
	}
}

// TestKillDashNine runs a writer process and kills it with SIGKILL at a
// random moment, several times over the same file. Every id the writer
// printed was committed, so it must be there, and the file must open and
// pass bbolt's consistency check.
func TestKillDashNine(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	key := newKey(t)
	const rounds = 4
	for round := range rounds {
		prefix := fmt.Sprintf("r%d", round)
		printed := runAndKill(t, path, key, prefix, 100+rand.IntN(300))

		s, err := Open(path, key)
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		checkConsistent(t, s)
		msgs, err := s.Messages(RoomKey("https://x", killRoom))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range msgs {
			if strings.HasPrefix(m.ID, prefix+"-") {
				got = append(got, m.ID)
				if m.Text != "message "+m.ID {
					t.Fatalf("round %d: %s has text %q", round, m.ID, m.Text)
				}
			}
		}
		// What survived is a gapless prefix of what the writer tried: every
		// printed id, plus at most the one committed while being killed
		// (printing it was cut short).
		if len(got) < len(printed) || len(got) > len(printed)+1 {
			t.Fatalf("round %d: %d messages in store, %d printed", round, len(got), len(printed))
		}
		for i, id := range got {
			if want := fmt.Sprintf("%s-%06d", prefix, i); id != want {
				t.Fatalf("round %d: message %d is %s, want %s", round, i, id, want)
			}
		}
		t.Logf("round %d: killed after %d printed ids, %d in store", round, len(printed), len(got))
	}
}

// runAndKill starts the writer, reads at least n ids, waits a random moment,
// kills it with SIGKILL and returns every id it printed.
func runAndKill(t *testing.T, path string, key []byte, prefix string, n int, env ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		writerPathEnv+"="+path, writerKeyEnv+"="+hex.EncodeToString(key), writerPrefixEnv+"="+prefix)
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var printed []string
	sc := bufio.NewScanner(out)
	for len(printed) < n && sc.Scan() {
		line := sc.Text()
		id, ok := strings.CutPrefix(line, "id ")
		if !ok {
			t.Fatalf("writer said %q; stderr: %s", line, stderr.String())
		}
		printed = append(printed, id)
	}
	if len(printed) < n {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("writer stopped after %d ids: %v; stderr: %s", len(printed), sc.Err(), stderr.String())
	}
	time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Lines written before the kill are still in the pipe: they count too.
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "id "); ok {
			printed = append(printed, id)
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("writer did not die of SIGKILL: %v; stderr: %s", err, stderr.String())
	}
	return printed
}

// checkConsistent runs bbolt's page-level consistency check.
func checkConsistent(t *testing.T, s *Store) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Fatalf("bbolt consistency check: %v", err)
	}
}
