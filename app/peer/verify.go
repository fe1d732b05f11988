package peer

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// ErrVerifyFailed means the other side could not prove that it holds the
// room secret and terminates the DTLS connection we see: a wrong room
// secret, a wrong identity key or a man in the middle. The PeerConnection
// is closed.
var ErrVerifyFailed = errors.New("VERIFY_FAILED: peer verification failed")

// Verification wire format: the first message each side sends on the chat
// channel is tagVersion followed by the 32-byte tag.
const (
	tagVersion  = 1
	tagFrameLen = 1 + sha256.Size
	// Labels that separate these HMACs from any other use of the secret.
	verifyKeyLabel = "parley-verify-key-v1"
	verifyLabel    = "parley-verify-v1"
)

// verifyKey derives kv = HMAC-SHA256(key=secret, "parley-verify-key-v1").
func verifyKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(verifyKeyLabel))
	return m.Sum(nil)
}

// computeTag returns HMAC-SHA256(kv, "parley-verify-v1" || 0 || roomID || 0 ||
// senderKey || senderFP || receiverFP). Binding both DTLS fingerprints means
// a relay that terminates DTLS on either leg (so the fingerprints differ
// between the two legs) cannot forward a tag that verifies.
func computeTag(secret []byte, roomID string, senderKey ed25519.PublicKey, senderFP, receiverFP []byte) ([]byte, error) {
	if len(senderKey) != ed25519.PublicKeySize || len(senderFP) != sha256.Size || len(receiverFP) != sha256.Size {
		return nil, fmt.Errorf("peer: compute tag: bad input sizes key=%d fp=%d/%d", len(senderKey), len(senderFP), len(receiverFP))
	}
	m := hmac.New(sha256.New, verifyKey(secret))
	m.Write([]byte(verifyLabel))
	m.Write([]byte{0})
	m.Write([]byte(roomID))
	m.Write([]byte{0})
	m.Write(senderKey)
	m.Write(senderFP)
	m.Write(receiverFP)
	return m.Sum(nil), nil
}

// tagFrame frames a tag for the wire.
func tagFrame(tag []byte) []byte {
	b := make([]byte, 0, tagFrameLen)
	b = append(b, tagVersion)
	return append(b, tag...)
}

// checkTagFrame compares a received frame with the expected tag in
// constant time.
func checkTagFrame(frame, want []byte) error {
	if len(frame) != tagFrameLen {
		return fmt.Errorf("%w: tag frame of %d bytes", ErrVerifyFailed, len(frame))
	}
	if frame[0] != tagVersion {
		return fmt.Errorf("%w: unknown tag version %d", ErrVerifyFailed, frame[0])
	}
	if !hmac.Equal(frame[1:], want) {
		return fmt.Errorf("%w: tag mismatch", ErrVerifyFailed)
	}
	return nil
}

// verification is the verdict on the peer and the clock that bounds it.
type verification struct {
	once sync.Once
	done chan struct{} // closed when the verdict is in, either way
	err  error         // the verdict; set before done is closed

	// The clock, started when the connection first comes up.
	by      time.Time     // zero until then; guarded by Conn.mu
	timer   *time.Timer   // guarded by Conn.mu
	expired chan struct{} // closed at by
}

func (v *verification) init() {
	v.done = make(chan struct{})
	v.expired = make(chan struct{})
}

// finish records the verdict once. On success the streams of the
// channels that open with verification are in place before.
func (c *Conn) finish(err error) {
	c.vfy.once.Do(func() {
		c.vfy.err = err
		c.mu.Lock()
		if c.vfy.timer != nil {
			c.vfy.timer.Stop() // the verdict is in
		}
		c.mu.Unlock()
		close(c.vfy.done)
	})
}

// startVerifyClock starts the bound on verification once the connection
// is up (the first time only): past it, verify gives up with
// ErrVerifyFailed.
func (c *Conn) startVerifyClock() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || !c.vfy.by.IsZero() {
		return
	}
	select {
	case <-c.vfy.done:
		return // already decided
	default:
	}
	d := c.cfg.verifyAfterConnect
	c.vfy.by = time.Now().Add(d)
	c.vfy.timer = time.AfterFunc(d, func() { close(c.vfy.expired) })
}

// verifyDeadline is when verification must be complete, or zero while the
// connection was never up.
func (c *Conn) verifyDeadline() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vfy.by
}

