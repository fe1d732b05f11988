package peer

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/pion/datachannel"

	"github.com/parley-chat/parley/signaling/protocol"
)

// TestMaliciousRelayIsDetected runs a real man in the middle: the
// signaling relay answers each side's offer with a PeerConnection of its
// own (so each side sees the relay's DTLS fingerprint in SDP and in the
// handshake), terminates DTLS on both legs and pipes the chat channel
// bytes, tags included, between A and B. Both must fail verification and
// no chat data may reach either side.
func TestMaliciousRelayIsDetected(t *testing.T) {
	t.Parallel()
	sa, sb := keyedPair(t)

	toA, toB := newRelay(t), newRelay(t)     // MITM -> A, MITM -> B
	fromA, fromB := newRelay(t), newRelay(t) // A -> MITM, B -> MITM
	mitmA := newRawPeer(t, toA.send)
	mitmB := newRawPeer(t, toB.send)

	mk := func(s side, out *relay) *Conn {
		c, err := New(Config{Polite: s.polite, RoomID: testRoom, Secret: s.secret, LocalKey: s.key, PeerKey: s.peerKey,
			SendSignal: out.send, Logger: testLogger(), LoopbackOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	a, b := mk(sa, fromA), mk(sb, fromB)
	fromA.connect(mitmA)
	fromB.connect(mitmB)
	toA.connect(a)
	toB.connect(b)
	for _, r := range []*relay{toA, toB, fromA, fromB} {
		r.open()
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
	tagA, _ := computeTag(sa.secret, testRoom, sa.key, a.LocalFingerprint(), mitmA.fp)
	tagB, _ := computeTag(sb.secret, testRoom, sb.key, b.LocalFingerprint(), mitmB.fp)
	for _, m := range seen {
		if !bytes.Equal(m, tagFrame(tagA)) && !bytes.Equal(m, tagFrame(tagB)) {
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
	sa, sr := keyedPair(t)
	c, raw := connectRaw(t, sa, 0)
	ch := raw.waitOpen(t)

	buf := make([]byte, 64<<10)
	n, err := ch.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	wantTag, _ := computeTag(sa.secret, testRoom, sa.key, c.LocalFingerprint(), raw.fp)
	if !bytes.Equal(buf[:n], tagFrame(wantTag)) {
		t.Fatalf("first message is %d bytes, not the expected tag frame", n)
	}

	// No stream before our tag arrives.
	if _, err := c.WaitVerified(waitCtx(t, 300*time.Millisecond)); err == nil {
		t.Fatal("WaitVerified returned before the peer's tag arrived")
	}

	theirs, _ := computeTag(sr.secret, testRoom, sr.key, raw.fp, c.LocalFingerprint())
	if _, err := ch.Write(tagFrame(theirs)); err != nil {
		t.Fatal(err)
	}
	s, err := c.WaitVerified(waitCtx(t, 10*time.Second))
	if err != nil {
		t.Fatalf("WaitVerified: %v", err)
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
	sa, _ := keyedPair(t)
	c, raw := connectRaw(t, sa, 0)
	ch := raw.waitOpen(t)
	if _, err := ch.Write([]byte("\x00\x00\x00\x10{\"t\":\"msg\"}")); err != nil {
		t.Fatal(err)
	}
	expectVerifyFailed(t, c)
}

func TestVerifyTimeout(t *testing.T) {
	t.Parallel()
	sa, _ := keyedPair(t)
	c, raw := connectRaw(t, sa, 500*time.Millisecond)
	raw.waitOpen(t) // open, but never send a tag
	start := time.Now()
	_, err := c.WaitVerified(waitCtx(t, 10*time.Second))
	if !errors.Is(err, ErrVerifyFailed) {
		t.Fatalf("WaitVerified = %v, want ErrVerifyFailed", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("timeout took %s", time.Since(start))
	}
}

func TestOpenStream(t *testing.T) {
	t.Parallel()
	sa, sb := keyedPair(t)
	a, b := newPair(t, sa, sb, pairOpts{})
	verifyBoth(t, a, b)
	if _, err := a.OpenStream(waitCtx(t, time.Second), ChatChannelID, "x"); err == nil {
		t.Fatal("OpenStream accepted the chat channel id")
	}
	ctx := waitCtx(t, 10*time.Second)
	fa, err := a.OpenStream(ctx, 1, "file")
	if err != nil {
		t.Fatal(err)
	}
	fb, err := b.OpenStream(ctx, 1, "file")
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, fa, fb, 100<<10)
	exchange(t, fb, fa, 10)
}

// keep the protocol import used by helpers even if tests change.
var _ = protocol.Signal{}

// TestVerifyTimeoutAfterConnect: a man in the middle that completes DTLS
// but never opens SCTP (its offer has no data channel) must not leave the
// connection up and unverified: verification fails within the bound that
// starts when the connection comes up.
func TestVerifyTimeoutAfterConnect(t *testing.T) {
	t.Parallel()
	_, sb := keyedPair(t) // polite: it answers the raw peer's offer
	const bound = time.Second
	toRaw, toConn := newRelay(t), newRelay(t)
	raw := newRawPeerWith(t, toConn.send, true)
	c, err := New(Config{
		Polite: sb.polite, RoomID: testRoom, Secret: sb.secret, LocalKey: sb.key, PeerKey: sb.peerKey,
		SendSignal: toRaw.send, Logger: testLogger(), LoopbackOnly: true,
		VerifyTimeout: 30 * time.Second, verifyAfterConnect: bound,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	toRaw.connect(raw)
	toConn.connect(c)
	toRaw.open()
	toConn.open()
	raw.offer(t)

	deadline := time.After(15 * time.Second)
	for connected := false; !connected; {
		select {
		case s := <-c.States():
			connected = s == StateConnected
		case <-deadline:
			t.Fatal("the connection never came up")
		}
	}
	up := time.Now()
	_, err = c.WaitVerified(waitCtx(t, 15*time.Second))
	if !errors.Is(err, ErrVerifyFailed) {
		t.Fatalf("WaitVerified = %v, want ErrVerifyFailed", err)
	}
	if took := time.Since(up); took > bound+5*time.Second {
		t.Fatalf("verification failed %s after the connection came up, bound %s", took, bound)
	}
}
