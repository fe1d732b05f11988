package peer

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/webrtc/v4"

	"github.com/parley-chat/parley/signaling/protocol"
)

// Route says how the selected ICE candidate pair reaches the peer.
type Route string

// Routes. Route() returns "" before a candidate pair is selected.
const (
	RouteDirect  Route = "direct"
	RouteRelayed Route = "relayed"
)

// State is the PeerConnection's connection state.
type State string

// States reported on States().
const (
	StateConnecting   State = "connecting"
	StateConnected    State = "connected"
	StateDisconnected State = "disconnected"
	StateFailed       State = "failed"
	StateClosed       State = "closed"
)

var (
	// ErrClosed is returned by WaitVerified and OpenStream once Close was
	// called, and by HandleSignal after Close.
	ErrClosed = errors.New("peer: connection closed")
	// ErrConnectionFailed is returned by WaitVerified when ICE/DTLS failed
	// before verification completed.
	ErrConnectionFailed = errors.New("peer: connection failed")
)

// Channel ids of the negotiated data channels. Both sides create them with
// the same id, so no in-band open handshake is needed.
const (
	ChatChannelID    uint16 = 0
	ChatChannelLabel        = "parley-chat"
	// FilesChannelID carries file transfers (see FileStream). It is
	// pre-negotiated like the chat channel, so it exists on both sides
	// before SCTP is up and there is no open race.
	FilesChannelID    uint16 = 2
	FilesChannelLabel        = "parley-files"
	// CallChannelID carries call control (app/call, see CallStream),
	// pre-negotiated for the same reason: a call offer sent the moment
	// the peer is verified must not race the other side's channel setup.
	CallChannelID    uint16 = 6
	CallChannelLabel        = "parley-call"
)

const (
	// DefaultVerifyTimeout bounds the tag exchange once the chat channel is open.
	DefaultVerifyTimeout = 10 * time.Second
	// verifyAfterConnect bounds the whole verification once ICE and DTLS
	// are up: SCTP, the chat channel and both tags. A man in the middle
	// that completes DTLS but never opens SCTP would otherwise leave the
	// connection "connected", unverified, for good. Generous for a lossy
	// link, where SCTP's first packets may be retransmitted a few times.
	verifyAfterConnect = 30 * time.Second
	// sctpReceiveBuffer is the SCTP receive window (pion's default is 1 MiB,
	// which caps a real link at about 1 MiB per round trip).
	sctpReceiveBuffer = 8 << 20
	// maxPendingCandidates bounds candidates buffered before the first
	// remote description.
	maxPendingCandidates = 128
	// maxQueuedSignals bounds incoming signals not yet processed.
	maxQueuedSignals = 512
)

// Config configures one peer connection.
type Config struct {
	// ICEServers come from the signaling server's joined message.
	ICEServers []protocol.ICEServer
	// RelayOnly restricts ICE to TURN relay candidates (hides our address).
	RelayOnly bool
	// Polite is the perfect-negotiation role; the two sides must disagree.
	// The caller decides it from the order of the identity keys.
	Polite bool
	// RoomID and Secret (the 16-byte room link secret) feed the peer
	// verification. The secret never leaves this process.
	RoomID string
	Secret []byte
	// LocalKey is our identity key, PeerKey the one we expect the peer to
	// use; both are bound into the verification tags.
	LocalKey, PeerKey ed25519.PublicKey
	// SendSignal hands a signal to the signaling connection. It is called
	// from one goroutine, in order, and may block.
	SendSignal func(protocol.Signal) error
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger

	// LoopbackOnly gathers host candidates on 127.0.0.1 only, without mDNS:
	// for tests and end-to-end runs on one machine.
	LoopbackOnly bool
	// UDPBufferBytes, when positive, gives the PeerConnection its own UDP
	// sockets with this kernel buffer size (past net.core.rmem_max only
	// with CAP_NET_ADMIN), which avoids kernel drops on fast transfers. On
	// Linux these sockets also batch with UDP GSO/GRO (udp_linux.go).
	// Host candidates only use the mux; STUN/TURN keep working.
	UDPBufferBytes int
	// VerifyTimeout overrides DefaultVerifyTimeout (tests).
	VerifyTimeout time.Duration
	// verifyAfterConnect overrides verifyAfterConnect (a test-only seam).
	verifyAfterConnect time.Duration
	// OnTrack, when set, receives each remote media track of the current
	// PeerConnection. It runs on a pion goroutine and must not block long.
	OnTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
}

