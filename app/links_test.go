package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// countRequests wraps a handler and counts every request that reaches it.
func countRequests(n *atomic.Int64) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			h.ServeHTTP(w, r)
		})
	}
}

// TestExternalLinkWaitsForConfirmation: a startup link is not joined, nor
// its server contacted, until ConfirmLink with the id the UI was shown;
// then it joins the room, once.
func TestExternalLinkWaitsForConfirmation(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := startServerWith(t, countRequests(&hits))
	alice := newUser(t, srv)
	av, err := alice.CreateRoom(0)
	if err != nil {
		t.Fatal(err)
	}
	alice.win.wait(t, EventRoomStatus, statusIs("waiting"))

	bob := newUser(t, "", func(c *Config) { c.StartupLink = LinkArg([]string{av.Link}) })
	before := hits.Load()
	p, err := bob.PendingLink()
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv, "http://")
	if p.ID == 0 || p.Server != srv || p.Host != host || p.Known || p.RoomID != "" || p.Code != "" {
		t.Fatalf("pending %+v; want the server %s, an unknown room", p, srv)
	}
	if strings.Contains(p.Server+p.Host+p.Detail, "#") {
		t.Fatalf("pending %+v carries the secret", p)
	}
	if _, err := bob.ConfirmLink(p.ID + 1); codeOf(err) != CodeBadRequest {
		t.Fatalf("ConfirmLink(other id) = %v, want BAD_REQUEST", err)
	}
	if rooms, err := bob.Rooms(); err != nil || len(rooms) != 0 {
		t.Fatalf("rooms before confirming: %+v, %v", rooms, err)
	}
	if n := hits.Load(); n != before {
		t.Fatalf("the server got %d requests before the link was confirmed", n-before)
	}

	v, err := bob.ConfirmLink(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.ID != av.ID || !v.Open {
		t.Fatalf("confirmed view %+v, want room %s open", v, av.ID)
	}
	alice.win.wait(t, EventRoomStatus, statusIs("verified"))
	if hits.Load() == before {
		t.Fatal("no request reached the server after the confirmation")
	}
	if p, err := bob.PendingLink(); err != nil || p.ID != 0 {
		t.Fatalf("after confirming, pending %+v, %v", p, err)
	}
	if _, err := bob.ConfirmLink(p.ID); codeOf(err) != CodeBadRequest {
		t.Fatalf("second ConfirmLink = %v, want BAD_REQUEST", err)
	}

	// The same room handed over again is named by its local name; the same
	// room id on another server is a new room.
	if err := bob.Rename(av.ID, "Project X"); err != nil {
		t.Fatal(err)
	}
	secret := av.Link[strings.Index(av.Link, "#"):]
	for _, tt := range []struct {
		name, link string
		known      bool
		host       string
	}{
		{"known room, parley form", "parley://" + host + "/r/" + av.ID + secret, true, host},
		{"same id, other server", "https://other.example/r/" + av.ID + secret, false, "other.example"},
	} {
		LifecycleOf(bob.App).SecondInstance([]string{"--profile", "p", tt.link})
		evs := bob.win.recorded(EventLinkPending)
		got := evs[len(evs)-1].(PendingLink)
		if got.Known != tt.known || got.Host != tt.host || (tt.known && (got.RoomName != "Project X" || got.RoomID != av.ID)) || (!tt.known && got.RoomName+got.RoomID != "") {
			t.Fatalf("%s: pending %+v", tt.name, got)
		}
	}
}

