package peer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/sctp"
	"github.com/pion/webrtc/v4"
)

// The files lane.
//
// pion/webrtc fixes the SCTP packet size of a PeerConnection at 1,191
// bytes, whatever the link, and nearly all of a transfer's CPU is paid per
// packet (docs/transfer.md). When the PeerConnection's selected path stays
// on this host or on one link (no router, no NAT), the two sides build a
// second transport for files beside it, from the same parts (pion/dtls,
// pion/sctp) but with packets sized for that link: laneMaxMTU bytes when
// the peer is on this host, the interface MTU on a LAN.
//
// It is agreed on the verified PeerConnection (LaneChannelID): each side
// opens a UDP socket on the selected pair's local address and sends its
// port and the SHA-256 of a fresh DTLS certificate. Each side sends only
// to the PeerConnection's remote address (the port is the only thing the
// peer chooses), and DTLS checks the certificate against the fingerprint,
// so the lane is as authenticated as the connection it came from and
// reveals no address the PeerConnection did not already use. It needs no
// ICE: a path between host candidates on one link has no NAT to open.
// Either side can refuse or fail (a firewall, a relayed or relay-only
// connection), and then both use the files channel.

// LaneChannelID carries the setup of the files lane. It is pre-negotiated
// like the files channel, and used by FilesStream after verification.
const (
	LaneChannelID    uint16 = 8
	LaneChannelLabel        = "parley-lane"
)

const (
	// laneSetupTimeout bounds building the lane, from the first message
	// to the first bytes across it.
	laneSetupTimeout = 5 * time.Second
	// laneVerdictTimeout bounds waiting for the peer's verdict after our
	// own: the peer sends it at the latest when its own setup times out.
	laneVerdictTimeout = laneSetupTimeout + 10*time.Second
	// laneMaxMTU is the biggest SCTP packet on a lane: pion reads DTLS
	// records, SCTP packets and muxed UDP datagrams into 8,192-byte
	// buffers, and a DTLS record (AES-GCM) adds 37 bytes to the packet.
	laneMaxMTU = 8100
	// laneMinMTU is the smallest packet size a lane is built for. The
	// PeerConnection's is 1,191 bytes (pion/webrtc's sctpOutboundMTU) and
	// batches its sends with GSO; the lane was measured only where the
	// path carries jumbo packets (this host), so an ordinary 1,500-byte
	// LAN keeps the PeerConnection.
	laneMinMTU = 4096
	// dtlsRecordOverhead is what a DTLS 1.2 AES-GCM record adds: header
	// (13), explicit nonce (8) and tag (16).
	dtlsRecordOverhead = 37
	// laneMaxControl bounds what the peer may send on the lane channel.
	laneMaxControl = 16 << 10
	// laneSocketBuffer is the lane socket's kernel buffer size, at least.
	laneSocketBuffer = 4 << 20
	// laneHello is the first message each side sends across the lane.
	laneHello = "parley-lane/1"
	// laneQueueBytes is what the lane buffers of received packets not yet
	// decoded: a whole SCTP window and some (readqueue.go).
	laneQueueBytes = sctpReceiveBuffer + sctpReceiveBuffer/4
)

// laneOffer is each side's first message on the lane channel.
type laneOffer struct {
	OK          bool   `json:"ok"`
	Port        int    `json:"port,omitempty"` // at the PeerConnection's address
	Fingerprint []byte `json:"fp,omitempty"`   // SHA-256 of the DTLS certificate (DER)
}

// laneVerdict is each side's second message: whether its lane works. The
// lane is used only when both say so.
type laneVerdict struct {
	Ready bool `json:"ready"`
}

// FilesStream returns the stream file transfers use on this connection:
// a files lane when both sides could build one (see above), else the
// files channel (FileStream). Both sides must call it once the peer is
// verified; they agree on the answer. It returns an error only when the
// files channel itself is unavailable.
func (c *Conn) FilesStream(ctx context.Context) (io.ReadWriteCloser, error) {
	files, err := c.FileStream()
	if err != nil {
		return nil, err
	}
	lane, err := c.openLane(ctx)
	if err != nil {
		c.log.Info("peer: files use the PeerConnection", "reason", err.Error())
		return files, nil
	}
	c.log.Info("peer: files use a lane", "mtu", lane.mtu)
	return lane, nil
}