// verify waits for the chat channel to open, exchanges verification tags
// on it and only then releases it as the chat stream, once the other
// channels that open with verification (files) are open too.
func (c *Conn) verify() {
	var dc *webrtc.DataChannel
	select {
	case dc = <-c.chans[ChannelChat].opened:
	case <-c.vfy.expired:
		// Connected (DTLS is up), but the chat channel never opened.
		err := fmt.Errorf("%w: connected, but the chat channel did not open within %s", ErrVerifyFailed, c.cfg.verifyAfterConnect)
		c.log.Warn("peer: verification failed", "err", err)
		if pc := c.current(); pc != nil {
			_ = pc.Close()
		}
		c.finish(err)
		return
	case <-c.ctx.Done():
		c.finish(ErrClosed)
		return
	}
	s, err := c.exchangeTags(dc)
	if err != nil {
		c.tagsFailed(dc, err)
		return
	}
	c.mu.Lock()
	c.chans[ChannelChat].stream = s
	c.mu.Unlock()
	for _, id := range channelOrder {
		ch := c.chans[id]
		if id == ChannelChat || !ch.spec.withVerification {
			continue
		}
		if err := c.attachForVerification(ch); err != nil {
			c.log.Warn("peer: channel did not open", "channel", ch.spec.label, "err", err)
			_ = s.Close()
			if pc := c.current(); pc != nil {
				_ = pc.Close()
			}
			c.finish(err)
			return
		}
	}
	c.log.Info("peer: verified")
	c.finish(nil)
}

// tagsFailed ends a tag exchange on dc that failed with err.
func (c *Conn) tagsFailed(dc *webrtc.DataChannel, err error) {
	if errors.Is(err, ErrVerifyFailed) {
		c.log.Warn("peer: verification failed", "err", err)
	} else {
		c.log.Debug("peer: tag exchange cut short", "err", err)
	}
	// Let our own tag reach the peer before tearing down, so it fails
	// on the mismatch at once instead of waiting for its timeout.
	flushDeadline := time.Now().Add(time.Second)
	for dc.BufferedAmount() > 0 && time.Now().Before(flushDeadline) && c.ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if pc := c.current(); pc != nil {
		_ = pc.Close()
	}
	c.mu.Lock()
	closing := c.closed
	c.mu.Unlock()
	if closing && !errors.Is(err, ErrVerifyFailed) {
		err = ErrClosed // our own Close cut the exchange short
	}
	// A detected mismatch stays VERIFY_FAILED even if Close came in
	// meanwhile (Close waits for this goroutine before it finishes).
	c.finish(err)
}

func (c *Conn) exchangeTags(dc *webrtc.DataChannel) (_ io.ReadWriteCloser, err error) {
	raw, err := dc.DetachWithDeadline()
	if err != nil {
		return nil, fmt.Errorf("peer: detach chat channel: %w", err)
	}
	defer func() {
		// Clearing the deadline also stops sctp's deadline timer goroutine,
		// which would otherwise outlive the stream by up to VerifyTimeout.
		_ = raw.SetReadDeadline(time.Time{})
		if err != nil {
			_ = raw.Close()
		}
	}()
	remoteCert := c.current().SCTP().Transport().GetRemoteCertificate()
	if len(remoteCert) == 0 {
		return nil, fmt.Errorf("%w: no remote DTLS certificate", ErrVerifyFailed)
	}
	sum := sha256.Sum256(remoteCert)
	remoteFP := sum[:]
	ours, err := computeTag(c.cfg.Secret, c.cfg.RoomID, c.cfg.LocalKey, c.localFP, remoteFP)
	if err != nil {
		return nil, err
	}
	want, err := computeTag(c.cfg.Secret, c.cfg.RoomID, c.cfg.PeerKey, remoteFP, c.localFP)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.cfg.VerifyTimeout)
	if by := c.verifyDeadline(); !by.IsZero() && by.Before(deadline) {
		deadline = by
	}
	if err := raw.SetReadDeadline(deadline); err != nil {
		return nil, fmt.Errorf("peer: set verify deadline: %w", err)
	}
	if _, err := raw.Write(tagFrame(ours)); err != nil {
		// The channel died under us: a broken connection, not a proof
		// of anyone in the middle.
		return nil, fmt.Errorf("%w: send tag: %v", ErrConnectionFailed, err)
	}
	buf := make([]byte, 2*tagFrameLen) // room to notice an oversized frame
	n, err := raw.Read(buf)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("%w: no tag from peer in time (%s after the chat channel opened, %s after connecting)", ErrVerifyFailed, c.cfg.VerifyTimeout, c.cfg.verifyAfterConnect)
		}
		// EOF, abort, closed: the peer hung up or restarted mid-exchange.
		return nil, fmt.Errorf("%w: reading the peer's tag: %v", ErrConnectionFailed, err)
	}
	if err := checkTagFrame(buf[:n], want); err != nil {
		return nil, err
	}
	return newStream(dc, raw, channels[ChannelChat].maxWrite), nil
}
