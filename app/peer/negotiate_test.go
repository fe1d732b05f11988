package peer

import (
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

// flood is the biggest offer request a peer may send: 8 kinds.
const flood = "offer-please audio video audio video audio video audio video"

// FuzzParseOfferRequest: whatever the peer sends on the negotiate channel,
// parsing never panics and never asks for more than maxRequestKinds.
func FuzzParseOfferRequest(f *testing.F) {
	for _, s := range []string{"offer-please", "offer-please audio", "offer-please audio video", flood,
		flood + " audio", "offer-please data", "offer-please\x00video", "", "video offer-please"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		kinds, ok := parseOfferRequest(msg)
		total := 0
		for k, n := range kinds {
			if k != webrtc.RTPCodecTypeAudio && k != webrtc.RTPCodecTypeVideo {
				t.Fatalf("kind %v", k)
			}
			total += n
		}
		if !ok && kinds != nil || total > maxRequestKinds {
			t.Fatalf("parse %q = %v, %v", msg, kinds, ok)
		}
	})
}

// FuzzMediaSections: counting the m-lines of a peer's SDP never panics
// and never counts more than its lines.
func FuzzMediaSections(f *testing.F) {
	f.Add("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n")
	f.Add("m=audio")
	f.Add("")
	f.Fuzz(func(t *testing.T, sdp string) {
		if n := mediaSections(sdp); n < 0 || n > strings.Count(sdp, "\n")+1 {
			t.Fatalf("mediaSections = %d", n)
		}
	})
}

func TestMediaSections(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		sdp  string
		want int
	}{
		{"", 0},
		{"v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n", 0},
		{"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n", 2},
		{"m=audio 9 x\nm=audio 9 x\nm=application 9 x\nm=video 9 x", 3},
		{"a=x m=audio\r\n", 0},
	} {
		if got := mediaSections(c.sdp); got != c.want {
			t.Errorf("mediaSections(%q) = %d, want %d", c.sdp, got, c.want)
		}
	}
}
