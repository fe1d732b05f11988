package call

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/parley-chat/parley/app/mediahub"
)

// Stats describes what this side received during a call. The first six
// fields are parley-cli's --stats line (checked from outside).
type Stats struct {
	VideoFramesReceived  int     `json:"videoFramesReceived"`
	VideoFramesDecoded   int     `json:"videoFramesDecoded"`
	AudioPacketsReceived int     `json:"audioPacketsReceived"`
	AvgFps               float64 `json:"avgFps"`
	RttMs                float64 `json:"rttMs"`
	Freezes              int     `json:"freezes"`

	// Glass-to-glass latency of stamped synthetic frames (capture to
	// decoded), median and 95th percentile, in milliseconds; 0 without.
	LatencyP50Ms float64 `json:"-"`
	LatencyP95Ms float64 `json:"-"`
	// FramesLost counts stamped frames that never decoded (gaps in the
	// frame numbers).
	FramesLost int `json:"-"`
	// FreezeMs is the total time spent frozen; MaxFreezeMs the longest
	// freeze (how long recovery took).
	FreezeMs    float64 `json:"-"`
	MaxFreezeMs float64 `json:"-"`
	// KeyframeRequests counts picture loss indications we sent.
	KeyframeRequests int `json:"-"`
	// Width and Height of the last decoded frame of the main video: the
	// peer's screen while it shares, else its camera.
	Width, Height int `json:"-"`
	// TileFramesDecoded counts the decoded frames of the peer's camera
	// while it shares its screen (the small tile); TileWidth and
	// TileHeight are the last one's size. Frame rate, freezes and latency
	// are those of the main video.
	TileFramesDecoded     int     `json:"-"`
	TileWidth, TileHeight int     `json:"-"`
	TileFps               float64 `json:"-"`
	// SecondsPlayed is how much of the peer's voice went to the speaker
	// (Config.Play) in the current call.
	SecondsPlayed float64 `json:"-"`
}

// receiver turns the peer's media into frames for the UI (the hub) and,
// when decoding, into the counters of Stats.
type receiver struct {
	log    *slog.Logger
	hub    *mediahub.Hub
	room   string
	decode bool
	play   bool              // the voice plays in Go (speaker), not in the UI
	pli    func(ssrc uint32) // asks the sender for a keyframe
	onData func()            // first media of a call arrived
	// onDecoded sees each decoded picture (Config.decodedForTest).
	onDecoded func(decodedFrame)
	start     time.Time

	armed  atomic.Bool // the next media to arrive calls onData
	closed atomic.Bool // the manager closed: readers stop at their deadline
	// legacyScreen: the peer is an older Parley sharing its screen on its
	// one video track (Control.Tile false): that track is the screen.
	legacyScreen atomic.Bool
	// peerSharing: the peer's control messages say it shares its screen,
	// so its camera frames are the tile's.
	peerSharing atomic.Bool

	mu          sync.Mutex
	speaker     *player // of the current call, when playing in Go
	st          Stats
	firstFrame  time.Time
	lastFrame   time.Time
	avgInterval float64 // seconds, moving average between decoded frames
	latencies   []float64
	lastStamp   uint32
	haveStamp   bool
	lastPLI     map[uint32]time.Time // per video track: the last keyframe request
	tileFirst   time.Time            // the first and last decoded tile frames
	tileLast    time.Time
	wg          sync.WaitGroup
}

func newReceiver(log *slog.Logger, hub *mediahub.Hub, room string, decode, play bool, pli func(uint32), onData func()) *receiver {
	return &receiver{log: log, hub: hub, room: room, decode: decode, play: play, pli: pli, onData: onData, start: time.Now(), lastPLI: map[uint32]time.Time{}}
}

// handle reads one remote track until it ends.
func (r *receiver) handle(t *webrtc.TrackRemote) {
	r.wg.Add(1)
	defer r.wg.Done()
	switch t.Kind() {
	case webrtc.RTPCodecTypeVideo:
		r.video(t)
	case webrtc.RTPCodecTypeAudio:
		r.audio(t)
	}
}

// arm makes the next media to arrive report itself (a call connects).
func (r *receiver) arm() { r.armed.Store(true) }

func (r *receiver) since() time.Duration { return time.Since(r.start) }

// trackReader reads one remote track with a rolling deadline, so its
// goroutine ends even when pion forgets the track: a receiver that gets a
// new track (a later call) or a closed PeerConnection does not always end
// the old track's blocked read. An expired deadline on a live track just
// reads again; one that can no longer be set means the track is gone.
type trackReader struct {
	t       *webrtc.TrackRemote
	closed  *atomic.Bool
	renewed time.Time
}

