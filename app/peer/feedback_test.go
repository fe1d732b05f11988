package peer

import (
	"testing"

	"github.com/pion/rtcp"
)

// TestIsFeedback: transport-wide feedback counts, in a compound packet
// too; receiver reports, other RTCP and garbage do not.
func TestIsFeedback(t *testing.T) {
	t.Parallel()
	rr := []byte{0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	srNoBlocks := []byte{0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	pli := []byte{0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2}
	twcc := []byte{0x8f, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2}
	nack := []byte{0x81, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2}
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"receiver report", rr, false},
		{"sender report without blocks", srNoBlocks, false},
		{"PLI", pli, false},
		{"transport-wide feedback", twcc, true},
		{"NACK", nack, false},
		{"compound: PLI then transport-wide feedback", append(append([]byte{}, pli...), twcc...), true},
		{"empty", nil, false},
		{"short", []byte{0x81, 201}, false},
		{"length past the end hides what follows", append([]byte{0x81, 206, 0xff, 0xff}, twcc...), false},
	} {
		if got := isFeedback(tc.b); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestNewestReceived: the highest sequence number a transport-wide
// feedback reports as received, across run-length and vector chunks and
// wrapping at 65535; statuses past PacketStatusCount are ignored.
func TestNewestReceived(t *testing.T) {
	t.Parallel()
	recv, lost := rtcp.TypeTCCPacketReceivedSmallDelta, rtcp.TypeTCCPacketNotReceived
	for _, tc := range []struct {
		name   string
		tcc    rtcp.TransportLayerCC
		newest uint16
		ok     bool
	}{
		{"run of received", rtcp.TransportLayerCC{BaseSequenceNumber: 10, PacketStatusCount: 5,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: recv, RunLength: 5}}}, 14, true},
		{"received then lost", rtcp.TransportLayerCC{BaseSequenceNumber: 10, PacketStatusCount: 7,
			PacketChunks: []rtcp.PacketStatusChunk{
				&rtcp.RunLengthChunk{PacketStatusSymbol: recv, RunLength: 3},
				&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: []uint16{lost, recv, lost, lost}},
			}}, 14, true},
		{"wraps", rtcp.TransportLayerCC{BaseSequenceNumber: 65534, PacketStatusCount: 3,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: recv, RunLength: 3}}}, 0, true},
		{"all lost", rtcp.TransportLayerCC{BaseSequenceNumber: 10, PacketStatusCount: 4,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: lost, RunLength: 4}}}, 0, false},
		{"statuses past the count", rtcp.TransportLayerCC{BaseSequenceNumber: 10, PacketStatusCount: 2,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: recv, RunLength: 8000}}}, 11, true},
	} {
		tcc := tc.tcc
		if n, ok := newestReceived(&tcc); n != tc.newest || ok != tc.ok {
			t.Errorf("%s: %d %v, want %d %v", tc.name, n, ok, tc.newest, tc.ok)
		}
	}
}

func FuzzIsFeedback(f *testing.F) {
	f.Add([]byte{0x81, 201, 0, 1, 0, 0, 0, 1})
	f.Add([]byte{0x8f, 205, 0, 0})
	f.Fuzz(func(_ *testing.T, b []byte) {
		if !isFeedback(b) {
			return
		}
		// What the interceptor then does with hostile feedback.
		pkts, err := rtcp.Unmarshal(b)
		if err != nil {
			return
		}
		for _, p := range pkts {
			if tcc, ok := p.(*rtcp.TransportLayerCC); ok {
				_, _ = newestReceived(tcc)
			}
		}
	})
}
