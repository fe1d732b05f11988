package call

import (
	"testing"
	"time"

	"github.com/pion/mediadevices"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

type rtpLog struct{ seq, ts []uint32 }

func (l *rtpLog) WriteRTP(h *rtp.Header, _ []byte) (int, error) {
	l.seq = append(l.seq, uint32(h.SequenceNumber))
	l.ts = append(l.ts, h.Timestamp)
	return 0, nil
}

func (l *rtpLog) Write(b []byte) (int, error) { return len(b), nil }

// A slot makes its successive sources one RTP stream: the next source's
// random sequence numbers and timestamps continue the last ones (the
// peer's SRTP replay window would drop a stream that jumps back), and a
// replaced source's late packets are dropped, not interleaved.
func TestSlotContinuesTheStreamAcrossSources(t *testing.T) {
	s := newSlot(slotCamera, webrtc.RTPCodecTypeVideo)
	out := &rtpLog{}
	first := &slotWriter{s: s, gen: s.srcGen, w: out}
	write := func(w *slotWriter, seq uint16, ts uint32) error {
		_, err := w.WriteRTP(&rtp.Header{SequenceNumber: seq, Timestamp: ts}, nil)
		return err
	}
	for i := range 3 {
		if err := write(first, 65534+uint16(i), 1000+uint32(i)*3000); err != nil {
			t.Fatal(err)
		}
	}
	// A new source, numbered from somewhere else entirely.
	s.mu.Lock()
	s.srcGen++
	s.rebase = true
	s.mu.Unlock()
	second := &slotWriter{s: s, gen: s.srcGen, w: out}
	if err := write(first, 1, 10000); err == nil {
		t.Fatal("the replaced source still writes")
	}
	for i := range 2 {
		if err := write(second, 30000+uint16(i), 5+uint32(i)*3000); err != nil {
			t.Fatal(err)
		}
	}
	wantSeq := []uint32{65534, 65535, 0, 1, 2}
	for i, q := range out.seq {
		if q != wantSeq[i] {
			t.Fatalf("sequence numbers %v, want %v", out.seq, wantSeq)
		}
	}
	if len(out.seq) != len(wantSeq) {
		t.Fatalf("sequence numbers %v, want %v", out.seq, wantSeq)
	}
	if d := out.ts[3] - out.ts[2]; d == 0 || d > 90000 {
		t.Fatalf("timestamps %v: the new source should follow the last frame", out.ts)
	}
	if out.ts[4]-out.ts[3] != 3000 {
		t.Fatalf("timestamps %v: the new source's own spacing is kept", out.ts)
	}
}

// slowSource is a source whose encoder takes until release to start (a
// screen that has no picture yet: the reader waits for a first one).
type slowSource struct {
	mediadevices.Track // only Kind is used
	release            chan struct{}
	started            chan struct{}
	closed             chan struct{}
}

func (s *slowSource) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeVideo }

func (s *slowSource) NewRTPReader(string, uint32, int) (mediadevices.RTPReadCloser, error) {
	close(s.started)
	<-s.release
	return &closeOnly{closed: s.closed}, nil
}

type closeOnly struct {
	mediadevices.RTPReadCloser
	closed chan struct{}
}

func (c *closeOnly) Close() error {
	close(c.closed)
	return nil
}

// A source whose encoder is slow to start does not hold the slot (nor
// the call manager, which changes sources under its lock); replaced
// before it started, it is closed once it does, never sent.
func TestSlowSourceDoesNotHoldTheSlot(t *testing.T) {
	s := newSlot(slotScreen, webrtc.RTPCodecTypeVideo)
	s.bound = &slotBinding{codec: webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}}, ssrc: 1, w: &rtpLog{}, stop: make(chan struct{})}
	src := &slowSource{release: make(chan struct{}), started: make(chan struct{}), closed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		s.setSource(newSendTrack(src))
		close(done)
	}()
	<-src.started
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		close(src.release)
		t.Fatal("setSource waited for the encoder to start")
	}
	s.setSource(nil) // replaced before it started
	close(src.release)
	select {
	case <-src.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the replaced source's reader was not closed")
	}
}