// Conn is one PeerConnection to the other participant.
type Conn struct {
	cfg     Config
	log     *slog.Logger
	cert    webrtc.Certificate
	localFP []byte // sha-256 of our DTLS certificate (DER)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// feedback is the other side's transport-wide feedback on our media
	// (LastFeedback), across PeerConnection generations.
	feedback feedbackState

	// mu guards the fields below it.
	mu       sync.Mutex
	pc       *webrtc.PeerConnection
	chatDC   *webrtc.DataChannel
	filesDC  *webrtc.DataChannel
	negDC    *webrtc.DataChannel
	negRaw   io.ReadWriter // the detached negotiate channel, once open
	onTrack  func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
	bwe      cc.BandwidthEstimator // of the current PeerConnection
	mux      io.Closer
	gen      uint64 // PeerConnection generation; callbacks of older ones are ignored
	session  string // random id of the current generation, sent with every signal
	closed   bool
	states   chan State
	inQ      []protocol.Signal
	outQ     []protocol.Signal
	verified bool

	inNotify  chan struct{}
	outNotify chan struct{}
	negNeeded chan uint64
	chatOpen  chan *webrtc.DataChannel
	filesOpen chan *webrtc.DataChannel
	callOpen  chan *webrtc.DataChannel
	callDC    *webrtc.DataChannel
	callS     io.ReadWriteCloser // the call stream, once CallStream opened it

	// Offer requests of the polite side (impolite side only, media.go).
	pendingRequest *offerRequest
	offerRequests  int // well-formed requests read (tests)
	requestNotify  chan struct{}
	servedRequests atomic.Int64 // requests turned into offers (tests)
	refusedOffers  atomic.Int64 // remote offers over maxMediaSections (tests)

	// Owned by the negotiation loop goroutine.
	remoteSession string
	ignoreOffer   bool
	pendingCands  []protocol.Signal

	// The verification clock, started when the connection first comes up.
	verifyBy      time.Time     // zero until then; guarded by mu
	verifyTimer   *time.Timer   // guarded by mu
	verifyExpired chan struct{} // closed at verifyBy

	doneOnce sync.Once
	done     chan struct{} // closed when verification finished either way
	stream   io.ReadWriteCloser
	files    io.ReadWriteCloser // the file stream; set before done is closed
	doneErr  error

	closeOnce sync.Once
	closeErr  error

	// sctpGone is closed when the current PeerConnection's SCTP
	// association ends (the peer closed it): nothing more will be
	// acknowledged, so Close stops draining.
	sctpGone <-chan struct{}
}

// New creates the PeerConnection and the negotiated chat channel, and
// starts negotiating: the offer goes out through cfg.SendSignal once pion
// asks for negotiation. Feed the other side's signals to HandleSignal.
func New(cfg Config) (*Conn, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.VerifyTimeout <= 0 {
		cfg.VerifyTimeout = DefaultVerifyTimeout
	}
	if cfg.verifyAfterConnect <= 0 {
		cfg.verifyAfterConnect = verifyAfterConnect
	}
	cert, der, err := newCertificate()
	if err != nil {
		return nil, err
	}
	fp := sha256.Sum256(der)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		cfg:           cfg,
		log:           logger.With("component", "peer", "room", roomHash(cfg.RoomID), "polite", cfg.Polite),
		cert:          cert,
		onTrack:       cfg.OnTrack,
		localFP:       fp[:],
		ctx:           ctx,
		cancel:        cancel,
		states:        make(chan State, 16),
		inNotify:      make(chan struct{}, 1),
		outNotify:     make(chan struct{}, 1),
		negNeeded:     make(chan uint64, 1),
		chatOpen:      make(chan *webrtc.DataChannel, 1),
		filesOpen:     make(chan *webrtc.DataChannel, 1),
		callOpen:      make(chan *webrtc.DataChannel, 1),
		requestNotify: make(chan struct{}, 1),
		verifyExpired: make(chan struct{}),
		done:          make(chan struct{}),
	}
	if err := c.buildPC(); err != nil {
		cancel()
		return nil, err
	}
	c.wg.Add(4)
	go func() { defer c.wg.Done(); c.negotiationLoop() }()
	go func() { defer c.wg.Done(); c.sendLoop() }()
	go func() { defer c.wg.Done(); c.verify() }()
	go func() { defer c.wg.Done(); c.serveOfferRequests() }()
	return c, nil
}

func checkConfig(cfg Config) error {
	switch {
	case len(cfg.Secret) != 16:
		return fmt.Errorf("peer: room secret must be 16 bytes, got %d", len(cfg.Secret))
	case len(cfg.LocalKey) != ed25519.PublicKeySize || len(cfg.PeerKey) != ed25519.PublicKeySize:
		return errors.New("peer: LocalKey and PeerKey must be Ed25519 public keys")
	case cfg.RoomID == "":
		return errors.New("peer: empty room id")
	case cfg.SendSignal == nil:
		return errors.New("peer: SendSignal is required")
	}
	return nil
}

// newCertificate makes the DTLS certificate this Conn uses for every
// PeerConnection generation, so LocalFingerprint is stable.
func newCertificate() (webrtc.Certificate, []byte, error) {
	key, der, err := newSelfSigned()
	if err != nil {
		return webrtc.Certificate{}, nil, err
	}
	x, err := x509.ParseCertificate(der)
	if err != nil {
		return webrtc.Certificate{}, nil, fmt.Errorf("peer: parse DTLS certificate: %w", err)
	}
	return webrtc.CertificateFromX509(key, x), der, nil
}

