package peer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/pion/datachannel"

	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/app/peer/peertest"
)

// TestMaliciousRelayIsDetected runs a real man in the middle: the
// signaling relay answers each side's offer with a PeerConnection of its
// own (so each side sees the relay's DTLS fingerprint in SDP and in the
// handshake), terminates DTLS on both legs and pipes the chat channel
// bytes, tags included, between A and B. Both must fail verification and
// no chat data may reach either side.
func TestMaliciousRelayIsDetected(t *testing.T) {
	t.Parallel()
	ka, kb := peertest.Key(t), peertest.Key(t)
	sa := side{key: ka, peerKey: kb, secret: peertest.Secret(7)}
	sb := side{key: kb, peerKey: ka, secret: peertest.Secret(7), polite: true}

	toA, toB := peertest.NewRelay(t), peertest.NewRelay(t)     // MITM -> A, MITM -> B
	fromA, fromB := peertest.NewRelay(t), peertest.NewRelay(t) // A -> MITM, B -> MITM
	mitmA := newRawPeer(t, toA.Send)
	mitmB := newRawPeer(t, toB.Send)

	mk := func(s side, out *peertest.Relay) *peer.Conn {
		c, err := peer.New(peer.Config{Polite: s.polite, RoomID: peertest.Room, Secret: s.secret, LocalKey: s.key, PeerKey: s.peerKey,
			SendSignal: out.Send, Logger: testLogger(), LoopbackOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	a, b := mk(sa, fromA), mk(sb, fromB)
	fromA.Connect(mitmA)
	fromB.Connect(mitmB)
	toA.Connect(a)
	toB.Connect(b)
	for _, r := range []*peertest.Relay{toA, toB, fromA, fromB} {
		r.Open()
	}

	legA, legB := mitmA.waitOpen(t), mitmB.waitOpen(t)
	var mu sync.Mutex
	var seen [][]byte // first message from each side, as the MITM saw it
	var wg sync.WaitGroup
	pipe := func(dst, src datachannel.ReadWriteCloser) {
		defer wg.Done()
		buf := make([]byte, 64<<10)
		first := true
		for {
			n, err := src.Read(buf)
			if err != nil {
				return
			}
			if first {
				mu.Lock()
				seen = append(seen, append([]byte(nil), buf[:n]...))
				mu.Unlock()
				first = false
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go pipe(legB, legA)
	go pipe(legA, legB)
	t.Cleanup(func() {
		_ = legA.Close()
		_ = legB.Close()
		wg.Wait()
	})

	expectVerifyFailed(t, a, b)

	// What crossed the MITM first were the tags, and they were computed
	// over the fingerprints each victim really saw: the MITM's.
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("MITM saw %d first messages, want 2", len(seen))
	}
	tagA, _ := peer.ComputeTag(sa.secret, peertest.Room, sa.key, a.LocalFingerprint(), mitmA.fp)
	tagB, _ := peer.ComputeTag(sb.secret, peertest.Room, sb.key, b.LocalFingerprint(), mitmB.fp)
	for _, m := range seen {
		if !bytes.Equal(m, peer.TagFrame(tagA)) && !bytes.Equal(m, peer.TagFrame(tagB)) {
			t.Errorf("first message through the MITM is not a tag frame (%d bytes)", len(m))
		}
	}
}

// TestTagIsSentBeforeAnyChatByte puts a bare pion peer at the other end and
// checks the Conn's first message is exactly its tag, that it releases the
// stream only after the peer's valid tag arrived, and that chat bytes come
// after the tag.
func TestTagIsSentBeforeAnyChatByte(t *testing.T) {
	t.Parallel()
	sa, kr := keyedSide(t)
	c, raw := connectRaw(t, sa, 0)
	ch := raw.waitOpen(t)

	buf := make([]byte, 64<<10)
	n, err := ch.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	wantTag, _ := peer.ComputeTag(sa.secret, peertest.Room, sa.key, c.LocalFingerprint(), raw.fp)
	if !bytes.Equal(buf[:n], peer.TagFrame(wantTag)) {
		t.Fatalf("first message is %d bytes, not the expected tag frame", n)
	}

	// No stream before our tag arrives: the verdict is not in (the
	// verification timeout is 10 s).
	pending, cancel := context.WithCancel(context.Background())
	cancel()
	if s, err := c.Stream(pending, peer.ChannelChat); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream before the peer's tag = %v, %v; want it to wait", s, err)
	}

	theirs, _ := peer.ComputeTag(sa.secret, peertest.Room, kr, raw.fp, c.LocalFingerprint())
	if _, err := ch.Write(peer.TagFrame(theirs)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Stream(waitCtx(t, 10*time.Second), peer.ChannelChat)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if _, err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	n, err = ch.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("second message %q, %v; want hello", buf[:n], err)
	}
	// Bytes the peer sends after its tag reach the stream; the tag does not.
	if _, err := ch.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(s, got); err != nil || string(got) != "world" {
		t.Fatalf("stream read %q, %v", got, err)
	}
}

func TestPeerChatBytesInsteadOfTagFail(t *testing.T) {
	t.Parallel()
	sa, _ := keyedSide(t)
	c, raw := connectRaw(t, sa, 0)
	ch := raw.waitOpen(t)
	if _, err := ch.Write([]byte("\x00\x00\x00\x10{\"t\":\"msg\"}")); err != nil {
		t.Fatal(err)
	}
	expectVerifyFailed(t, c)
}

func TestVerifyTimeout(t *testing.T) {
	t.Parallel()
	sa, _ := keyedSide(t)
	c, raw := connectRaw(t, sa, 500*time.Millisecond)
	raw.waitOpen(t) // open, but never send a tag
	start := time.Now()
	_, err := c.Stream(waitCtx(t, 10*time.Second), peer.ChannelChat)
	if !errors.Is(err, peer.ErrVerifyFailed) {
		t.Fatalf("Stream = %v, want ErrVerifyFailed", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("timeout took %s", time.Since(start))
	}
}

// TestVerifyTimeoutAfterConnect: a man in the middle that completes DTLS
// but never opens SCTP (its offer has no data channel) must not leave the
// connection up and unverified: verification fails within the bound that
// starts when the connection comes up.
func TestVerifyTimeoutAfterConnect(t *testing.T) {
	t.Parallel()
	sb, _ := keyedSide(t)
	sb.polite = true // it answers the raw peer's offer
	const bound = time.Second
	c, raw := connectRawWith(t, sb, func(cfg peer.Config) peer.Config {
		cfg.VerifyTimeout = 30 * time.Second
		return peer.WithVerifyAfterConnect(cfg, bound)
	}, true)
	raw.offer(t)

	deadline := time.After(15 * time.Second)
	for connected := false; !connected; {
		select {
		case s := <-c.States():
			connected = s == peer.StateConnected
		case <-deadline:
			t.Fatal("the connection never came up")
		}
	}
	up := time.Now()
	_, err := c.Stream(waitCtx(t, 15*time.Second), peer.ChannelChat)
	if !errors.Is(err, peer.ErrVerifyFailed) {
		t.Fatalf("Stream = %v, want ErrVerifyFailed", err)
	}
	if took := time.Since(up); took > bound+5*time.Second {
		t.Fatalf("verification failed %s after the connection came up, bound %s", took, bound)
	}
}