// laneStream is the files lane as a byte stream. Close tears the whole
// lane down.
type laneStream struct {
	*stream
	mtu   int
	parts []io.Closer // closed in order: SCTP, DTLS, socket, lane channel
	assoc *sctp.Association

	closeOnce sync.Once
	closed    chan struct{}
}

// MTU is the lane's SCTP packet size.
func (l *laneStream) MTU() int { return l.mtu }

// Close shuts the association down gracefully, which waits (at most
// closeDrainWait) until the peer has what we sent (a receiver's last
// "verified" message must arrive) and acknowledges what the peer sent,
// then closes every part of the lane.
func (l *laneStream) Close() error {
	l.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeDrainWait)
		_ = l.assoc.Shutdown(ctx)
		cancel()
		_ = l.stream.Close()
		closeAll(l.parts)
		close(l.closed)
	})
	return nil
}

func closeAll(parts []io.Closer) {
	for _, p := range parts {
		_ = p.Close()
	}
}

// openLane runs the lane setup on the lane channel and returns the lane,
// or why there is none. On error, nothing of the lane is left open.
func (c *Conn) openLane(ctx context.Context) (*laneStream, error) {
	ctl, err := c.waitNegotiated(ctx, c.laneOpen, "lane", chatWriteMessage)
	if err != nil {
		return nil, err
	}
	lane, err := c.negotiateLane(ctx, ctl)
	if err != nil {
		_ = ctl.Close()
		return nil, err
	}
	lane.parts = append(lane.parts, ctl)
	// The lane lives at most as long as this Conn: Close closes it.
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.lanes = append(c.lanes, lane)
	}
	c.mu.Unlock()
	if closed {
		_ = lane.Close()
		return nil, ErrClosed
	}
	return lane, nil
}

// negotiateLane exchanges offers, builds the lane when both offered, and
// exchanges verdicts.
func (c *Conn) negotiateLane(ctx context.Context, ctl io.ReadWriter) (*laneStream, error) {
	setupCtx, cancel := context.WithTimeout(ctx, laneSetupTimeout)
	defer cancel()
	dec := json.NewDecoder(io.LimitReader(ctl, laneMaxControl))
	enc := json.NewEncoder(ctl)

	var b *laneBuilder
	if why := c.laneUnwanted(); why != "" {
		c.log.Debug("peer: no files lane offered", "reason", why)
	} else if nb, err := c.newLaneBuilder(); err != nil {
		c.log.Debug("peer: no files lane offered", "err", err)
	} else {
		b = nb
	}
	kept := false
	defer func() {
		if b != nil && !kept {
			b.close()
		}
	}()
	offer := laneOffer{}
	if b != nil {
		offer = b.offer
	}
	if c.laneOfferHook != nil {
		c.laneOfferHook(&offer)
	}
	if err := enc.Encode(offer); err != nil {
		return nil, fmt.Errorf("send lane offer: %w", err)
	}
	var theirs laneOffer
	if err := readJSON(setupCtx, dec, &theirs); err != nil {
		return nil, fmt.Errorf("read lane offer: %w", err)
	}
	if b == nil || !offer.OK || !theirs.OK {
		return nil, errors.New("not offered by both sides")
	}
	lane, buildErr := b.connect(setupCtx, &theirs)
	if lane != nil {
		kept = true // the lane owns the builder's parts now
	}
	verdictCtx, cancelVerdict := context.WithTimeout(ctx, laneVerdictTimeout)
	defer cancelVerdict()
	var verdict laneVerdict
	err := enc.Encode(laneVerdict{Ready: buildErr == nil})
	if err == nil {
		err = readJSON(verdictCtx, dec, &verdict)
	}
	switch {
	case buildErr != nil:
		return nil, buildErr
	case err != nil:
		_ = lane.Close()
		return nil, fmt.Errorf("lane verdict: %w", err)
	case !verdict.Ready:
		_ = lane.Close()
		return nil, errors.New("the peer could not build the lane")
	}
	return lane, nil
}

