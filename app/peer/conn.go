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
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/webrtc/v4"

	"github.com/parley-chat/parley/internal/logid"
	"github.com/parley-chat/parley/internal/randid"
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
	// ErrClosed is returned by Stream once Close was called (unless the
	// peer failed verification before), and by HandleSignal after Close.
	ErrClosed = errors.New("peer: connection closed")
	// ErrConnectionFailed is returned by Stream when ICE/DTLS failed
	// before verification completed.
	ErrConnectionFailed = errors.New("peer: connection failed")
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

	// chans are the pre-negotiated data channels (channels.go); the map
	// is fixed at New, each entry's fields are guarded as documented.
	chans map[ChannelID]*channel

	// feedback is the other side's transport-wide feedback on our media
	// (LastFeedback), across PeerConnection generations.
	feedback feedbackState

	// mu guards the fields below it.
	mu      sync.Mutex
	pc      *webrtc.PeerConnection
	onTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
	bwe     cc.BandwidthEstimator // of the current PeerConnection
	mux     io.Closer
	gen     uint64 // PeerConnection generation; callbacks of older ones are ignored
	session string // random id of the current generation, sent with every signal
	closed  bool
	states  chan State
	// sctpGone is closed when the current PeerConnection's SCTP
	// association ends (the peer closed it): nothing more will be
	// acknowledged, so Close stops draining.
	sctpGone <-chan struct{}

	neg negotiation  // perfect negotiation (negotiate.go)
	vfy verification // the verdict on the peer (verify.go)

	closeOnce sync.Once
	closeErr  error
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
		cfg:     cfg,
		log:     logger.With("component", "peer", "room", logid.Of(cfg.RoomID), "polite", cfg.Polite),
		cert:    cert,
		onTrack: cfg.OnTrack,
		localFP: fp[:],
		ctx:     ctx,
		cancel:  cancel,
		chans:   newChannels(),
		states:  make(chan State, 16),
	}
	c.neg.init()
	c.vfy.init()
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

// buildPC creates a new PeerConnection generation with its pre-negotiated
// channels and makes it current. The caller closes the previous one.
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
	session := randid.Base64(12)
	c.pc, c.mux, c.session, c.bwe = pc, mux, session, bwe
	c.sctpGone = sctpClosed(pc)
	c.mu.Unlock()

	c.watch(pc, gen, session)
	if err := c.createChannels(pc, gen); err != nil {
		_ = pc.Close()
		closeMux(mux)
		return err
	}
	return nil
}

// watch wires pc's events (generation gen, whose signals carry session)
// to this Conn; events of a generation that is no longer current are
// ignored.
func (c *Conn) watch(pc *webrtc.PeerConnection, gen uint64, session string) {
	pc.OnNegotiationNeeded(func() {
		select {
		case c.neg.negNeeded <- gen:
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
			c.finish(ErrConnectionFailed)
		}
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		c.mu.Lock()
		fn, current := c.onTrack, c.gen == gen
		c.mu.Unlock()
		if current && fn != nil {
			fn(t, r)
		}
	})
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
		if c.vfy.timer != nil {
			c.vfy.timer.Stop()
		}
		pc, mux, gone := c.pc, c.mux, c.sctpGone
		dcs := c.drainChannelsLocked()
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
		c.finish(ErrClosed)

		c.mu.Lock()
		c.pushStateLocked(StateClosed)
		close(c.states)
		c.mu.Unlock()
	})
	return c.closeErr
}
