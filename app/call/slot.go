package call

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Track ids of our senders: the peer tells the shared screen from the
// camera by them (the order of tracks means nothing), and our control
// message says which of them are on.
const (
	slotAudio  = "audio"
	slotCamera = "camera"
	slotScreen = "screen"
)

// slot is one of our senders, kept for the whole connection: the first
// call that needs it adds it to the PeerConnection (one m-line), and from
// then on calls, the camera and the screen only change its source, with no
// renegotiation. A sender that was removed and added for every call and
// every camera turned back on cost a new m-line each time (pion does not
// reuse them for us, see peer.Conn.AddTrack), and a connection ran into
// app/peer's cap of 16 after three or four video calls. A slot without a
// source sends nothing.
//
// The RTP of successive sources is made one stream: each new source's
// sequence numbers and timestamps continue where the last one stopped, so
// the peer's SRTP replay window and jitter buffer see no jump (a source
// starts at random numbers).
type slot struct {
	id    string
	kind  webrtc.RTPCodecType
	clock uint32 // RTP clock rate

	mu     sync.Mutex
	src    *sendTrack // nil: silent
	srcGen uint64     // bumped on every source change
	bound  *slotBinding
	// continuity: the last packet written and when
	started bool
	lastSeq uint16
	lastTS  uint32
	lastAt  time.Time
	// offsets of the current source (valid once it wrote, rebase false)
	rebase     bool
	seqOff     uint16
	tsOff      uint32
	srcBinding *binding
}

// slotBinding is what pion gave the slot when the sender started.
type slotBinding struct {
	id    string
	codec webrtc.RTPCodecParameters
	ssrc  uint32
	w     webrtc.TrackLocalWriter
	stop  chan struct{}
	once  sync.Once
}

func newSlot(id string, kind webrtc.RTPCodecType) *slot {
	clock := uint32(90000)
	if kind == webrtc.RTPCodecTypeAudio {
		clock = 48000
	}
	return &slot{id: id, kind: kind, clock: clock}
}

func (s *slot) ID() string                { return s.id }
func (s *slot) RID() string               { return "" }
func (s *slot) StreamID() string          { return "parley" }
func (s *slot) Kind() webrtc.RTPCodecType { return s.kind }

// Bind keeps what pion negotiated for the sender, reads its RTCP for the
// sender's whole life and starts the current source, if any.
func (s *slot) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var chosen *webrtc.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeVP8) || strings.EqualFold(c.MimeType, webrtc.MimeTypeOpus) {
			chosen = &c
			break
		}
	}
	if chosen == nil {
		return webrtc.RTPCodecParameters{}, errors.New("call: the peer accepts neither VP8 nor Opus")
	}
	b := &slotBinding{id: ctx.ID(), codec: *chosen, ssrc: uint32(ctx.SSRC()), w: ctx.WriteStream(), stop: make(chan struct{})}
	s.mu.Lock()
	if old := s.bound; old != nil {
		// Bound again (pion does not, today): the source starts over on
		// the new stream, and what the old one still writes is dropped.
		old.once.Do(func() { close(old.stop) })
		s.stopSourceLocked()
		s.srcGen++
		s.started = false
	}
	s.bound = b
	s.startSourceLocked()
	s.mu.Unlock()
	// Every sender's RTCP is read, audio's too: pion's interceptors (the
	// congestion controller among them) see only the RTCP someone reads,
	// and transport-wide feedback names whichever stream's SSRC arrived
	// last, often the audio's.
	go s.readRTCP(ctx.RTCPReader(), b)
	return *chosen, nil
}

// Unbind stops the source's encoding and the RTCP reader.
func (s *slot) Unbind(ctx webrtc.TrackLocalContext) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bound; b != nil && b.id == ctx.ID() {
		b.once.Do(func() { close(b.stop) })
		s.bound = nil
		s.stopSourceLocked()
	}
	return nil
}