// newSelfSigned makes a fresh ECDSA P-256 key and a self-signed
// certificate for it (DER). Peers check it by fingerprint, never by name.
func newSelfSigned() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("peer: generate DTLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("peer: certificate serial: %w", err)
	}
	tpl := x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "parley"},
		Issuer:       pkix.Name{CommonName: "parley"},
		NotBefore:    time.Now().Add(-24 * time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, &tpl, &tpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("peer: create DTLS certificate: %w", err)
	}
	return key, der, nil
}

// roomHash is a short, non-reversible label for logs: the room id is a
// capability and must not be logged in full.
func roomHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:4])
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// settingEngine builds the pion settings for one PeerConnection; the mux it
// may create belongs to that PeerConnection.
func (c *Conn) settingEngine() (webrtc.SettingEngine, io.Closer, error) {
	var se webrtc.SettingEngine
	se.DetachDataChannels()
	se.SetSCTPMaxReceiveBufferSize(sctpReceiveBuffer)
	if c.cfg.LoopbackOnly {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(c.ipFilter())
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if c.cfg.UDPBufferBytes <= 0 {
		return se, nil, nil
	}
	mux, unet, err := c.hostMux()
	if err != nil {
		// The sockets are an optimization: pion's own still connect.
		c.log.Warn("peer: no UDP mux, using pion's default sockets", "err", err)
		return se, nil, nil
	}
	se.SetICEUDPMux(mux)
	se.SetNet(&relayNet{Net: unet.Net, buffer: c.cfg.UDPBufferBytes})
	return se, mux, nil
}

// hostMux opens the UDP sockets for host candidates (one per usable local
// address) with cfg.UDPBufferBytes of kernel buffer and, on Linux, batched
// sends and reads. The caller closes the mux.
func (c *Conn) hostMux() (*ice.MultiUDPMuxDefault, *udpNet, error) {
	unet, err := newUDPNet(c.cfg.UDPBufferBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("peer: network interfaces: %w", err)
	}
	// The mux binds every address it keeps, and one failed bind fails it
	// all: keep only addresses that can be bound now (not an IPv6 address
	// still in duplicate address detection, nor a link-local one, which
	// needs a zone the filter is not given).
	ipFilter := c.ipFilter()
	keep := func(ip net.IP) bool { return (ipFilter == nil || ipFilter(ip)) && canBind(ip) }
	opts := []ice.UDPMuxFromPortOption{ice.UDPMuxFromPortWithNet(unet), ice.UDPMuxFromPortWithIPFilter(keep)}
	if c.cfg.LoopbackOnly {
		opts = append(opts, ice.UDPMuxFromPortWithLoopback(), ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4))
	}
	mux, err := ice.NewMultiUDPMuxFromPort(0, opts...)
	if err != nil {
		return nil, nil, err
	}
	return mux, unet, nil
}

// ipFilter is the filter of local addresses for host candidates: IPv4
// loopback only with LoopbackOnly, else nil (every address).
func (c *Conn) ipFilter() func(net.IP) bool {
	if !c.cfg.LoopbackOnly {
		return nil
	}
	return func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil }
}

// canBind reports whether a UDP socket can be bound to ip right now.
func canBind(ip net.IP) bool {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// buildPC creates a new PeerConnection generation with its negotiated chat
// channel and makes it current. The caller closes the previous one.
func (c *Conn) buildPC() error {
	se, mux, err := c.settingEngine()
	if err != nil {
		return err
	}
	var bwe cc.BandwidthEstimator
	api, err := newAPI(se, func(e cc.BandwidthEstimator) { bwe = e }, &c.feedback)
	if err != nil {
		closeMux(mux)
		return err
	}
	conf := webrtc.Configuration{
		ICEServers:   toICEServers(c.cfg.ICEServers),
		Certificates: []webrtc.Certificate{c.cert},
	}
	if c.cfg.RelayOnly {
		conf.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := api.NewPeerConnection(conf)
	if err != nil {
		closeMux(mux)
		return fmt.Errorf("peer: new PeerConnection: %w", err)
	}

	c.mu.Lock()
	if c.closed {
		// Close ran while this one was being built (a polite rebuild
		// racing Close): it must not outlive the Conn.
		c.mu.Unlock()
		_ = pc.Close()
		closeMux(mux)
		return ErrClosed
	}
	c.gen++
	gen := c.gen
	session := randomID()
	c.pc, c.mux, c.session, c.bwe = pc, mux, session, bwe
	c.sctpGone = sctpClosed(pc)
	c.mu.Unlock()

	pc.OnNegotiationNeeded(func() {
		select {
		case c.negNeeded <- gen:
		default:
		}
	})
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil || !c.isCurrent(gen) {
			return
		}
		init := cand.ToJSON()
		c.enqueueOut(protocol.Signal{Session: session, Candidate: &protocol.ICECandidate{
			Candidate:        init.Candidate,
			SDPMid:           init.SDPMid,
			SDPMLineIndex:    init.SDPMLineIndex,
			UsernameFragment: init.UsernameFragment,
		}})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if !c.isCurrent(gen) {
			return
		}
		c.log.Info("peer: connection state", "state", s.String())
		c.pushState(mapState(s))
		if s == webrtc.PeerConnectionStateConnected {
			c.startVerifyClock()
		}
		if s == webrtc.PeerConnectionStateFailed {
			c.finish(nil, nil, ErrConnectionFailed)
		}
	})

	dc, err := c.createNegotiated(pc, gen, ChatChannelID, ChatChannelLabel, c.chatOpen)
	if err != nil {
		_ = pc.Close()
		closeMux(mux)
		return err
	}
	c.mu.Lock()
	c.chatDC = dc
	c.mu.Unlock()
	fdc, err := c.createNegotiated(pc, gen, FilesChannelID, FilesChannelLabel, c.filesOpen)
	if err != nil {
		_ = pc.Close()
		closeMux(mux)
		return err
	}
	cdc, err := c.createNegotiated(pc, gen, CallChannelID, CallChannelLabel, c.callOpen)
	if err != nil {
		_ = pc.Close()
		closeMux(mux)
		return err
	}
	ndc, err := c.setupNegotiate(pc, gen)
	if err != nil {
		_ = pc.Close()
		closeMux(mux)
		return err
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		c.mu.Lock()
		fn, current := c.onTrack, c.gen == gen
		c.mu.Unlock()
		if current && fn != nil {
			fn(t, r)
		}
	})
	c.mu.Lock()
	c.filesDC, c.negDC, c.callDC = fdc, ndc, cdc
	c.mu.Unlock()
	return nil
}