// TestExternalLinkCancel: Cancel drops the link without a single request to
// its server, and a canceled or replaced link can no longer be confirmed.
func TestExternalLinkCancel(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	ts := httptest.NewServer(countRequests(&hits)(http.NotFoundHandler()))
	t.Cleanup(ts.Close)
	host := strings.TrimPrefix(ts.URL, "http://")
	link := "parley://" + host + "/r/abcdefghijklmnopqrstu#AAAAAAAAAAAAAAAAAAAAAA"
	u := newUser(t, "")
	if _, err := u.GetSettings(); err != nil {
		t.Fatal(err)
	}

	LifecycleOf(u.App).SecondInstance([]string{"--profile", "p", link})
	first := u.win.wait(t, EventLinkPending, nil).(PendingLink)
	if first.ID == 0 || first.Host != host || first.Server != ts.URL || u.win.raised != 1 {
		t.Fatalf("pending %+v, raised %d", first, u.win.raised)
	}
	// A newer link replaces it: confirming the old id joins nothing.
	LifecycleOf(u.App).SecondInstance([]string{link})
	second, err := u.PendingLink()
	if err != nil || second.ID == first.ID || second.ID == 0 {
		t.Fatalf("after a second link: %+v, %v", second, err)
	}
	if _, err := u.ConfirmLink(first.ID); codeOf(err) != CodeBadRequest {
		t.Fatalf("ConfirmLink(replaced) = %v, want BAD_REQUEST", err)
	}
	if err := u.CancelLink(first.ID); err != nil {
		t.Fatal(err)
	}
	if p, _ := u.PendingLink(); p.ID != second.ID {
		t.Fatalf("canceling the old id dropped the new link: %+v", p)
	}
	if err := u.CancelLink(second.ID); err != nil {
		t.Fatal(err)
	}
	if p, _ := u.PendingLink(); p.ID != 0 {
		t.Fatalf("after Cancel, pending %+v", p)
	}
	if _, err := u.ConfirmLink(second.ID); codeOf(err) != CodeBadRequest {
		t.Fatalf("ConfirmLink(canceled) = %v, want BAD_REQUEST", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the link's server got %d requests; want none", n)
	}
	// Another launch without a link only raises the window.
	LifecycleOf(u.App).SecondInstance([]string{"--profile", "p"})
	if p, _ := u.PendingLink(); p.ID != 0 || u.win.raised != 3 {
		t.Fatalf("launch without a link: pending %+v, raised %d", p, u.win.raised)
	}
}

// TestExternalLinkMalformed: a damaged link from outside says BAD_LINK with
// the reason, both to the UI asking on start and in the event, and cannot
// be confirmed.
func TestExternalLinkMalformed(t *testing.T) {
	t.Parallel()
	const id = "abcdefghijklmnopqrstu"
	tests := []struct {
		name, link, reason string
	}{
		{"no secret", "https://example.org/r/" + id, "secret after # is missing"},
		{"damaged secret", "parley://example.org/r/" + id + "#AAA", "secret after # is damaged"},
		{"bad path", "https://example.org/x/" + id + "#AAAAAAAAAAAAAAAAAAAAAA", "path must be"},
		{"other scheme", "ftp://example.org/r/" + id + "#AAAAAAAAAAAAAAAAAAAAAA", "scheme must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := newUser(t, "", func(c *Config) { c.StartupLink = LinkArg([]string{tt.link}) })
			p, err := u.PendingLink()
			if err != nil {
				t.Fatal(err)
			}
			if p.ID == 0 || p.Code != CodeBadLink || !strings.Contains(p.Detail, tt.reason) || p.Server != "" || p.Host != "" {
				t.Fatalf("pending %+v; want BAD_LINK saying %q", p, tt.reason)
			}
			if _, err := u.ConfirmLink(p.ID); codeOf(err) != CodeBadLink {
				t.Fatalf("ConfirmLink = %v, want BAD_LINK", err)
			}
			if p, _ := u.PendingLink(); p.ID != 0 {
				t.Fatalf("the bad link still waits: %+v", p)
			}

			LifecycleOf(u.App).SecondInstance([]string{tt.link})
			ev := u.win.wait(t, EventLinkPending, nil).(PendingLink)
			if ev.Code != CodeBadLink || !strings.Contains(ev.Detail, tt.reason) {
				t.Fatalf("event %+v; want BAD_LINK saying %q", ev, tt.reason)
			}
		})
	}
}
