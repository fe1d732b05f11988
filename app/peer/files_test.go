package peer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/app/peer/peertest"
)

// TestFileStream moves 8 MiB through the files channel both ways at once
// after verification, including after the polite side rebuilt its
// PeerConnection on an offer collision.
func TestFileStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []peertest.Option
	}{
		{"plain", nil},
		{"offer collision", []peertest.Option{peertest.WithCollision()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := startPair(t, tt.opts...)
			fa, fb := p.Streams(t, peer.ChannelFiles)
			const n = 8 << 20
			var wg sync.WaitGroup
			errs := make(chan error, 2)
			for _, rw := range [][2]io.ReadWriter{{fa, fb}, {fb, fa}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- pump(rw[0], rw[1], n)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := p.A.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := p.A.Stream(context.Background(), peer.ChannelFiles); !errors.Is(err, peer.ErrClosed) {
				t.Fatalf("Stream(files) after Close = %v, want ErrClosed", err)
			}
		})
	}
}

// TestFileStreamBeforeVerification checks the files channel is not handed
// out while verification is pending, nor after it failed.
func TestFileStreamBeforeVerification(t *testing.T) {
	t.Parallel()
	sa, _ := keyedSide(t)
	c, _ := connectRaw(t, sa, 300*time.Millisecond) // the raw peer never sends a tag
	pending, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Stream(pending, peer.ChannelFiles); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream(files) before verification = %v, want it to wait", err)
	}
	if _, err := c.Stream(waitCtx(t, 10*time.Second), peer.ChannelChat); !errors.Is(err, peer.ErrVerifyFailed) {
		t.Fatalf("Stream(chat) = %v, want ErrVerifyFailed", err)
	}
	if _, err := c.Stream(waitCtx(t, time.Second), peer.ChannelFiles); !errors.Is(err, peer.ErrVerifyFailed) {
		t.Fatalf("Stream(files) after failed verification = %v, want ErrVerifyFailed", err)
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