// createNegotiated creates one pre-negotiated, ordered, reliable channel on
// pc and reports it on opened once it opens, if gen is still current.
func (c *Conn) createNegotiated(pc *webrtc.PeerConnection, gen uint64, id uint16, label string, opened chan *webrtc.DataChannel) (*webrtc.DataChannel, error) {
	negotiated, ordered := true, true
	dc, err := pc.CreateDataChannel(label, &webrtc.DataChannelInit{
		Negotiated: &negotiated, ID: &id, Ordered: &ordered,
	})
	if err != nil {
		return nil, fmt.Errorf("peer: create channel %s: %w", label, err)
	}
	dc.OnOpen(func() {
		if !c.isCurrent(gen) {
			return
		}
		select {
		case opened <- dc:
		default:
		}
	})
	return dc, nil
}

func closeMux(m io.Closer) {
	if m != nil {
		_ = m.Close()
	}
}

func toICEServers(in []protocol.ICEServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(in))
	for _, s := range in {
		out = append(out, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}

func mapState(s webrtc.PeerConnectionState) State {
	switch s {
	case webrtc.PeerConnectionStateConnected:
		return StateConnected
	case webrtc.PeerConnectionStateDisconnected:
		return StateDisconnected
	case webrtc.PeerConnectionStateFailed:
		return StateFailed
	case webrtc.PeerConnectionStateClosed:
		return StateClosed
	default:
		return StateConnecting
	}
}

func (c *Conn) isCurrent(gen uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed && c.gen == gen
}

func (c *Conn) current() *webrtc.PeerConnection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pc
}

// pushState queues s without ever blocking: when the buffer is full the
// oldest state is dropped.
func (c *Conn) pushState(s State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.pushStateLocked(s)
}

func (c *Conn) pushStateLocked(s State) {
	for {
		select {
		case c.states <- s:
			return
		default:
		}
		select {
		case <-c.states:
		default:
		}
	}
}

// States returns connection state changes. The channel is buffered, drops
// the oldest entry when full, and is closed (after StateClosed) by Close.
func (c *Conn) States() <-chan State { return c.states }

// LocalFingerprint returns the SHA-256 of our DTLS certificate (DER).
func (c *Conn) LocalFingerprint() []byte {
	return append([]byte(nil), c.localFP...)
}

// Route reports whether the selected candidate pair is relayed through
// TURN on either side. It returns "" while no pair is selected.
func (c *Conn) Route() Route {
	pc := c.current()
	pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return ""
	}
	if pair.Local.Typ == webrtc.ICECandidateTypeRelay || pair.Remote.Typ == webrtc.ICECandidateTypeRelay {
		return RouteRelayed
	}
	return RouteDirect
}

