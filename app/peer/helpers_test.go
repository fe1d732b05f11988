package peer_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pion/datachannel"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/parley-chat/parley/app/peer"
	"github.com/parley-chat/parley/app/peer/peertest"
	"github.com/parley-chat/parley/signaling/protocol"
)

// The tests in package peer_test build their connections with the
// peertest kit and reach internals through export_test.go.

func testLogger() *slog.Logger {
	if os.Getenv("PEER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startPair starts a pair with this package's logger, without waiting
// for verification.
func startPair(t *testing.T, opts ...peertest.Option) *peertest.Pair {
	t.Helper()
	return peertest.Start(t, append([]peertest.Option{peertest.WithLogger(testLogger())}, opts...)...)
}

// verifiedPair is startPair, verified: it returns the chat streams too.
func verifiedPair(t *testing.T, opts ...peertest.Option) (*peertest.Pair, io.ReadWriteCloser, io.ReadWriteCloser) {
	t.Helper()
	p := startPair(t, opts...)
	ra, rb := p.Streams(t, peer.ChannelChat)
	return p, ra, rb
}

// side is one participant's identity in tests with a rawPeer.
type side struct {
	key, peerKey []byte
	secret       []byte
	polite       bool
}

// keyedSide returns an impolite side and the raw peer's matching key.
func keyedSide(t *testing.T) (side, []byte) {
	ka, kr := peertest.Key(t), peertest.Key(t)
	return side{key: ka, peerKey: kr, secret: peertest.Secret(7)}, kr
}

func waitCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// rawPeer is a bare pion PeerConnection that only answers offers. Tests use
// it as the far end of a Conn to see exactly what the Conn puts on the wire,
// and two of them make the man in the middle.
type rawPeer struct {
	pc   *webrtc.PeerConnection
	send func(protocol.Signal) error
	fp   []byte // sha-256 of its DTLS certificate
	open chan datachannel.ReadWriteCloser
	// mediaOnly peers have no data channel and ignore offers: they offer
	// one audio m-line themselves (offer), so DTLS comes up but SCTP never
	// starts.
	mediaOnly bool

	mu        sync.Mutex
	remoteSet bool
	pending   []webrtc.ICECandidateInit
}

func newRawPeer(t *testing.T, send func(protocol.Signal) error) *rawPeer {
	t.Helper()
	return newRawPeerWith(t, send, false)
}

func newRawPeerWith(t *testing.T, send func(protocol.Signal) error, mediaOnly bool) *rawPeer {
	t.Helper()
	cert, der, err := peer.NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.DetachDataChannels()
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{
		Certificates: []webrtc.Certificate{cert},
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	r := &rawPeer{pc: pc, send: send, fp: sum[:], open: make(chan datachannel.ReadWriteCloser, 1), mediaOnly: mediaOnly}
	t.Cleanup(func() { _ = pc.Close() })
	r.onCandidate()
	if mediaOnly {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
		return r
	}
	negotiated, id := true, uint16(peer.ChannelChat)
	dc, err := pc.CreateDataChannel(peer.ChannelChat.String(), &webrtc.DataChannelInit{Negotiated: &negotiated, ID: &id})
	if err != nil {
		t.Fatal(err)
	}
	dc.OnOpen(func() {
		raw, err := dc.Detach()
		if err != nil {
			return
		}
		r.open <- raw
	})
	return r
}

func (r *rawPeer) onCandidate() {
	r.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		_ = r.send(protocol.Signal{Session: "raw", Candidate: &protocol.ICECandidate{
			Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex,
		}})
	})
}

// offer makes the raw peer's own offer (a mediaOnly peer's audio m-line).
func (r *rawPeer) offer(t *testing.T) {
	t.Helper()
	o, err := r.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	if err := r.send(protocol.Signal{Session: "raw", Description: &protocol.SessionDescription{Type: "offer", SDP: o.SDP}}); err != nil {
		t.Fatal(err)
	}
}

// remoteSetLocked applies the queued candidates once a remote description
// is in place.
func (r *rawPeer) remoteSetLocked() {
	r.remoteSet = true
	for _, c := range r.pending {
		_ = r.pc.AddICECandidate(c)
	}
	r.pending = nil
}

// HandleSignal answers offers and applies candidates; it is called from one
// relay goroutine.
func (r *rawPeer) HandleSignal(s protocol.Signal) error {
	if s.Candidate != nil {
		init := webrtc.ICECandidateInit{Candidate: s.Candidate.Candidate, SDPMid: s.Candidate.SDPMid, SDPMLineIndex: s.Candidate.SDPMLineIndex}
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.remoteSet {
			r.pending = append(r.pending, init)
			return nil
		}
		return r.pc.AddICECandidate(init)
	}
	if s.Description != nil && s.Description.Type == "answer" && r.mediaOnly {
		if err := r.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: s.Description.SDP}); err != nil {
			return err
		}
		r.mu.Lock()
		r.remoteSetLocked()
		r.mu.Unlock()
		return nil
	}
	if s.Description == nil || s.Description.Type != "offer" || r.mediaOnly {
		return nil
	}
	if err := r.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: s.Description.SDP}); err != nil {
		return err
	}
	r.mu.Lock()
	r.remoteSetLocked()
	r.mu.Unlock()
	answer, err := r.pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := r.pc.SetLocalDescription(answer); err != nil {
		return err
	}
	return r.send(protocol.Signal{Session: "raw", Description: &protocol.SessionDescription{Type: "answer", SDP: answer.SDP}})
}

