// Package peer owns the pion PeerConnection to the other participant: ICE
// configuration, perfect negotiation over the signaling server, the
// negotiated data channels as byte streams, and peer verification.
//
// Verification is Parley's core defence against a malicious signaling
// server. The server relays SDP, so it could answer each side itself and
// sit in the middle of DTLS. Each side therefore sends, as the first
// message on the chat channel, an HMAC keyed from the room link secret
// (which the server never sees) over the room id, its identity key and the
// SHA-256 fingerprints of the DTLS certificates it really sees on both
// ends. A relay that terminates DTLS changes those fingerprints, so the
// tags fail and both sides close with ErrVerifyFailed. Nothing but the tag
// is sent or delivered on the chat channel before both tags verified.
//
// Perfect negotiation follows the W3C pattern. pion v4.2.26 cannot roll
// back a local offer, so the polite side resolves an initial offer
// collision by replacing its PeerConnection (same DTLS certificate, new
// session id) before applying the remote offer; that is what a rollback
// would amount to before the first exchange.
//
// Media renegotiation (AddTrack, RemoveTrack) must never collide, because
// a rebuild would end the call and the data channels with it. So after the
// first exchange only the impolite side makes offers. When the polite side
// needs negotiation it sends "offer-please" plus the kinds of its not yet
// negotiated transceivers on the pre-negotiated negotiate channel
// (ChannelNegotiate); the impolite side adds a receive-only transceiver
// per kind (an answer cannot create m-lines) and offers. A track added
// while an exchange is in flight is picked up once the state is stable
// again. The chat and files channels are untouched by all of this.
//
// The data channels are pre-negotiated: both sides create each one with
// the same id on every PeerConnection (the table in channels.go: id,
// label, message size, whether it opens with verification, whether Close
// drains it), so none has an open race. Stream(ctx, id) is the one way to
// get one as a byte stream (ChannelChat, ChannelFiles, ChannelCall): it
// waits for the verdict and hands a channel out only once the peer is
// verified, so nothing is read or written on any of them before. (A
// same-host "files lane" with bigger packets beside the PeerConnection was
// removed: it only ever served two peers on one host; see
// docs/transfer.md.)
//
// Files: conn.go (Config, Conn, PeerConnection generations, Close),
// channels.go (the channel table, Stream), verify.go (tags and the
// verification goroutine), negotiate.go (perfect negotiation, offer
// requests), media.go (tracks, congestion control), stream.go (a data
// channel as a byte stream), udp*.go (own UDP sockets, GSO/GRO).
//
// Tests: app/peer/peertest builds verified pairs for every package's
// tests; see its package doc for why peer's own pair tests are in package
// peer_test.
//
// Each PeerConnection has pion's default codecs and interceptors: NACK
// (retransmission), RTCP sender/receiver reports (RTT, loss) and TWCC
// feedback. Remote tracks go to Config.OnTrack.
//
// This package must not log SDP, candidate addresses or secrets.
package peer