// WaitVerified blocks until the connection is up and both verification
// tags were exchanged and checked, and returns the chat stream. It returns
// an error wrapping ErrVerifyFailed when the peer failed verification,
// ErrConnectionFailed or ErrClosed, or ctx's error.
func (c *Conn) WaitVerified(ctx context.Context) (io.ReadWriteCloser, error) {
	select {
	case <-c.done:
		return c.stream, c.doneErr
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// FileStream returns the pre-negotiated files channel (FilesChannelID) as
// a byte stream. It is available only once WaitVerified succeeded, so
// nothing is ever written or read on it before the peer is verified; it
// returns ErrClosed after Close and an error before verification.
func (c *Conn) FileStream() (io.ReadWriteCloser, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	select {
	case <-c.done:
	default:
		return nil, errors.New("peer: file stream requested before verification")
	}
	if c.doneErr != nil {
		return nil, fmt.Errorf("peer: file stream unavailable: %w", c.doneErr)
	}
	return c.files, nil
}

// CallStream returns the pre-negotiated call control channel
// (CallChannelID) as a stream of small messages, once the peer is
// verified; it waits for the channel to open (ctx bounds the wait).
func (c *Conn) CallStream(ctx context.Context) (io.ReadWriteCloser, error) {
	c.mu.Lock()
	closed, verified, s := c.closed, c.verified, c.callS
	c.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case s != nil:
		return s, nil
	case !verified:
		return nil, errors.New("peer: call stream requested before verification")
	}
	var dc *webrtc.DataChannel
	select {
	case dc = <-c.callOpen:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, ErrClosed
	}
	raw, err := dc.Detach()
	if err != nil {
		return nil, fmt.Errorf("peer: detach call channel: %w", err)
	}
	st := newStream(dc, raw, chatWriteMessage)
	c.mu.Lock()
	c.callS = st
	c.mu.Unlock()
	return st, nil
}

// finish records the verification result once.
func (c *Conn) finish(s, files io.ReadWriteCloser, err error) {
	c.doneOnce.Do(func() {
		c.stream, c.files, c.doneErr = s, files, err
		c.mu.Lock()
		c.verified = err == nil
		if c.verifyTimer != nil {
			c.verifyTimer.Stop() // the verdict is in
		}
		c.mu.Unlock()
		close(c.done)
	})
}

// HandleSignal queues a description or candidate from the other side. It
// does not block on pion; problems with the signal's content are logged.
func (c *Conn) HandleSignal(s protocol.Signal) error {
	if (s.Description == nil) == (s.Candidate == nil) {
		if s.App != nil {
			return nil // application signals are not ours
		}
		return errors.New("peer: signal must carry exactly one of description or candidate")
	}
	if s.Description != nil && s.Description.Type != "offer" && s.Description.Type != "answer" {
		return fmt.Errorf("peer: unexpected description type %q", s.Description.Type)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if len(c.inQ) >= maxQueuedSignals {
		return errors.New("peer: too many queued signals")
	}
	c.inQ = append(c.inQ, s)
	select {
	case c.inNotify <- struct{}{}:
	default:
	}
	return nil
}

func (c *Conn) enqueueOut(s protocol.Signal) {
	c.mu.Lock()
	c.outQ = append(c.outQ, s)
	c.mu.Unlock()
	select {
	case c.outNotify <- struct{}{}:
	default:
	}
}

// sendLoop hands outgoing signals to cfg.SendSignal in order.
func (c *Conn) sendLoop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.outNotify:
		}
		c.mu.Lock()
		q := c.outQ
		c.outQ = nil
		c.mu.Unlock()
		for _, s := range q {
			if c.ctx.Err() != nil {
				return
			}
			if err := c.cfg.SendSignal(s); err != nil {
				// Usually the session is ending (signaling closed first);
				// a real failure shows up as a connection that never comes.
				c.log.Debug("peer: send signal", "err", err)
			}
		}
	}
}

// negotiationLoop owns the signaling state: it makes offers when pion asks
// for negotiation and applies the other side's signals, one at a time, so
// the W3C "makingOffer" flag reduces to "signaling state is not stable".
func (c *Conn) negotiationLoop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case gen := <-c.negNeeded:
			c.makeOffer(gen)
		case <-c.inNotify:
			c.mu.Lock()
			q := c.inQ
			c.inQ = nil
			c.mu.Unlock()
			for _, s := range q {
				if c.ctx.Err() != nil {
					return
				}
				if s.Description != nil {
					c.handleDescription(s.Session, *s.Description)
					c.offerPending()
				} else {
					c.handleCandidate(s)
				}
			}
		}
	}
}

func (c *Conn) makeOffer(gen uint64) {
	c.mu.Lock()
	pc, session, stale := c.pc, c.session, c.gen != gen
	c.mu.Unlock()
	if stale || pc.SignalingState() != webrtc.SignalingStateStable {
		return
	}
	// Our data channels are negotiated, so once the first exchange is done
	// there is nothing to renegotiate until media arrives (a late event
	// from before the exchange would only cause a redundant round).
	if pc.CurrentLocalDescription() != nil && len(pc.GetTransceivers()) == 0 {
		return
	}
	// After the first exchange only the impolite side offers; the polite
	// side asks it to (pion cannot roll back, so a collision would cost
	// the PeerConnection and the call with it).
	if c.cfg.Polite && pc.CurrentRemoteDescription() != nil {
		if needsOffer(pc) {
			c.requestOffer()
		}
		return
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		c.log.Warn("peer: create offer", "err", err)
		return
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		c.log.Warn("peer: set local offer", "err", err)
		return
	}
	c.log.Debug("peer: sending offer")
	c.enqueueOut(protocol.Signal{Session: session, Description: &protocol.SessionDescription{Type: "offer", SDP: offer.SDP}})
}