// waitOpen returns the raw peer's detached chat channel.
func (r *rawPeer) waitOpen(t *testing.T) datachannel.ReadWriteCloser {
	t.Helper()
	select {
	case raw := <-r.open:
		t.Cleanup(func() { _ = raw.Close() })
		return raw
	case <-time.After(10 * time.Second):
		t.Fatal("raw peer channel did not open")
		return nil
	}
}

// connectRaw wires a Conn with the given side to a rawPeer.
func connectRaw(t *testing.T, s side, verifyTimeout time.Duration) (*peer.Conn, *rawPeer) {
	t.Helper()
	return connectRawWith(t, s, func(c peer.Config) peer.Config { c.VerifyTimeout = verifyTimeout; return c }, false)
}

// connectRawWith wires a Conn with the given side, its config changed by
// mutate, to a rawPeer (a mediaOnly one that never opens SCTP if asked).
func connectRawWith(t *testing.T, s side, mutate func(peer.Config) peer.Config, mediaOnly bool) (*peer.Conn, *rawPeer) {
	t.Helper()
	toRaw, toConn := peertest.NewRelay(t), peertest.NewRelay(t)
	raw := newRawPeerWith(t, toConn.Send, mediaOnly)
	c, err := peer.New(mutate(peer.Config{
		Polite: s.polite, RoomID: peertest.Room, Secret: s.secret, LocalKey: s.key, PeerKey: s.peerKey,
		SendSignal: toRaw.Send, Logger: testLogger(), LoopbackOnly: true,
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	toRaw.Connect(raw)
	toConn.Connect(c)
	toRaw.Open()
	toConn.Open()
	return c, raw
}

// openChannel opens a pre-negotiated channel with the given id on the raw
// peer (call it after waitOpen, once SCTP is up) and returns it detached.
func (r *rawPeer) openChannel(t *testing.T, id peer.ChannelID) datachannel.ReadWriteCloser {
	t.Helper()
	negotiated, sid := true, uint16(id)
	dc, err := r.pc.CreateDataChannel(id.String(), &webrtc.DataChannelInit{Negotiated: &negotiated, ID: &sid})
	if err != nil {
		t.Fatal(err)
	}
	opened := make(chan datachannel.ReadWriteCloser, 1)
	dc.OnOpen(func() {
		if raw, err := dc.Detach(); err == nil {
			opened <- raw
		}
	})
	select {
	case raw := <-opened:
		t.Cleanup(func() { _ = raw.Close() })
		return raw
	case <-time.After(10 * time.Second):
		t.Fatalf("raw peer channel %d did not open", id)
		return nil
	}
}

// transceivers counts the media sections of c's current PeerConnection.
func transceivers(c *peer.Conn) int { return len(c.PC().GetTransceivers()) }

// exchange writes n random bytes on w in one Write and checks r reads them
// intact, using a small read buffer to exercise partial reads.
func exchange(t *testing.T, w io.Writer, r io.Reader, n int) {
	t.Helper()
	data := make([]byte, n)
	_, _ = rand.Read(data)
	errc := make(chan error, 1)
	go func() {
		_, err := w.Write(data)
		errc <- err
	}()
	got := make([]byte, 0, n)
	buf := make([]byte, 1000)
	// Generous: 8 MiB under the race detector on a loaded machine took
	// more than 15 s (and then looked like corruption).
	deadline := time.Now().Add(90 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d bytes arrived in 90 s", len(got), n)
		}
		k, err := r.Read(buf)
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:k]...)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("stream corrupted: got %d bytes, want %d", len(got), n)
	}
}
