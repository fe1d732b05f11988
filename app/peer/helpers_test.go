package peer

import (
	"bytes"
	"context"
	"crypto/ed25519"
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
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/signaling/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testRoom = "useandom26T198340PX75"

func testLogger() *slog.Logger {
	if os.Getenv("PEER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newKey(t *testing.T) ed25519.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func testSecret(b byte) []byte { return bytes.Repeat([]byte{b}, 16) }

// endpoint is anything that takes signals: a *Conn or a test rawPeer.
type endpoint interface {
	HandleSignal(protocol.Signal) error
}

// relay is an in-test signaling server for one direction: it forwards
// signals to a target once the target exists and release is called.
type relay struct {
	ch      chan protocol.Signal
	target  chan endpoint
	release chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newRelay(t *testing.T) *relay {
	t.Helper()
	r := &relay{
		ch:      make(chan protocol.Signal, 4096),
		target:  make(chan endpoint, 1),
		release: make(chan struct{}),
		stop:    make(chan struct{}),
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		var dst endpoint
		select {
		case dst = <-r.target:
		case <-r.stop:
			return
		}
		select {
		case <-r.release:
		case <-r.stop:
			return
		}
		for {
			select {
			case s := <-r.ch:
				_ = dst.HandleSignal(s)
			case <-r.stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(r.stop)
		r.wg.Wait()
	})
	return r
}

func (r *relay) send(s protocol.Signal) error {
	select {
	case r.ch <- s:
	case <-r.stop:
	}
	return nil
}

func (r *relay) connect(dst endpoint) { r.target <- dst }
func (r *relay) open()                { close(r.release) }

// side describes one participant in a test.
type side struct {
	key, peerKey ed25519.PublicKey
	secret       []byte
	polite       bool
	udpBuffer    int
}

// pairOpts controls newPair.
type pairOpts struct {
	hold          bool // create both Conns before any signal flows (forces an offer collision)
	verifyTimeout time.Duration
	// onTrack[0] and onTrack[1] become Config.OnTrack of a and b.
	onTrack [2]func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
}

// newPair creates two Conns wired through in-test relays. Both are closed
// in cleanup.
func newPair(t *testing.T, a, b side, o pairOpts) (*Conn, *Conn) {
	t.Helper()
	ab, ba := newRelay(t), newRelay(t)
	mk := func(s side, out *relay, onTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)) *Conn {
		c, err := New(Config{
			Polite:         s.polite,
			RoomID:         testRoom,
			Secret:         s.secret,
			LocalKey:       s.key,
			PeerKey:        s.peerKey,
			SendSignal:     out.send,
			Logger:         testLogger(),
			LoopbackOnly:   true,
			UDPBufferBytes: s.udpBuffer,
			VerifyTimeout:  o.verifyTimeout,
			OnTrack:        onTrack,
		})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	if !o.hold {
		ab.open()
		ba.open()
	}
	ca := mk(a, ab, o.onTrack[0])
	cb := mk(b, ba, o.onTrack[1])
	ab.connect(cb)
	ba.connect(ca)
	if o.hold {
		// Let both sides make their offers before either sees the other's.
		waitSignalingState(t, ca, webrtc.SignalingStateHaveLocalOffer)
		waitSignalingState(t, cb, webrtc.SignalingStateHaveLocalOffer)
		ab.open()
		ba.open()
	}
	return ca, cb
}

func waitSignalingState(t *testing.T, c *Conn, want webrtc.SignalingState) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.current().SignalingState() != want {
		if time.Now().After(deadline) {
			t.Fatalf("signaling state %s, want %s", c.current().SignalingState(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// keyedPair returns matching sides for a well-behaved A (impolite) and B (polite).
func keyedPair(t *testing.T) (side, side) {
	ka, kb := newKey(t), newKey(t)
	return side{key: ka, peerKey: kb, secret: testSecret(7)},
		side{key: kb, peerKey: ka, secret: testSecret(7), polite: true}
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
	cert, der, err := newCertificate()
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
	negotiated, id := true, ChatChannelID
	dc, err := pc.CreateDataChannel(ChatChannelLabel, &webrtc.DataChannelInit{Negotiated: &negotiated, ID: &id})
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
func connectRaw(t *testing.T, s side, verifyTimeout time.Duration) (*Conn, *rawPeer) {
	t.Helper()
	toRaw, toConn := newRelay(t), newRelay(t)
	raw := newRawPeer(t, toConn.send)
	c, err := New(Config{
		Polite: s.polite, RoomID: testRoom, Secret: s.secret, LocalKey: s.key, PeerKey: s.peerKey,
		SendSignal: toRaw.send, Logger: testLogger(), LoopbackOnly: true, VerifyTimeout: verifyTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	toRaw.connect(raw)
	toConn.connect(c)
	toRaw.open()
	toConn.open()
	return c, raw
}

// fileStreams returns the file streams of two verified Conns.
func fileStreams(t *testing.T, a, b *Conn) (io.ReadWriteCloser, io.ReadWriteCloser) {
	t.Helper()
	fa, err := a.FileStream()
	if err != nil {
		t.Fatal(err)
	}
	fb, err := b.FileStream()
	if err != nil {
		t.Fatal(err)
	}
	return fa, fb
}

// openChannel opens a pre-negotiated channel with the given id on the raw
// peer (call it after waitOpen, once SCTP is up) and returns it detached.
func (r *rawPeer) openChannel(t *testing.T, id uint16, label string) datachannel.ReadWriteCloser {
	t.Helper()
	negotiated := true
	dc, err := r.pc.CreateDataChannel(label, &webrtc.DataChannelInit{Negotiated: &negotiated, ID: &id})
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

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// transceivers counts the media sections of c's current PeerConnection.
func transceivers(c *Conn) int { return len(c.current().GetTransceivers()) }

// requestsRead is how many well-formed offer requests c has read.
func requestsRead(c *Conn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offerRequests
}