func (tr *trackReader) read() (*rtp.Packet, error) {
	for {
		if time.Since(tr.renewed) > 250*time.Millisecond {
			if err := tr.t.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
				return nil, err
			}
			tr.renewed = time.Now()
		}
		pkt, _, err := tr.t.ReadRTP()
		var ne net.Error
		if err != nil && errors.As(err, &ne) && ne.Timeout() && !tr.closed.Load() {
			tr.renewed = time.Time{}
			continue
		}
		return pkt, err
	}
}

func (r *receiver) audio(t *webrtc.TrackRemote) {
	tr := &trackReader{t: t, closed: &r.closed}
	var dec *opusDecoder
	defer func() {
		if dec != nil {
			dec.close()
		}
	}()
	for {
		pkt, err := tr.read()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.st.AudioPacketsReceived++
		out := r.speaker
		r.mu.Unlock()
		if r.armed.CompareAndSwap(true, false) && r.onData != nil {
			r.onData()
		}
		if len(pkt.Payload) == 0 {
			continue
		}
		switch {
		case out != nil:
			if dec == nil {
				if dec, err = newOpusDecoder(); err != nil {
					r.log.Warn("call: no audio decoder", "err", err)
					continue
				}
			}
			if pcm, err := dec.decode(pkt.Payload); err == nil {
				out.push(pcm)
			}
		case r.hub != nil && !r.play:
			r.hub.Publish(r.room, mediahub.Frame{Kind: mediahub.RemoteAudio, Timestamp: r.since(), Data: pkt.Payload})
		}
	}
}

// setSpeaker routes the peer's voice to p (nil: nowhere).
func (r *receiver) setSpeaker(p *player) {
	r.mu.Lock()
	r.speaker = p
	r.mu.Unlock()
}

// video reassembles VP8 frames (NACK retransmissions get up to 150 ms),
// hands them to the hub and the decoder, and asks for a keyframe when a
// frame was lost: until one arrives, later frames would decode to garbage.
//
// The peer's track id says which video it is: "screen" is its shared
// screen, anything else its camera (an older Parley names its one video
// track "video", and shares its screen on it: legacyScreen).
func (r *receiver) video(t *webrtc.TrackRemote) {
	ssrc := uint32(t.SSRC())
	screenTrack := t.ID() == slotScreen
	r.mu.Lock()
	r.lastPLI[ssrc] = time.Time{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.lastPLI, ssrc)
		r.mu.Unlock()
	}()
	sb := samplebuilder.New(512, &codecs.VP8Packet{}, 90000, samplebuilder.WithMaxTimeDelay(150*time.Millisecond))
	var dec *vp8Decoder
	if r.decode {
		d, err := newVP8Decoder()
		if err != nil {
			r.log.Warn("call: no video decoder", "err", err)
		} else {
			dec = d
			defer dec.close()
		}
	}
	var width, height uint16
	needKey := true
	tr := &trackReader{t: t, closed: &r.closed}
	for {
		pkt, err := tr.read()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.log.Debug("call: video track ended", "err", err)
			}
			return
		}
		sb.Push(pkt)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			if len(s.Data) < 3 {
				continue
			}
			key := s.Data[0]&1 == 0
			if key && len(s.Data) >= 10 {
				width = binary.LittleEndian.Uint16(s.Data[6:8]) & 0x3fff
				height = binary.LittleEndian.Uint16(s.Data[8:10]) & 0x3fff
			}
			r.mu.Lock()
			r.st.VideoFramesReceived++
			r.mu.Unlock()
			if r.armed.CompareAndSwap(true, false) && r.onData != nil {
				r.onData()
			}
			if s.PrevDroppedPackets > 0 && !key {
				needKey = true
			}
			if needKey && !key {
				r.requestKeyframe(ssrc)
				continue
			}
			needKey = false
			screen := screenTrack || r.legacyScreen.Load()
			if r.hub != nil {
				kind := mediahub.RemoteVideo
				if screen {
					kind = mediahub.RemoteScreen
				}
				r.hub.Publish(r.room, mediahub.Frame{Kind: kind, Keyframe: key, Timestamp: r.since(), Width: width, Height: height, Data: s.Data})
			}
			if dec != nil {
				f, ok, err := dec.decode(s.Data)
				if err != nil {
					needKey = true
					r.requestKeyframe(ssrc)
					continue
				}
				if ok {
					f.screen = screen
					r.decoded(f)
					if r.onDecoded != nil {
						r.onDecoded(f)
					}
				}
			}
		}
	}
}

