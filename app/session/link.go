package session

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/sigclient"
	"github.com/parley-chat/parley/signaling/protocol"
)

// SecretSize is the size of a room link's secret: 128 bits.
const SecretSize = 16

// ErrBadLink is returned (wrapped) for anything that is not a room link.
var ErrBadLink = errors.New("not a Parley room link")

// Link is a parsed room link: https://<server>/r/<roomId>#<secret>.
//
// The secret lives only in the URL fragment, which HTTP clients never send,
// so the signaling server never learns it. It keys the peer verification.
type Link struct {
	// Server is the signaling server's base URL: scheme://host[:port], no path.
	Server string
	RoomID string
	Secret []byte
}

// NewSecret returns a fresh random link secret.
func NewSecret() ([]byte, error) {
	s := make([]byte, SecretSize)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("new room secret: %w", err)
	}
	return s, nil
}

// RoomKey returns the room's verifier key, derived from the secret
// (protocol.RoomKey). Joining proves the link with it; the secret itself
// never leaves this package's callers.
func (l Link) RoomKey() ed25519.PrivateKey { return protocol.RoomKey(l.Secret) }

// Verifier returns the room verifier of secret: the public key a new room
// is registered with (sigclient.CreateRoom), so that only holders of the
// link can join or destroy it.
func Verifier(secret []byte) ed25519.PublicKey {
	return protocol.RoomKey(secret).Public().(ed25519.PublicKey)
}

// String returns the canonical http(s) form of the link.
func (l Link) String() string {
	return l.Server + "/r/" + l.RoomID + "#" + base64.RawURLEncoding.EncodeToString(l.Secret)
}

// ParseLink accepts https://, http:// and parley:// room links. A parley://
// link names the same server as its https:// twin, except that a loopback or
// private-network host is reached over plain http (a LAN server has no
// certificate), which is also what "this computer (LAN)" servers hand out.
func ParseLink(s string) (Link, error) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil {
		return Link{}, fmt.Errorf("%w: %v", ErrBadLink, err)
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "https", "http":
	case "parley":
		scheme = "https"
		if isLocalHost(u.Hostname()) {
			scheme = "http"
		}
	default:
		return Link{}, fmt.Errorf("%w: scheme must be https, http or parley", ErrBadLink)
	}
	if u.Host == "" || u.User != nil {
		return Link{}, fmt.Errorf("%w: missing server", ErrBadLink)
	}
	rest, ok := strings.CutPrefix(u.EscapedPath(), "/r/")
	if !ok || !protocol.ValidRoomID(rest) {
		return Link{}, fmt.Errorf("%w: path must be /r/<21-character room id>", ErrBadLink)
	}
	if u.Fragment == "" {
		return Link{}, fmt.Errorf("%w: the secret after # is missing (copy the whole link)", ErrBadLink)
	}
	secret, err := base64.RawURLEncoding.DecodeString(u.Fragment)
	if err != nil || len(secret) != SecretSize {
		return Link{}, fmt.Errorf("%w: the secret after # is damaged (copy the whole link)", ErrBadLink)
	}
	return Link{Server: scheme + "://" + strings.ToLower(u.Host), RoomID: rest, Secret: secret}, nil
}

// ServerURL normalizes a signaling server address given by a user
// ("example.org", "http://127.0.0.1:8787/") to scheme://host[:port].
func ServerURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("bad server address %q: want https://host[:port]", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("bad server address %q: scheme must be http or https", s)
	}
	if p := strings.TrimRight(u.Path, "/"); p != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("bad server address %q: give only scheme://host[:port]", s)
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

func isLocalHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast()
}

// ShortRoomID is the first characters of a room id, for compact displays
// on the user's own screen (never for logs: see LogID).
func ShortRoomID(id string) string {
	if len(id) <= 6 {
		return id
	}
	return id[:6]
}

// CreateRoom creates a room on the signaling server at server (a base URL,
// see ServerURL) with a new secret, records it in hist and returns its
// link. selfDestruct 0 means no timer. The room's self-destruct time is
// the one asked for, not the server's word: the apps tell each other over
// the verified channel, and only once it has passed does a TIMER_EXPIRED
// wipe the room. A server's refusal is an *Error.
func CreateRoom(ctx context.Context, hc *http.Client, server string, selfDestruct time.Duration, hist *history.Store) (Link, error) {
	secret, err := NewSecret()
	if err != nil {
		return Link{}, err
	}
	res, err := sigclient.CreateRoom(ctx, hc, server, selfDestruct, Verifier(secret))
	if err != nil {
		return Link{}, coded(err)
	}
	link := Link{Server: server, RoomID: res.RoomID, Secret: secret}
	r := history.Room{ID: res.RoomID, Server: server, Link: link.String(), CreatedAt: time.UnixMilli(res.CreatedAt), LastActive: time.Now()}
	if selfDestruct > 0 {
		t := time.Now().Add(selfDestruct)
		r.ExpiresAt = &t
	}
	if err := hist.PutRoom(r); err != nil {
		return Link{}, fmt.Errorf("store room: %w", err)
	}
	return link, nil
}
