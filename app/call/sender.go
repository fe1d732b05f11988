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

	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/codec"
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

// sendTrack is one capture track's encoding for a slot: an encoder per
// start, its counters and its keyframe gate. It replaces mediadevices' own
// binding, whose stream id is a new random UUID each time pion asks (so
// renegotiation never settles) and whose Unbind can wait forever when the
// sending goroutine already stopped.
type sendTrack struct {
	src  rtpSource
	kind webrtc.RTPCodecType

	mu   sync.Mutex
	ctrl codec.EncoderController // of the latest start

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
	return &sendTrack{src: src, kind: src.Kind(), keys: keyframeGate{minGap: keyframeMinGap}}
}

// start starts an encoder for the codec of a slot's sender and a goroutine
// that sends its packets to w until the binding stops (slot.setSource).
func (t *sendTrack) start(c webrtc.RTPCodecParameters, ssrc uint32, w webrtc.TrackLocalWriter, b *binding) error {
	r, err := t.src.NewRTPReader(c.MimeType, ssrc, rtpMTU)
	if err != nil {
		return fmt.Errorf("call: %s encoder: %w", c.MimeType, err)
	}
	select {
	case <-b.stop: // replaced or unbound while the encoder started
		_ = r.Close()
		return nil
	default:
	}
	t.mu.Lock()
	t.ctrl = r.Controller()
	t.mu.Unlock()
	kc, _ := r.Controller().(codec.KeyFrameController)
	go t.send(r, w, uint8(c.PayloadType), b, kc)
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
