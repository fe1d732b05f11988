package peer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
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

// TestMediaRenegotiationKeepsChat adds a track on each side of a verified
// pair (the polite side's through an offer request) and removes one, while
// the chat stream keeps carrying bytes both ways, and checks that the
// PeerConnection is never rebuilt. On the way it checks that the other
// side's congestion feedback on the video is noted (LastFeedback).
func TestMediaRenegotiationKeepsChat(t *testing.T) {
	t.Parallel()
	sa, sb := keyedPair(t)
	gotA, gotB := make(chan string, 4), make(chan string, 4)
	var readers sync.WaitGroup
	var closing atomic.Bool
	// Readers renew a read deadline as app/call's do: pion does not always
	// end a read whose stream it swapped out during renegotiation when
	// the PeerConnection closes (seen once under a loaded CI run).
	reader := func(got chan string) func(*webrtc.TrackRemote, *webrtc.RTPReceiver) {
		return func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			readers.Add(1)
			defer readers.Done()
			got <- tr.Kind().String()
			buf := make([]byte, 1500)
			for {
				if err := tr.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
					return
				}
				_, _, err := tr.Read(buf)
				var ne net.Error
				if err != nil && (!errors.As(err, &ne) || !ne.Timeout() || closing.Load()) {
					return
				}
			}
		}
	}
	a, b := newPair(t, sa, sb, pairOpts{onTrack: [2]func(*webrtc.TrackRemote, *webrtc.RTPReceiver){reader(gotA), nil}})
	b.SetOnTrack(reader(gotB)) // as a call does on a Conn the session created
	ra, rb := verifyBoth(t, a, b)
	gen := func(c *Conn) uint64 { c.mu.Lock(); defer c.mu.Unlock(); return c.gen }
	genA, genB := gen(a), gen(b)

	// Chat keeps flowing: a pumps numbered lines, b checks them.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := ra.Write([]byte{byte(i)}); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	chatErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1)
		for i := 0; ; i++ {
			if _, err := io.ReadFull(rb, buf); err != nil {
				chatErr <- err
				return
			}
			if buf[0] != byte(i) {
				chatErr <- io.ErrUnexpectedEOF
				return
			}
		}
	}()

	send := func(c *Conn, mime, kind string) (*webrtc.RTPSender, func()) {
		tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: mime}, kind, "parley")
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.AddTrack(tr)
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
					_ = tr.WriteSample(media.Sample{Data: bytes.Repeat([]byte{0x10}, 100), Duration: 20 * time.Millisecond})
				}
			}
		}()
		return s, func() { close(stop) }
	}
	expect := func(got chan string, kind string) {
		t.Helper()
		select {
		case k := <-got:
			if k != kind {
				t.Fatalf("track kind %s, want %s", k, kind)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s track", kind)
		}
	}

	if at, _ := a.LastFeedback(); !at.IsZero() {
		t.Fatal("feedback before any media")
	}
	sA, stopA := send(a, webrtc.MimeTypeVP8, "video") // impolite: offers itself
	expect(gotB, "video")
	// The sender's RTCP is read (as app/call does): the other side's
	// feedback on the video shows in LastFeedback.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if _, _, err := sA.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		at, rtt := a.LastFeedback()
		if !at.IsZero() && rtt > 0 {
			if rtt > 5*time.Second {
				t.Fatalf("round trip from feedback on loopback: %v", rtt)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no congestion feedback noted for the video sent (at %v, rtt %v)", at, rtt)
		}
	}
	sB, stopB := send(b, webrtc.MimeTypeOpus, "audio") // polite: asks for an offer
	expect(gotA, "audio")
	stopB()
	if err := b.RemoveTrack(sB); err != nil {
		t.Fatal(err)
	}
	waitSignalingState(t, a, webrtc.SignalingStateStable)
	stopA()
	time.Sleep(200 * time.Millisecond)

	if gen(a) != genA || gen(b) != genB {
		t.Fatal("a PeerConnection was rebuilt during renegotiation")
	}
	select {
	case err := <-chatErr:
		t.Fatalf("chat broke during the call: %v", err)
	default:
	}
	cancel()
	closing.Store(true)
	_ = a.Close()
	_ = b.Close()
	wg.Wait()
	// Closing the Conns must end the remote tracks' readers.
	done := make(chan struct{})
	go func() { readers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("remote track readers still running after Close")
	}
}
