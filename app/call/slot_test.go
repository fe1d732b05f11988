package call

import (
	"testing"

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
