package app

import (
	"net/url"
	"strings"
	"sync"

	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/profile"
	"github.com/parley-chat/parley/app/session"
)

// Room links that reach the app from outside it (the command line, the OS
// handing over a parley:// link, another launch of the app) are not
// trusted: any web page can open a parley:// link. Such a link only waits
// here until the person confirms it in the window (ConfirmLink), so a page
// cannot make the app join a room of its choosing, which would show the
// room's owner this computer's IP addresses and let them send files.
// Nothing of the link is contacted before the confirmation: no join, no
// HTTP request, not even a DNS lookup. A link the person pastes into the
// window's Join field is theirs and joins at once (OpenRoom).

// linkState holds the one external link waiting for confirmation. A newer
// link replaces it under a new id, so a confirmation always names the link
// the person saw.
type linkState struct {
	mu      sync.Mutex
	seq     uint64
	pending *pendingLink
}

// pendingLink is a link from outside, parsed or not.
type pendingLink struct {
	id   uint64
	link session.Link
	err  error // the link does not parse; nothing can be joined
}

// PendingLink describes the external room link waiting for confirmation,
// as the confirmation dialog shows it (docs/app-api.md, "Links from
// outside the app"). It never carries the link's secret.
type PendingLink struct {
	// ID names this link for ConfirmLink and CancelLink; 0: nothing waits.
	ID uint64 `json:"id"`
	// Server is the signaling server joining would contact:
	// scheme://host[:port].
	Server string `json:"server"`
	// Host is the server's host[:port], the name the dialog puts first.
	Host string `json:"host"`
	// Known: a recent room has this server and room id.
	Known bool `json:"known"`
	// RoomID is the known room's id ("" when not Known).
	RoomID string `json:"roomId"`
	// RoomName is the known room's local name ("" when none or not Known).
	RoomName string `json:"roomName"`
	// Code is BAD_LINK when the link does not parse (Detail says why):
	// there is nothing to confirm then.
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// offer makes raw the waiting link, replacing any other, and returns its id.
func (s *linkState) offer(raw string) uint64 {
	l, err := session.ParseLink(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.pending = &pendingLink{id: s.seq, link: l, err: err}
	return s.seq
}

// current returns the waiting link, nil if none.
func (s *linkState) current() *pendingLink {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// take removes and returns the waiting link if its id is id.
func (s *linkState) take(id uint64) (*pendingLink, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil || s.pending.id != id {
		return nil, false
	}
	p := s.pending
	s.pending = nil
	return p, true
}

// offerExternalLink holds a link from outside the app for confirmation and
// tells the UI (app:link-pending). It contacts nothing.
func (a *App) offerExternalLink(raw string) {
	a.links.offer(raw)
	a.log.Info("room link from outside waits for confirmation")
	a.emit(EventLinkPending, a.pendingView())
}

// pendingView describes the waiting link; ID 0 when none.
func (a *App) pendingView() PendingLink {
	pl := a.links.current()
	if pl == nil {
		return PendingLink{}
	}
	if pl.err != nil {
		var detail string
		if e, ok := toAPI(pl.err).(*Error); ok {
			detail = e.Detail
		}
		return PendingLink{ID: pl.id, Code: CodeBadLink, Detail: detail}
	}
	v := PendingLink{ID: pl.id, Server: pl.link.Server, Host: hostOf(pl.link.Server)}
	a.mu.Lock()
	p := a.prof
	a.mu.Unlock()
	if p != nil {
		if hr, ok := knownRoom(p, pl.link); ok {
			v.Known, v.RoomID, v.RoomName = true, hr.id, hr.name
		}
	}
	return v
}

// knownRoomInfo is what the dialog says about a recent room.
type knownRoomInfo struct{ id, name string }

// knownRoom finds the recent room l names: the same room id on the same
// server. A room id alone is not enough: another server may hand out the
// same id for a room someone else controls.
func knownRoom(p *profile.Profile, l session.Link) (knownRoomInfo, bool) {
	hr, ok, err := p.History.Room(history.RoomKey(l.Server, l.RoomID))
	if err != nil || !ok {
		return knownRoomInfo{}, false
	}
	server, err := session.ServerURL(hr.Server)
	if err != nil || server != l.Server {
		return knownRoomInfo{}, false
	}
	return knownRoomInfo{id: hr.ID, name: hr.Name}, true
}

// hostOf returns the host[:port] of a server base URL.
func hostOf(server string) string {
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		return u.Host
	}
	return strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
}

// PendingLink returns the room link from outside the app (command line,
// another launch, the OS) that waits for confirmation; ID 0 when none. The
// UI asks on start, since a startup link arrives before it listens.
func (a *App) PendingLink() (PendingLink, error) {
	if _, err := a.ready(); err != nil {
		return PendingLink{}, err
	}
	v := a.pendingView()
	if v.ID != 0 {
		a.log.Info("the window asked for the waiting room link")
	}
	return v, nil
}

// ConfirmLink joins the waiting external link the person confirmed. id must
// be the one the dialog showed: a link that was replaced in the meantime is
// not joined (BAD_REQUEST), and the newer one keeps waiting.
func (a *App) ConfirmLink(id uint64) (RoomView, error) {
	p, err := a.ready()
	if err != nil {
		return RoomView{}, err
	}
	pl, ok := a.links.take(id)
	if !ok {
		return RoomView{}, apiErrorf(CodeBadRequest, "this link is no longer waiting for confirmation")
	}
	if pl.err != nil {
		return RoomView{}, toAPI(pl.err)
	}
	a.log.Info("room link from outside confirmed")
	return a.join(p, pl.link)
}

// CancelLink drops the waiting external link if its id is id (Esc or
// Cancel in the dialog). Nothing was contacted for it.
func (a *App) CancelLink(id uint64) error {
	if _, err := a.ready(); err != nil {
		return err
	}
	if _, ok := a.links.take(id); ok {
		a.log.Info("room link from outside canceled")
	}
	return nil
}

// secondInstance raises the window and holds a link from another launch
// for confirmation.
func (a *App) secondInstance(args []string) {
	a.mu.Lock()
	w := a.win
	a.mu.Unlock()
	if w != nil {
		w.Raise()
	}
	if link := LinkArg(args); link != "" {
		a.offerExternalLink(link)
	}
}

// LinkArg returns the first argument that looks like a room link
// (canonicalised when it parses), or "".
func LinkArg(args []string) string {
	for _, s := range args {
		if strings.HasPrefix(s, "-") {
			continue
		}
		if l, err := session.ParseLink(s); err == nil {
			return l.String()
		}
		if strings.Contains(s, "://") {
			return s // the confirmation says BAD_LINK with the reason
		}
	}
	return ""
}