// readJSON decodes one value, giving up on ctx (the caller then closes
// the stream, which ends the read).
func readJSON(ctx context.Context, dec *json.Decoder, v any) error {
	done := make(chan error, 1)
	go func() { done <- dec.Decode(v) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// laneUnwanted says why this connection should not get a lane, or "".
func (c *Conn) laneUnwanted() string {
	if c.cfg.RelayOnly {
		return "relay-only connection"
	}
	local, remote, err := c.selectedAddrs()
	if err != nil {
		return err.Error()
	}
	if laneMTU(local, remote) < laneMinMTU {
		return "the connection's path is not known to carry big packets"
	}
	return ""
}

// laneMTU is the SCTP packet size for a lane from local to remote: the
// biggest when the peer is on this host (the kernel delivers over
// loopback), the interface's MTU when the peer is on the same link, and 0
// when the path is unknown (routers may carry less than the interface).
func laneMTU(local, remote net.IP) int {
	if local == nil || remote == nil {
		return 0
	}
	if remote.IsLoopback() {
		return laneMaxMTU
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return 0
	}
	onLink := 0
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			if ipn.IP.Equal(remote) {
				return laneMaxMTU // one of ours: the peer is on this host
			}
			if ipn.IP.Equal(local) && ipn.Contains(remote) {
				onLink = ifc.MTU
			}
		}
	}
	if onLink == 0 {
		return 0
	}
	ipHeader := 40
	if remote.To4() != nil {
		ipHeader = 20
	}
	return min(onLink-ipHeader-8-dtlsRecordOverhead, laneMaxMTU)
}

// laneBuilder holds our half of a lane being built: a UDP socket on the
// PeerConnection's local address and a fresh DTLS certificate.
type laneBuilder struct {
	c      *Conn
	sock   *net.UDPConn
	remote net.IP // the PeerConnection's remote address: the lane's only peer
	cert   tls.Certificate
	offer  laneOffer
}

func (b *laneBuilder) close() { _ = b.sock.Close() }

// newLaneBuilder opens our end of a lane beside the PeerConnection's
// selected pair (laneUnwanted has checked it).
func (c *Conn) newLaneBuilder() (*laneBuilder, error) {
	local, remote, err := c.selectedAddrs()
	if err != nil {
		return nil, err
	}
	key, der, err := newSelfSigned()
	if err != nil {
		return nil, err
	}
	sock, err := net.ListenUDP("udp", &net.UDPAddr{IP: local})
	if err != nil {
		return nil, fmt.Errorf("lane socket: %w", err)
	}
	setSocketBuffers(sock, max(c.cfg.UDPBufferBytes, laneSocketBuffer))
	fp := sha256.Sum256(der)
	return &laneBuilder{
		c: c, sock: sock, remote: remote,
		cert:  tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		offer: laneOffer{OK: true, Port: sock.LocalAddr().(*net.UDPAddr).Port, Fingerprint: fp[:]},
	}, nil
}

// selectedAddrs returns the addresses of the PeerConnection's selected
// candidate pair.
func (c *Conn) selectedAddrs() (local, remote net.IP, err error) {
	pair, err := c.current().SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return nil, nil, errors.New("no selected candidate pair")
	}
	if pair.Local.Typ == webrtc.ICECandidateTypeRelay || pair.Remote.Typ == webrtc.ICECandidateTypeRelay {
		return nil, nil, errors.New("relayed connection")
	}
	local, remote = net.ParseIP(pair.Local.Address), net.ParseIP(pair.Remote.Address)
	if local == nil || remote == nil {
		return nil, nil, errors.New("the selected pair has no IP addresses")
	}
	return local, remote, nil
}