// setSource makes src what the slot sends (nil: nothing). The old
// source's encoder stops after the frame it is encoding; its packets
// after this call are dropped.
func (s *slot) setSource(src *sendTrack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.src == src {
		return
	}
	s.stopSourceLocked()
	s.src = src
	s.srcGen++
	s.rebase = true
	if s.bound != nil {
		s.startSourceLocked()
	}
}

func (s *slot) source() *sendTrack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.src
}

func (s *slot) stopSourceLocked() {
	if s.srcBinding != nil {
		b := s.srcBinding
		b.once.Do(func() { close(b.stop) })
		s.srcBinding = nil
	}
}

func (s *slot) startSourceLocked() {
	if s.src == nil || s.bound == nil || s.srcBinding != nil {
		return
	}
	b := &binding{stop: make(chan struct{})}
	s.srcBinding = b
	src, c, ssrc := s.src, s.bound.codec, s.bound.ssrc
	w := &slotWriter{s: s, gen: s.srcGen, w: s.bound.w}
	// Without the locks (the slot's, and the call manager's around it):
	// the encoder's reader reads a first picture to learn the source's
	// size, and a screen may have none yet (a still Wayland desktop sends
	// one only when something changes). A source replaced meanwhile
	// (b.stop closed) is not started.
	go func() {
		if err := src.start(c, ssrc, w, b); err != nil {
			// Only a codec the source cannot encode: the call goes
			// on without this track (a later source may start).
			s.mu.Lock()
			if s.srcBinding == b {
				s.srcBinding = nil
			}
			s.mu.Unlock()
		}
	}()
}

// slotWriter writes one source's packets into the slot's stream.
type slotWriter struct {
	s   *slot
	gen uint64
	w   webrtc.TrackLocalWriter
}

func (sw *slotWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	s := sw.s
	s.mu.Lock()
	if sw.gen != s.srcGen {
		s.mu.Unlock()
		return 0, fmt.Errorf("call: %s source replaced", s.id)
	}
	now := time.Now()
	if s.rebase {
		s.rebase = false
		if s.started {
			// One packet after the last one, later by the time that
			// passed (at least one tick, so the peer sees a new frame).
			ticks := uint32(max(now.Sub(s.lastAt).Seconds()*float64(s.clock), 1))
			s.seqOff = s.lastSeq + 1 - h.SequenceNumber
			s.tsOff = s.lastTS + ticks - h.Timestamp
		} else {
			s.seqOff, s.tsOff = 0, 0
		}
	}
	h.SequenceNumber += s.seqOff
	h.Timestamp += s.tsOff
	s.started, s.lastSeq, s.lastTS, s.lastAt = true, h.SequenceNumber, h.Timestamp, now
	s.mu.Unlock()
	return sw.w.WriteRTP(h, payload)
}

func (sw *slotWriter) Write(b []byte) (int, error) {
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil {
		return 0, err
	}
	return sw.WriteRTP(&p.Header, p.Payload)
}

// readRTCP reads the sender's RTCP, which drives pion's interceptors
// (transport-wide feedback into the congestion controller, NACK, reports),
// and passes the receiver's keyframe requests to the current source; it
// ends with the sender's RTCP stream (the PeerConnection closes).
func (s *slot) readRTCP(r interceptor.RTCPReader, b *slotBinding) {
	buf := make([]byte, 1500)
	for failed := 0; ; {
		n, _, err := r.Read(buf, interceptor.Attributes{})
		select {
		case <-b.stop:
			return
		default:
		}
		src := s.source()
		if err != nil {
			if failed++; rtcpStreamEnded(err) || failed > 1000 {
				return
			}
			// An interceptor refused one packet (the congestion
			// controller cannot match feedback for packets it no longer
			// remembers, after seconds in a full queue): the stream goes
			// on, and so must its feedback.
			if src != nil {
				src.sent.rtcpErrors.Add(1)
			}
			continue
		}
		failed = 0
		if src == nil || s.kind != webrtc.RTPCodecTypeVideo {
			continue
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				src.sent.keyRequests.Add(1)
				src.keys.request()
			}
		}
	}
}