func (c *Conn) handleDescription(session string, d protocol.SessionDescription) {
	if c.remoteSession != "" && session != c.remoteSession {
		c.log.Warn("peer: dropping description of another remote session")
		return
	}
	pc := c.current()
	switch d.Type {
	case "offer":
		// Every m-line becomes a transceiver: refuse an offer with more
		// than a call could ever need (a verified peer may still be hostile).
		if n := mediaSections(d.SDP); n > maxMediaSections {
			c.log.Warn("peer: refusing an offer with too many media sections", "count", n, "max", maxMediaSections)
			c.refusedOffers.Add(1)
			return
		}
		collision := pc.SignalingState() != webrtc.SignalingStateStable
		c.ignoreOffer = !c.cfg.Polite && collision
		if c.ignoreOffer {
			c.log.Debug("peer: offer collision, impolite side ignores the remote offer")
			return
		}
		if collision {
			// pion v4.2.26 cannot roll back a local offer (SetLocalDescription
			// rollback is rejected from have-local-offer). Before the first
			// exchange a rollback would return us to a fresh PeerConnection,
			// so build exactly that: a new generation with the same
			// certificate and a new session id, so the other side drops the
			// candidates of the abandoned offer.
			if pc.CurrentRemoteDescription() != nil {
				c.log.Error("peer: renegotiation offer collision cannot be resolved without rollback; dropping remote offer")
				return
			}
			c.log.Debug("peer: offer collision, polite side restarts its PeerConnection")
			old := pc
			c.mu.Lock()
			oldMux := c.mux
			c.mu.Unlock()
			if err := c.buildPC(); err != nil {
				c.log.Error("peer: rebuild PeerConnection", "err", err)
				c.finish(nil, nil, err)
				return
			}
			_ = old.Close()
			closeMux(oldMux)
			pc = c.current()
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: d.SDP}); err != nil {
			c.log.Warn("peer: set remote offer", "err", err)
			return
		}
		c.acceptRemoteSession(session, pc)
		answer, err := pc.CreateAnswer(nil)
		if err != nil {
			c.log.Warn("peer: create answer", "err", err)
			return
		}
		if err := pc.SetLocalDescription(answer); err != nil {
			c.log.Warn("peer: set local answer", "err", err)
			return
		}
		c.mu.Lock()
		local := c.session
		c.mu.Unlock()
		c.log.Debug("peer: sending answer")
		c.enqueueOut(protocol.Signal{Session: local, Description: &protocol.SessionDescription{Type: "answer", SDP: answer.SDP}})
	case "answer":
		if pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
			c.log.Debug("peer: dropping answer in state", "state", pc.SignalingState().String())
			return
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: d.SDP}); err != nil {
			c.log.Warn("peer: set remote answer", "err", err)
			return
		}
		c.acceptRemoteSession(session, pc)
	}
}

// acceptRemoteSession pins the remote session on the first applied
// description and applies the candidates buffered until then.
func (c *Conn) acceptRemoteSession(session string, pc *webrtc.PeerConnection) {
	if c.remoteSession != "" {
		return
	}
	c.remoteSession = session
	pending := c.pendingCands
	c.pendingCands = nil
	dropped := 0
	for _, s := range pending {
		if s.Session != session {
			dropped++
			continue
		}
		c.addCandidate(pc, s.Candidate)
	}
	if dropped > 0 {
		c.log.Debug("peer: dropped candidates of an abandoned remote session", "count", dropped)
	}
}

func (c *Conn) handleCandidate(s protocol.Signal) {
	if c.remoteSession == "" {
		if len(c.pendingCands) >= maxPendingCandidates {
			c.log.Warn("peer: too many early candidates, dropping one")
			return
		}
		c.pendingCands = append(c.pendingCands, s)
		return
	}
	if s.Session != c.remoteSession {
		return
	}
	c.addCandidate(c.current(), s.Candidate)
}

func (c *Conn) addCandidate(pc *webrtc.PeerConnection, cand *protocol.ICECandidate) {
	err := pc.AddICECandidate(webrtc.ICECandidateInit{
		Candidate:        cand.Candidate,
		SDPMid:           cand.SDPMid,
		SDPMLineIndex:    cand.SDPMLineIndex,
		UsernameFragment: cand.UsernameFragment,
	})
	if err != nil && !c.ignoreOffer {
		c.log.Debug("peer: add remote candidate", "err", err)
	}
}

// startVerifyClock starts the bound on verification once the connection
// is up (the first time only): past it, verify gives up with
// ErrVerifyFailed.
func (c *Conn) startVerifyClock() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || !c.verifyBy.IsZero() {
		return
	}
	select {
	case <-c.done:
		return // already decided
	default:
	}
	d := c.cfg.verifyAfterConnect
	c.verifyBy = time.Now().Add(d)
	c.verifyTimer = time.AfterFunc(d, func() { close(c.verifyExpired) })
}

// verifyDeadline is when verification must be complete, or zero while the
// connection was never up.
func (c *Conn) verifyDeadline() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.verifyBy
}