// connect builds the lane to the peer's offer: DTLS over UDP to the
// offered port at the PeerConnection's remote address, checked against
// the offered fingerprint, then SCTP with packets sized for the path,
// then one hello each way. On success the lane owns the builder's socket;
// on failure the caller closes the builder.
func (b *laneBuilder) connect(ctx context.Context, theirs *laneOffer) (*laneStream, error) {
	c := b.c
	if theirs.Port <= 0 || theirs.Port > 65535 || len(theirs.Fingerprint) != sha256.Size {
		return nil, errors.New("malformed lane offer")
	}
	raddr, ok := netip.AddrFromSlice(b.remote)
	if !ok {
		return nil, errors.New("bad remote address")
	}
	remote := netip.AddrPortFrom(raddr.Unmap(), uint16(theirs.Port)) //nolint:gosec // G115: checked above
	local := b.sock.LocalAddr().(*net.UDPAddr).IP
	mtu := laneMTU(local, b.remote)
	if mtu < laneMinMTU {
		return nil, errors.New("the lane's path is not known to carry big packets")
	}
	controlling := !c.cfg.Polite
	var err error

	want := theirs.Fingerprint
	dshared := []dtls.Option{
		dtls.WithCertificates(b.cert),
		dtls.WithCipherSuites(dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		// The certificate is self-signed: it is checked against the
		// fingerprint the verified peer sent, not against a CA.
		dtls.WithInsecureSkipVerify(true),
		dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("no certificate")
			}
			got := sha256.Sum256(raw[0])
			if !bytes.Equal(got[:], want) {
				return errors.New("certificate does not match the offered fingerprint")
			}
			return nil
		}),
	}
	queue := newReadQueue(b.sock, remote, laneQueueBytes)
	rudp := net.UDPAddrFromAddrPort(remote)
	var dconn *dtls.Conn
	if controlling {
		opts := make([]dtls.ClientOption, 0, len(dshared))
		for _, o := range dshared {
			opts = append(opts, o)
		}
		dconn, err = dtls.ClientWithOptions(queue, rudp, opts...)
	} else {
		opts := make([]dtls.ServerOption, 0, len(dshared)+1)
		for _, o := range dshared {
			opts = append(opts, o)
		}
		opts = append(opts, dtls.WithClientAuth(dtls.RequireAnyClientCert))
		dconn, err = dtls.ServerWithOptions(queue, rudp, opts...)
	}
	if err != nil {
		_ = queue.Close()
		return nil, fmt.Errorf("lane DTLS: %w", err)
	}
	// Until the lane is up, ctx ends it: closing DTLS unblocks SCTP.
	stop := context.AfterFunc(ctx, func() { _ = dconn.Close() })
	fail := func(err error) (*laneStream, error) {
		stop()
		_ = dconn.Close()
		_ = queue.Close()
		return nil, err
	}
	if err := dconn.HandshakeContext(ctx); err != nil {
		return fail(fmt.Errorf("lane DTLS: %w", err))
	}
	shared := []sctp.AssociationOption{
		sctp.WithNetConn(dconn),
		sctp.WithMTU(uint32(mtu)), //nolint:gosec // G115: at most laneMaxMTU
		sctp.WithMaxReceiveBufferSize(sctpReceiveBuffer),
		sctp.WithMaxMessageSize(maxReadMessage),
		// DTLS already authenticates every packet.
		sctp.WithEnableZeroChecksum(true),
	}
	var assoc *sctp.Association
	if controlling {
		opts := make([]sctp.ClientOption, 0, len(shared))
		for _, o := range shared {
			opts = append(opts, o)
		}
		assoc, err = sctp.ClientWithOptions(opts...)
	} else {
		opts := make([]sctp.ServerOption, 0, len(shared))
		for _, o := range shared {
			opts = append(opts, o)
		}
		assoc, err = sctp.ServerWithOptions(opts...)
	}
	if err != nil {
		return fail(fmt.Errorf("lane SCTP: %w", err))
	}
	st, err := assoc.OpenStream(0, sctp.PayloadTypeWebRTCBinary)
	if err == nil {
		err = hello(ctx, st)
	}
	if err != nil {
		_ = assoc.Close()
		return fail(fmt.Errorf("lane hello: %w", err))
	}
	if !stop() {
		_ = assoc.Close()
		return fail(fmt.Errorf("lane: %w", ctx.Err()))
	}
	parts := []io.Closer{assoc, dconn, queue}
	closed := make(chan struct{})
	return &laneStream{
		stream: newStream(st, st, filesWriteMessage),
		mtu:    mtu,
		assoc:  assoc,
		parts:  parts,
		closed: closed,
	}, nil
}

// hello sends laneHello and expects the peer's, which proves the lane
// carries data both ways.
func hello(ctx context.Context, st *sctp.Stream) error {
	if _, err := st.Write([]byte(laneHello)); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = st.SetReadDeadline(d)
	}
	buf := make([]byte, len(laneHello)+1)
	n, err := st.Read(buf)
	_ = st.SetReadDeadline(time.Time{})
	if err != nil {
		return err
	}
	if string(buf[:n]) != laneHello {
		return errors.New("unexpected first message")
	}
	return nil
}