// requestKeyframe sends a picture loss indication for the video track
// ssrc, at most every 200 ms.
func (r *receiver) requestKeyframe(ssrc uint32) {
	r.mu.Lock()
	last, ok := r.lastPLI[ssrc]
	if !ok || time.Since(last) < 200*time.Millisecond {
		r.mu.Unlock()
		return
	}
	r.lastPLI[ssrc] = time.Now()
	r.st.KeyframeRequests++
	r.mu.Unlock()
	if r.pli != nil {
		r.pli(ssrc)
	}
}

// requestKeyframes asks for a keyframe of every video track.
func (r *receiver) requestKeyframes() {
	r.mu.Lock()
	ssrcs := make([]uint32, 0, len(r.lastPLI))
	for s := range r.lastPLI {
		ssrcs = append(ssrcs, s)
	}
	r.mu.Unlock()
	for _, s := range ssrcs {
		r.requestKeyframe(s)
	}
}

// decoded counts a decoded picture: frame rate, freezes (a gap longer than
// three average frame times and 150 ms more than one, as WebRTC's
// freezeCount), and the stamp's latency and frame number.
//
// While the peer shares its screen its camera frames are the tile's:
// counted, but not in the main video's frame rate, freezes and latency.
func (r *receiver) decoded(f decodedFrame) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.VideoFramesDecoded++
	if !f.screen && r.peerSharing.Load() {
		r.st.TileFramesDecoded++
		r.st.TileWidth, r.st.TileHeight = f.width, f.height
		if r.tileFirst.IsZero() {
			r.tileFirst = now
		}
		r.tileLast = now
		return
	}
	stamp, stamped := readStamp(f.y, f.stride, f.width, f.height)
	r.st.Width, r.st.Height = f.width, f.height
	if r.firstFrame.IsZero() {
		r.firstFrame = now
	} else {
		gap := now.Sub(r.lastFrame).Seconds()
		if r.avgInterval > 0 && gap > 3*r.avgInterval && gap > r.avgInterval+0.15 {
			r.st.Freezes++
			r.st.FreezeMs += gap * 1000
			r.st.MaxFreezeMs = math.Max(r.st.MaxFreezeMs, gap*1000)
		} else if r.avgInterval == 0 {
			r.avgInterval = gap
		} else {
			r.avgInterval = 0.9*r.avgInterval + 0.1*gap
		}
	}
	r.lastFrame = now
	if stamped {
		if len(r.latencies) < 1<<16 {
			r.latencies = append(r.latencies, float64(latencyMs(now.UnixMilli(), stamp)))
		}
		if r.haveStamp && stamp.Frame > r.lastStamp+1 && stamp.Frame-r.lastStamp < 1<<20 {
			r.st.FramesLost += int(stamp.Frame - r.lastStamp - 1)
		}
		r.lastStamp, r.haveStamp = stamp.Frame, true
	}
}

// stats returns the counters so far.
func (r *receiver) stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	if r.speaker != nil {
		st.SecondsPlayed = float64(r.speaker.samplesPlayed()) / audioRate
	}
	if n := st.VideoFramesDecoded - st.TileFramesDecoded; n > 1 {
		if d := r.lastFrame.Sub(r.firstFrame).Seconds(); d > 0 {
			st.AvgFps = math.Round(float64(n-1)/d*10) / 10
		}
	}
	if n := st.TileFramesDecoded; n > 1 {
		if d := r.tileLast.Sub(r.tileFirst).Seconds(); d > 0 {
			st.TileFps = math.Round(float64(n-1)/d*10) / 10
		}
	}
	if len(r.latencies) > 0 {
		l := append([]float64(nil), r.latencies...)
		sort.Float64s(l)
		st.LatencyP50Ms = l[len(l)/2]
		st.LatencyP95Ms = l[len(l)*95/100]
	}
	return st
}

// rttMs reads the round-trip time of the selected ICE candidate pair (or,
// failing that, of RTCP receiver reports) from a stats report.
func rttMs(rep webrtc.StatsReport) float64 {
	var rtcpRTT float64
	for _, v := range rep {
		switch s := v.(type) {
		case webrtc.ICECandidatePairStats:
			if s.Nominated && s.CurrentRoundTripTime > 0 {
				return math.Round(s.CurrentRoundTripTime*10000) / 10
			}
		case webrtc.RemoteInboundRTPStreamStats:
			if s.RoundTripTime > 0 {
				rtcpRTT = s.RoundTripTime
			}
		}
	}
	return math.Round(rtcpRTT*10000) / 10
}
