package call

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/rtcp"
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
}

type binding struct {
	stop chan struct{}
	once sync.Once
}

func newSendTrack(src rtpSource) *sendTrack {
	return &sendTrack{src: src, kind: src.Kind(), binds: map[string]*binding{}}
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
		go t.send(r, ctx.WriteStream(), uint8(c.PayloadType), b)
		if kc, ok := r.Controller().(codec.KeyFrameController); ok {
			go readRTCP(ctx.RTCPReader(), kc, b)
		}
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

func (t *sendTrack) send(r mediadevices.RTPReadCloser, w webrtc.TrackLocalWriter, pt uint8, b *binding) {
	defer r.Close()
	for {
		select {
		case <-b.stop:
			return
		default:
		}
		pkts, release, err := r.Read()
		if err != nil {
			return // the source closed
		}
		for _, p := range pkts {
			p.PayloadType = pt
			if _, err := w.WriteRTP(&p.Header, p.Payload); err != nil {
				release()
				return
			}
		}
		release()
	}
}

// readRTCP turns the receiver's keyframe requests into keyframes; it ends
// with the sender's RTCP stream (the PeerConnection closes).
func readRTCP(r interceptor.RTCPReader, kc codec.KeyFrameController, b *binding) {
	buf := make([]byte, 1500)
	for {
		n, _, err := r.Read(buf, interceptor.Attributes{})
		if err != nil {
			return
		}
		select {
		case <-b.stop:
			return
		default:
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				_ = kc.ForceKeyFrame()
			}
		}
	}
}
