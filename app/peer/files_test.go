package peer

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

// TestFileStream moves 8 MiB through the files channel both ways at once
// after verification, including after the polite side rebuilt its
// PeerConnection on an offer collision.
func TestFileStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hold bool
	}{
		{"plain", false},
		{"offer collision", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sa, sb := keyedPair(t)
			a, b := newPair(t, sa, sb, pairOpts{hold: tt.hold})
			verifyBoth(t, a, b)
			fa, fb := fileStreams(t, a, b)
			const n = 8 << 20
			var wg sync.WaitGroup
			errs := make(chan error, 2)
			for _, p := range [][2]io.ReadWriter{{fa, fb}, {fb, fa}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- pump(p[0], p[1], n)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := a.FileStream(); !errors.Is(err, ErrClosed) {
				t.Fatalf("FileStream after Close = %v, want ErrClosed", err)
			}
		})
	}
}

// TestFileStreamBeforeVerification checks FileStream refuses to hand out
// the channel while verification is still pending.
func TestFileStreamBeforeVerification(t *testing.T) {
	t.Parallel()
	sa, _ := keyedPair(t)
	c, _ := connectRaw(t, sa, 300*time.Millisecond) // the raw peer never sends a tag
	if _, err := c.FileStream(); err == nil || errors.Is(err, ErrClosed) {
		t.Fatalf("FileStream before verification = %v, want a not-verified error", err)
	}
	if _, err := c.WaitVerified(waitCtx(t, 10*time.Second)); !errors.Is(err, ErrVerifyFailed) {
		t.Fatalf("WaitVerified = %v, want ErrVerifyFailed", err)
	}
	if _, err := c.FileStream(); err == nil {
		t.Fatal("FileStream succeeded after failed verification")
	}
}

// pump writes n random bytes to w while reading them back from r, and
// compares.
func pump(w io.Writer, r io.Reader, n int) error {
	data := make([]byte, n)
	_, _ = rand.Read(data)
	werr := make(chan error, 1)
	go func() {
		_, err := w.Write(data)
		werr <- err
	}()
	got := make([]byte, n)
	if _, err := io.ReadFull(r, got); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if !bytes.Equal(got, data) {
		return errors.New("file stream corrupted data")
	}
	return nil
}
