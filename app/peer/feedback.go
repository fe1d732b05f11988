package peer

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// pion's send-side estimator keeps its last estimate when its input goes
// wrong: on a link whose rate suddenly dropped from 2 Mbit/s to 300
// kbit/s it stayed at 1.4-2.3 Mbit/s for 4-11 s, while the RTT of the
// connection's statistics (from receiver reports, about one a second, that
// wait in the same full queue) came seconds late. So the connection notes
// two things itself, from the transport-wide feedback the other side sends
// about every 100 ms: when the last one arrived (its silence is a jammed
// link), and the round trip of the newest packet it acknowledges (time from
// our send to the feedback's arrival: the queue on the path, fresh every
// 100 ms). app/call's queue guard acts on both.

// sentRing remembers when the last packets were sent, by transport-wide
// sequence number: 4096 packets is about 10 s of a 1.2 Mbit/s call.
const sentRing = 4096

// feedbackState is what the other side's feedback told us, across
// PeerConnection generations of one Conn.
type feedbackState struct {
	at  atomic.Int64 // unix ns of the last transport-wide feedback; 0: none
	rtt atomic.Int64 // ns, the round trip it measured; 0: none yet
}

// LastFeedback is when the other side's last transport-wide feedback on
// our media arrived (zero before any), and the round trip to the newest
// packet it acknowledged (0 when unknown). app/call cuts its rate when the
// feedback stops or the round trip shows a queue.
func (c *Conn) LastFeedback() (at time.Time, rtt time.Duration) {
	n := c.feedback.at.Load()
	if n == 0 {
		return time.Time{}, 0
	}
	return time.Unix(0, n), time.Duration(c.feedback.rtt.Load())
}

// feedbackClockFactory makes the interceptor of each PeerConnection.
type feedbackClockFactory struct{ fb *feedbackState }

func (f feedbackClockFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &feedbackClock{fb: f.fb}, nil
}

type sentPacket struct {
	seq  uint16
	at   int64 // unix ns
	used bool
}

type feedbackClock struct {
	interceptor.NoOp
	fb *feedbackState

	mu   sync.Mutex
	sent [sentRing]sentPacket
}

// BindLocalStream notes the send time of every outgoing packet that
// carries a transport-wide sequence number.
func (f *feedbackClock) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	var id uint8
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI && e.ID > 0 && e.ID < 256 {
			id = uint8(e.ID)
		}
	}
	if id == 0 {
		return writer
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if ext := h.GetExtension(id); len(ext) >= 2 {
			seq := binary.BigEndian.Uint16(ext)
			f.mu.Lock()
			f.sent[seq%sentRing] = sentPacket{seq: seq, at: time.Now().UnixNano(), used: true}
			f.mu.Unlock()
		}
		return writer.Write(h, payload, a)
	})
}

// BindRTCPReader notes the arrival of transport-wide feedback and the
// round trip of the newest packet it says arrived. Receiver reports do not
// count: one a second can slip through a full queue while the estimator
// starves.
func (f *feedbackClock) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attr, err := reader.Read(b, a)
		if err == nil && isFeedback(b[:n]) {
			now := time.Now()
			f.fb.at.Store(now.UnixNano())
			if pkts, perr := rtcp.Unmarshal(b[:n]); perr == nil {
				for _, p := range pkts {
					if tcc, ok := p.(*rtcp.TransportLayerCC); ok {
						f.measure(tcc, now)
					}
				}
			}
		}
		return n, attr, err
	})
}

// measure takes the newest packet a feedback says arrived and, when we
// still know when it was sent, stores the round trip.
func (f *feedbackClock) measure(tcc *rtcp.TransportLayerCC, now time.Time) {
	seq, ok := newestReceived(tcc)
	if !ok {
		return
	}
	f.mu.Lock()
	s := f.sent[seq%sentRing]
	f.mu.Unlock()
	if !s.used || s.seq != seq {
		return
	}
	if rtt := now.UnixNano() - s.at; rtt > 0 && rtt < int64(time.Minute) {
		f.fb.rtt.Store(rtt)
	}
}

// newestReceived is the highest transport-wide sequence number a feedback
// reports as received. The other side's statuses are hostile input: only
// PacketStatusCount of them are read.
func newestReceived(tcc *rtcp.TransportLayerCC) (uint16, bool) {
	var (
		newest uint16
		found  bool
		i      uint16
	)
	left := tcc.PacketStatusCount
	for _, c := range tcc.PacketChunks {
		if left == 0 {
			break
		}
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			run := min(c.RunLength, left)
			if c.PacketStatusSymbol != rtcp.TypeTCCPacketNotReceived && run > 0 {
				newest, found = tcc.BaseSequenceNumber+i+run-1, true
			}
			i += run
			left -= run
		case *rtcp.StatusVectorChunk:
			for _, sym := range c.SymbolList {
				if left == 0 {
					break
				}
				if sym != rtcp.TypeTCCPacketNotReceived {
					newest, found = tcc.BaseSequenceNumber+i, true
				}
				i++
				left--
			}
		}
	}
	return newest, found
}

// isFeedback walks the headers of a compound RTCP packet (RFC 3550 6.4)
// and reports whether one of them is transport-wide feedback (PT 205,
// FMT 15). Malformed input ends the walk.
func isFeedback(b []byte) bool {
	for len(b) >= 4 {
		fmtCount, pt := b[0]&0x1f, b[1]
		if pt == 205 && fmtCount == 15 {
			return true
		}
		size := 4 * (int(b[2])<<8 | int(b[3]) + 1)
		if size > len(b) {
			return false
		}
		b = b[size:]
	}
	return false
}
