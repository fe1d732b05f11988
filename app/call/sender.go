package call

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

// rtpMTU is the largest RTP packet we send: room for SRTP, TURN and a
// VPN under a 1500-byte path.
const rtpMTU = 1200

// rtpSource is what a mediadevices track offers: an encoder per reader.
type rtpSource interface {
	mediadevices.Track
	NewRTPReader(codecName string, ssrc uint32, mtu int) (mediadevices.RTPReadCloser, error)
}

// sendTrack puts a mediadevices track on a PeerConnection. It replaces
// mediadevices' own binding, which has two problems here: its stream id
// is a new random UUID each time pion asks (so renegotiation never
// settles), and its Unbind can wait forever when the sending goroutine
// already stopped (which blocks PeerConnection.Close when the peer goes
// away mid-call).
type sendTrack struct {
	src  rtpSource
	kind webrtc.RTPCodecType

	mu    sync.Mutex
	binds map[string]*binding
	ctrl  codec.EncoderController // of the latest binding

	// counters of what was sent, read and reset by the adaptation loop
	sent sendCounters
	// keys rate-limits the keyframes the receiver asks for
	keys keyframeGate
}

// keyframeMinGap is the least time between keyframes sent on request:
// above a round trip on any link a call still works on, so a request made
// because the last keyframe was damaged is answered, and a storm is not.
const keyframeMinGap = 500 * time.Millisecond

// sendCounters count what a track sent since they were last taken.
type sendCounters struct {
	bytes, packets, frames atomic.Int64
	keyframes, keyBytesMax atomic.Int64
	keyRequests            atomic.Int64 // PLI and FIR received
	rtcpErrors             atomic.Int64 // RTCP packets an interceptor refused
}

// sendSample is one reading of sendCounters.
type sendSample struct {
	bytes, packets, frames, keyframes, keyBytesMax, keyRequests, rtcpErrors int64
}

func (c *sendCounters) take() sendSample {
	return sendSample{
		bytes: c.bytes.Swap(0), packets: c.packets.Swap(0), frames: c.frames.Swap(0),
		keyframes: c.keyframes.Swap(0), keyBytesMax: c.keyBytesMax.Swap(0), keyRequests: c.keyRequests.Swap(0),
		rtcpErrors: c.rtcpErrors.Swap(0),
	}
}

type binding struct {
	stop chan struct{}
	once sync.Once
}

func newSendTrack(src rtpSource) *sendTrack {
	return &sendTrack{src: src, kind: src.Kind(), binds: map[string]*binding{}, keys: keyframeGate{minGap: keyframeMinGap}}
}

func (t *sendTrack) ID() string                { return t.kind.String() }
func (t *sendTrack) RID() string               { return "" }
func (t *sendTrack) StreamID() string          { return "parley" }
func (t *sendTrack) Kind() webrtc.RTPCodecType { return t.kind }

// Bind starts an encoder for the codec pion negotiated and a goroutine
// that sends its packets; PLI and FIR from the receiver force keyframes.
func (t *sendTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var reasons []string
	for _, c := range ctx.CodecParameters() {
		r, err := t.src.NewRTPReader(c.MimeType, uint32(ctx.SSRC()), rtpMTU)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", c.MimeType, err))
			continue
		}
		b := &binding{stop: make(chan struct{})}
		t.mu.Lock()
		t.binds[ctx.ID()] = b
		t.ctrl = r.Controller()
		t.mu.Unlock()
		kc, _ := r.Controller().(codec.KeyFrameController)
		go t.send(r, ctx.WriteStream(), uint8(c.PayloadType), b, kc)
		// Every sender's RTCP is read, audio's too: pion's interceptors
		// (the congestion controller among them) see only the RTCP
		// someone reads, and transport-wide feedback names whichever
		// stream's SSRC arrived last, often the audio's.
		go t.readRTCP(ctx.RTCPReader(), kc != nil, b)
		return c, nil
	}
	return webrtc.RTPCodecParameters{}, errors.New("call: no codec to send with: " + strings.Join(reasons, "; "))
}

// Unbind stops the binding's goroutine without waiting for it: it ends
// after the frame it is encoding (the sources are paced).
func (t *sendTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	t.mu.Lock()
	b := t.binds[ctx.ID()]
	delete(t.binds, ctx.ID())
	t.mu.Unlock()
	if b != nil {
		b.once.Do(func() { close(b.stop) })
	}
	return nil
}

// controller returns the encoder controller of the latest binding (for
// the bitrate), or nil.
func (t *sendTrack) controller() codec.EncoderController {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ctrl
}

func (t *sendTrack) send(r mediadevices.RTPReadCloser, w webrtc.TrackLocalWriter, pt uint8, b *binding, kc codec.KeyFrameController) {
	defer r.Close()
	for {
		select {
		case <-b.stop:
			return
		default:
		}
		if kc != nil && t.keys.take(time.Now()) {
			_ = kc.ForceKeyFrame()
		}
		pkts, release, err := r.Read()
		if err != nil {
			return // the source closed
		}
		n := 0
		for _, p := range pkts {
			p.PayloadType = pt
			if _, err := w.WriteRTP(&p.Header, p.Payload); err != nil {
				release()
				return
			}
			n += len(p.Payload)
		}
		t.sent.bytes.Add(int64(n))
		t.sent.packets.Add(int64(len(pkts)))
		t.sent.frames.Add(1)
		if t.kind == webrtc.RTPCodecTypeVideo && len(pkts) > 0 && vp8Keyframe(pkts[0].Payload) {
			t.keys.sent(time.Now(), n)
			t.sent.keyframes.Add(1)
			for {
				old := t.sent.keyBytesMax.Load()
				if int64(n) <= old || t.sent.keyBytesMax.CompareAndSwap(old, int64(n)) {
					break
				}
			}
		}
		release()
	}
}

// readRTCP reads the sender's RTCP, which drives pion's interceptors
// (transport-wide feedback into the congestion controller, NACK, reports),
// and passes the receiver's keyframe requests to the gate when the
// encoder can force keyframes; it ends with the sender's RTCP stream (the
// PeerConnection closes).
func (t *sendTrack) readRTCP(r interceptor.RTCPReader, keyframes bool, b *binding) {
	buf := make([]byte, 1500)
	for failed := 0; ; {
		n, _, err := r.Read(buf, interceptor.Attributes{})
		select {
		case <-b.stop:
			return
		default:
		}
		if err != nil {
			if failed++; rtcpStreamEnded(err) || failed > 1000 {
				return
			}
			// An interceptor refused one packet (the congestion
			// controller cannot match feedback for packets it no longer
			// remembers, after seconds in a full queue): the stream goes
			// on, and so must its feedback.
			t.sent.rtcpErrors.Add(1)
			continue
		}
		failed = 0
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if keyframes {
					t.sent.keyRequests.Add(1)
					t.keys.request()
				}
			}
		}
	}
}

// vp8Keyframe reports whether an RTP payload starts a VP8 keyframe.
func vp8Keyframe(payload []byte) bool {
	var p codecs.VP8Packet
	data, err := p.Unmarshal(payload)
	return err == nil && p.S == 1 && p.PID == 0 && len(data) > 0 && data[0]&1 == 0
}

// rtcpStreamEnded reports whether a read error of a sender's RTCP means
// the stream is gone (the PeerConnection or the sender closed), as
// opposed to one packet an interceptor could not use.
func rtcpStreamEnded(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "closed")
}