// verify waits for the chat channel to open, exchanges verification tags
// on it and only then releases it as the chat stream.
func (c *Conn) verify() {
	var dc *webrtc.DataChannel
	select {
	case dc = <-c.chatOpen:
	case <-c.verifyExpired:
		// Connected (DTLS is up), but the chat channel never opened.
		err := fmt.Errorf("%w: connected, but the chat channel did not open within %s", ErrVerifyFailed, c.cfg.verifyAfterConnect)
		c.log.Warn("peer: verification failed", "err", err)
		if pc := c.current(); pc != nil {
			_ = pc.Close()
		}
		c.finish(nil, nil, err)
		return
	case <-c.ctx.Done():
		c.finish(nil, nil, ErrClosed)
		return
	}
	s, err := c.exchangeTags(dc)
	if err != nil {
		if errors.Is(err, ErrVerifyFailed) {
			c.log.Warn("peer: verification failed", "err", err)
		} else {
			c.log.Debug("peer: tag exchange cut short", "err", err)
		}
		// Let our own tag reach the peer before tearing down, so it fails
		// on the mismatch at once instead of waiting for its timeout.
		flushDeadline := time.Now().Add(time.Second)
		for dc.BufferedAmount() > 0 && time.Now().Before(flushDeadline) && c.ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		if pc := c.current(); pc != nil {
			_ = pc.Close()
		}
		c.mu.Lock()
		closing := c.closed
		c.mu.Unlock()
		if closing && !errors.Is(err, ErrVerifyFailed) {
			err = ErrClosed // our own Close cut the exchange short
		}
		// A detected mismatch stays VERIFY_FAILED even if Close came in
		// meanwhile (Close waits for this goroutine before it finishes).
		c.finish(nil, nil, err)
		return
	}
	files, err := c.openFiles()
	if err != nil {
		c.log.Warn("peer: files channel", "err", err)
		_ = s.Close()
		if pc := c.current(); pc != nil {
			_ = pc.Close()
		}
		c.finish(nil, nil, err)
		return
	}
	c.log.Info("peer: verified")
	c.finish(s, files, nil)
}

// openFiles waits for the pre-negotiated files channel of the current
// generation to open (it opens with the chat channel, when SCTP is up) and
// wraps it as a stream with large messages for throughput.
func (c *Conn) openFiles() (io.ReadWriteCloser, error) {
	st, err := c.waitNegotiated(context.Background(), c.filesOpen, "files", filesWriteMessage)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return st, nil
}

// waitNegotiated waits (ctx, Close and VerifyTimeout bound it) for a
// pre-negotiated channel to be reported open on opened, and wraps it as a
// stream of messages of at most maxWrite bytes.
func (c *Conn) waitNegotiated(ctx context.Context, opened <-chan *webrtc.DataChannel, name string, maxWrite int) (*stream, error) {
	var dc *webrtc.DataChannel
	select {
	case dc = <-opened:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, ErrClosed
	case <-time.After(c.cfg.VerifyTimeout):
		return nil, fmt.Errorf("peer: %s channel did not open within %s", name, c.cfg.VerifyTimeout)
	}
	raw, err := dc.Detach()
	if err != nil {
		return nil, fmt.Errorf("peer: detach %s channel: %w", name, err)
	}
	return newStream(dc, raw, maxWrite), nil
}

func (c *Conn) exchangeTags(dc *webrtc.DataChannel) (_ io.ReadWriteCloser, err error) {
	raw, err := dc.DetachWithDeadline()
	if err != nil {
		return nil, fmt.Errorf("peer: detach chat channel: %w", err)
	}
	defer func() {
		// Clearing the deadline also stops sctp's deadline timer goroutine,
		// which would otherwise outlive the stream by up to VerifyTimeout.
		_ = raw.SetReadDeadline(time.Time{})
		if err != nil {
			_ = raw.Close()
		}
	}()
	remoteCert := c.current().SCTP().Transport().GetRemoteCertificate()
	if len(remoteCert) == 0 {
		return nil, fmt.Errorf("%w: no remote DTLS certificate", ErrVerifyFailed)
	}
	sum := sha256.Sum256(remoteCert)
	remoteFP := sum[:]
	ours, err := computeTag(c.cfg.Secret, c.cfg.RoomID, c.cfg.LocalKey, c.localFP, remoteFP)
	if err != nil {
		return nil, err
	}
	want, err := computeTag(c.cfg.Secret, c.cfg.RoomID, c.cfg.PeerKey, remoteFP, c.localFP)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.cfg.VerifyTimeout)
	if by := c.verifyDeadline(); !by.IsZero() && by.Before(deadline) {
		deadline = by
	}
	if err := raw.SetReadDeadline(deadline); err != nil {
		return nil, fmt.Errorf("peer: set verify deadline: %w", err)
	}
	if _, err := raw.Write(tagFrame(ours)); err != nil {
		// The channel died under us: a broken connection, not a proof
		// of anyone in the middle.
		return nil, fmt.Errorf("%w: send tag: %v", ErrConnectionFailed, err)
	}
	buf := make([]byte, 2*tagFrameLen) // room to notice an oversized frame
	n, err := raw.Read(buf)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("%w: no tag from peer in time (%s after the chat channel opened, %s after connecting)", ErrVerifyFailed, c.cfg.VerifyTimeout, c.cfg.verifyAfterConnect)
		}
		// EOF, abort, closed: the peer hung up or restarted mid-exchange.
		return nil, fmt.Errorf("%w: reading the peer's tag: %v", ErrConnectionFailed, err)
	}
	if err := checkTagFrame(buf[:n], want); err != nil {
		return nil, err
	}
	return newStream(dc, raw, chatWriteMessage), nil
}

// OpenStream opens another negotiated data channel with a fixed id as a
// byte stream, for features such as file transfer. Both sides must open
// the same id before either writes on it (agree on that over the chat
// stream), and only after verification. The id must not be ChatChannelID
// or FilesChannelID.
func (c *Conn) OpenStream(ctx context.Context, id uint16, label string) (io.ReadWriteCloser, error) {
	if id == ChatChannelID || id == FilesChannelID || id == CallChannelID || id == NegotiateChannelID {
		return nil, fmt.Errorf("peer: channel id %d is reserved", id)
	}
	return c.openStream(ctx, id, label)
}

// openStream opens a negotiated channel without checking the id.
func (c *Conn) openStream(ctx context.Context, id uint16, label string) (*stream, error) {
	c.mu.Lock()
	pc, verified, closed := c.pc, c.verified, c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if !verified {
		return nil, errors.New("peer: open stream before verification")
	}
	negotiated, ordered := true, true
	opened := make(chan struct{})
	dc, err := pc.CreateDataChannel(label, &webrtc.DataChannelInit{Negotiated: &negotiated, ID: &id, Ordered: &ordered})
	if err != nil {
		return nil, fmt.Errorf("peer: create channel %d: %w", id, err)
	}
	var once sync.Once
	dc.OnOpen(func() { once.Do(func() { close(opened) }) })
	select {
	case <-opened:
	case <-ctx.Done():
		_ = dc.Close()
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, ErrClosed
	}
	raw, err := dc.Detach()
	if err != nil {
		return nil, fmt.Errorf("peer: detach channel %d: %w", id, err)
	}
	return newStream(dc, raw, chatWriteMessage), nil
}

// closeDrainWait bounds how long Close waits for data the app already
// wrote to be acknowledged by the peer.
const closeDrainWait = 2 * time.Second

// drain waits, up to closeDrainWait, until the peer has acknowledged
// everything written on dcs (pion counts bytes in BufferedAmount until
// they are SACKed) or has closed the association (gone). Without it, the
// last message before a Close (a receiver's "file verified", a goodbye)
// can be lost on a lossy or slow path, and the other side waits for it
// forever. Without gone, a side whose peer had already closed waited the
// whole closeDrainWait for a SACK that never comes: the peer acks late
// (SCTP delays SACKs) and a detached channel stays "open" after the
// peer's ABORT.
func (c *Conn) drain(pc *webrtc.PeerConnection, dcs []*webrtc.DataChannel, gone <-chan struct{}) {
	if pc == nil || pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
		return
	}
	deadline := time.Now().Add(closeDrainWait)
	for _, dc := range dcs {
		for dc != nil && dc.ReadyState() == webrtc.DataChannelStateOpen && dc.BufferedAmount() > 0 && time.Now().Before(deadline) {
			select {
			case <-gone:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

// sctpClosed returns a channel closed when pc's SCTP association ends.
func sctpClosed(pc *webrtc.PeerConnection) <-chan struct{} {
	gone := make(chan struct{})
	var once sync.Once
	pc.SCTP().OnClose(func(error) { once.Do(func() { close(gone) }) })
	return gone
}

// Close closes the PeerConnection, then stops and waits for this Conn's
// goroutines. It is safe to call more than once.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		if c.verifyTimer != nil {
			c.verifyTimer.Stop()
		}
		pc, mux, gone := c.pc, c.mux, c.sctpGone
		dcs := []*webrtc.DataChannel{c.chatDC, c.filesDC}
		c.mu.Unlock()

		c.drain(pc, dcs, gone)
		if err := pc.Close(); err != nil {
			c.closeErr = fmt.Errorf("peer: close PeerConnection: %w", err)
		}
		c.cancel()
		c.wg.Wait()
		closeMux(mux)
		// A rebuild that swapped in a new PeerConnection just before
		// closed was set leaves it here: close that one too.
		c.mu.Lock()
		latest, latestMux := c.pc, c.mux
		c.mu.Unlock()
		if latest != pc {
			_ = latest.Close()
			closeMux(latestMux)
		}
		c.finish(nil, nil, ErrClosed)

		c.mu.Lock()
		c.pushStateLocked(StateClosed)
		close(c.states)
		c.mu.Unlock()
	})
	return c.closeErr
}
