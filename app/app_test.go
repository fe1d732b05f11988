package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/app/call"
	"github.com/parley-chat/parley/app/chat"
	"github.com/parley-chat/parley/app/identity"
	"github.com/parley-chat/parley/app/profile"
	"github.com/parley-chat/parley/app/session"
	"github.com/parley-chat/parley/app/sigclient"
	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/server/servertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const step = 30 * time.Second

// fakeWindow records what the facade pushes to the UI.
type fakeWindow struct {
	mu        sync.Mutex
	events    []recorded
	notify    chan struct{}
	clipboard string
	opened    []string
	raised    int
}

type recorded struct {
	name    string
	payload any
}

func newFakeWindow() *fakeWindow { return &fakeWindow{notify: make(chan struct{})} }

func (w *fakeWindow) Emit(name string, payload any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, recorded{name, payload})
	close(w.notify)
	w.notify = make(chan struct{})
}

// recorded returns the payloads of the name events emitted so far.
func (w *fakeWindow) recorded(name string) []any {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []any
	for _, e := range w.events {
		if e.name == name {
			out = append(out, e.payload)
		}
	}
	return out
}

func (w *fakeWindow) SetClipboard(text string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clipboard = text
	return nil
}

func (w *fakeWindow) OpenURL(u string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.opened = append(w.opened, u)
}

func (w *fakeWindow) Raise() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.raised++
}

// wait returns the first event named name whose payload satisfies ok.
func (w *fakeWindow) wait(t *testing.T, name string, ok func(any) bool) any {
	t.Helper()
	deadline := time.After(step)
	for {
		w.mu.Lock()
		for _, e := range w.events {
			if e.name == name && (ok == nil || ok(e.payload)) {
				w.mu.Unlock()
				return e.payload
			}
		}
		ch := w.notify
		w.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Fatalf("no %s event within %v; got %v", name, step, w.events)
		}
	}
}

func statusIs(st string) func(any) bool {
	return func(p any) bool { return p.(StatusEvent).Status == st }
}

// startServer runs parley-signal's packages on loopback.
func startServer(t *testing.T) string {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith is startServer with the server's handler wrapped by wrap
// (nil: not wrapped), for tests that watch the requests.
func startServerWith(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	return servertest.New(t, servertest.Options{Wrap: wrap}).URL
}

type testUser struct {
	*App
	win      *fakeWindow
	mu       sync.Mutex
	notified []string
}

// newUser opens an App on a fresh profile (file secret store in a temp dir).
func newUser(t *testing.T, server string, mutate ...func(*Config)) *testUser {
	t.Helper()
	u := &testUser{win: newFakeWindow()}
	cfg := Config{
		Profile:       profile.Options{Name: "p", DataDir: t.TempDir(), SecretStore: identity.KindFile},
		DefaultServer: server,
		LoopbackOnly:  true,
		Window:        u.win,
		HTTPClient:    &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second},
		Notify: func(title, body string) {
			u.mu.Lock()
			defer u.mu.Unlock()
			u.notified = append(u.notified, body)
		},
		LANAddr: func() (netip.Addr, error) { return netip.MustParseAddr("127.0.0.1"), nil },
	}
	for _, m := range mutate {
		m(&cfg)
	}
	u.App = New(cfg)
	t.Cleanup(func() {
		if err := u.close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return u
}

// userWithRoom is a user on a fresh server with one room it created, and
// its open profile. With leave, the room is left again once it waits for
// the other person (closed: nothing connects while the test runs).
func userWithRoom(t *testing.T, leave bool) (*testUser, RoomView, *profile.Profile) {
	t.Helper()
	u := newUser(t, startServer(t))
	v, err := u.CreateRoom(0)
	if err != nil {
		t.Fatal(err)
	}
	if leave {
		u.win.wait(t, EventRoomStatus, statusIs("waiting"))
		if err := u.LeaveRoom(v.ID); err != nil {
			t.Fatal(err)
		}
	}
	p, err := u.ready()
	if err != nil {
		t.Fatal(err)
	}
	return u, v, p
}

func codeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return fmt.Sprintf("not an *Error: %v", err)
}

func TestToAPI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"keyring", fmt.Errorf("open: %w", &identity.UnavailableError{Err: errors.New("no bus")}), CodeKeyringUnavailable},
		{"bad link", fmt.Errorf("%w: nope", session.ErrBadLink), CodeBadLink},
		{"too long", chat.ErrTooLong, CodeTooLong},
		{"peer offline", session.ErrPeerOffline, session.CodePeerOffline},
		{"room full", fmt.Errorf("join: %w", &sigclient.Error{Code: protocol.CodeRoomFull}), protocol.CodeRoomFull},
		{"destroyed", &sigclient.Error{Code: protocol.CodeRoomDestroyed}, protocol.CodeRoomDestroyed},
		{"rate limited", &sigclient.Error{Code: protocol.CodeRateLimited}, protocol.CodeRateLimited},
		{"busy", &sigclient.Error{Code: protocol.CodeServerBusy}, protocol.CodeServerBusy},
		{"shutting down", &sigclient.Error{Code: protocol.CodeShuttingDown}, CodeServerUnreachable},
		{"link secret refused", &sigclient.Error{Code: protocol.CodeUnauthorized}, CodeBadLink},
		{"server too old", &sigclient.Error{Code: protocol.CodeUnsupportedVersion}, protocol.CodeUnsupportedVersion},
		{"timeout", fmt.Errorf("join: %w", context.DeadlineExceeded), session.CodeTimeout},
		{"unreachable", network(errors.New("dial tcp: connection refused")), CodeServerUnreachable},
		{"network keeps codes", network(&sigclient.Error{Code: protocol.CodeRoomNotFound}), protocol.CodeRoomNotFound},
		{"call busy", call.ErrBusy, CodeCallFailed},
		{"nothing rings", call.ErrNotRinging, CodeInternal},
		{"call peer gone", call.ErrClosed, session.CodePeerOffline},
		{"no microphone", fmt.Errorf("%w: no device", call.ErrNoMicrophone), CodeNoMicrophone},
		{"no camera", call.ErrNoCamera, CodeNoCamera},
		{"device busy", fmt.Errorf("%w: EBUSY", call.ErrDeviceBusy), CodeDeviceBusy},
		{"permission", fmt.Errorf("%w: EACCES", call.ErrPermissionDenied), CodePermissionDenied},
		{"no screen", fmt.Errorf("%w: no X11 display", call.ErrScreenUnavailable), CodeScreenUnavailable},
		{"no call to share into", call.ErrNotInCall, CodeInternal},
		{"own", apiErrorf(CodeBadLink, "x"), CodeBadLink},
		{"other", errors.New("disk on fire"), CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := toAPI(tt.err)
			if got := codeOf(err); got != tt.code {
				t.Fatalf("code %q, want %q", got, tt.code)
			}
			if !strings.HasPrefix(err.Error(), tt.code) {
				t.Fatalf("message %q does not start with the code", err.Error())
			}
		})
	}
	if toAPI(nil) != nil {
		t.Fatal("toAPI(nil) != nil")
	}
}

func TestLinkArg(t *testing.T) {
	t.Parallel()
	const id = "abcdefghijklmnopqrstu"
	const secret = "AAAAAAAAAAAAAAAAAAAAAA"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"none", nil, ""},
		{"flags only", []string{"--profile", "x"}, ""},
		{"https", []string{"https://Example.org/r/" + id + "#" + secret}, "https://example.org/r/" + id + "#" + secret},
		{"parley lan", []string{"parley://192.168.1.2:8787/r/" + id + "#" + secret}, "http://192.168.1.2:8787/r/" + id + "#" + secret},
		{"damaged kept for BAD_LINK", []string{"https://example.org/r/" + id}, "https://example.org/r/" + id},
		{"not a link", []string{"hello"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := LinkArg(tt.args); got != tt.want {
				t.Fatalf("LinkArg(%q) = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}

func TestPrefersDark(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scheme, theme string
		want          bool
	}{
		{"'prefer-dark'", "'Adwaita'", true},
		{"'prefer-light'", "'Adwaita-dark'", false},
		{"'default'", "'Adwaita-dark'", true},
		{"", "Adwaita:dark", true},
		{"", "'Adwaita'", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got := PrefersDark(tt.scheme, tt.theme); got != tt.want {
			t.Errorf("PrefersDark(%q, %q) = %v, want %v", tt.scheme, tt.theme, got, tt.want)
		}
	}
}

func TestLANAddr(t *testing.T) {
	t.Parallel()
	addrs := func(ss ...string) []net.Addr {
		var out []net.Addr
		for _, s := range ss {
			ip, n, err := net.ParseCIDR(s)
			if err != nil {
				t.Fatal(err)
			}
			n.IP = ip
			out = append(out, n)
		}
		return out
	}
	tests := []struct {
		name  string
		addrs []net.Addr
		want  string
	}{
		{"private wins", addrs("fe80::1/64", "203.0.113.5/24", "192.168.1.7/24"), "192.168.1.7"},
		{"ten", addrs("10.1.2.3/8"), "10.1.2.3"},
		{"public fallback", addrs("127.0.0.1/8", "169.254.1.1/16", "192.0.2.2/24"), "192.0.2.2"},
		{"none", addrs("127.0.0.1/8", "::1/128"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := lanAddr(tt.addrs)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestWindowState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if got := LoadWindowState(dir); got != (WindowState{Width: DefaultWidth, Height: DefaultHeight}) {
		t.Fatalf("fresh state %+v", got)
	}
	want := WindowState{Width: 1000, Height: 700, X: 30, Y: 40, Placed: true}
	if err := SaveWindowState(dir, want); err != nil {
		t.Fatal(err)
	}
	if got := LoadWindowState(dir); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if err := SaveWindowState(dir, WindowState{Width: 10, Height: 99999, X: 1 << 30, Placed: true}); err != nil {
		t.Fatal(err)
	}
	if got := LoadWindowState(dir); got != (WindowState{Width: DefaultWidth, Height: DefaultHeight}) {
		t.Fatalf("absurd values not reset: %+v", got)
	}
	if err := os.WriteFile(filepath.Join(dir, windowFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := LoadWindowState(dir); got.Width != DefaultWidth {
		t.Fatalf("damaged file: %+v", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestSettingsPersist(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	dataDir := t.TempDir()
	opts := func(c *Config) { c.Profile.DataDir = dataDir }
	u := newUser(t, "", opts)
	s, err := u.GetSettings()
	if err != nil {
		t.Fatal(err)
	}
	if !s.FirstRun || s.Server != "" || s.Profile != "p" || len(s.Fingerprint) != 19 || s.AutoAcceptMaxBytes != DefaultAutoAcceptMaxBytes {
		t.Fatalf("fresh settings %+v", s)
	}
	if _, err := u.CreateRoom(0); codeOf(err) != CodeServerUnreachable {
		t.Fatalf("CreateRoom without a server: %v", err)
	}
	for _, bad := range []struct{ url, code string }{
		{"ftp://x", CodeBadLink},
		{"http://127.0.0.1:1", CodeServerUnreachable},
		{srv + "/some/path", CodeBadLink},
	} {
		if _, err := u.SetServer(bad.url); codeOf(err) != bad.code {
			t.Errorf("SetServer(%q) = %v, want %s", bad.url, err, bad.code)
		}
	}
	s, err = u.SetServer(srv + "/")
	if err != nil {
		t.Fatal(err)
	}
	if s.FirstRun || s.Server != srv {
		t.Fatalf("after SetServer %+v", s)
	}
	for _, bad := range []int64{-1, MaxAutoAcceptBytes + 1} {
		if _, err := u.SetAutoAcceptLimit(bad); codeOf(err) != CodeBadRequest {
			t.Errorf("SetAutoAcceptLimit(%d) = %v, want BAD_REQUEST", bad, err)
		}
	}
	if s, err = u.SetAutoAcceptLimit(5 << 20); err != nil || s.AutoAcceptMaxBytes != 5<<20 {
		t.Fatalf("SetAutoAcceptLimit: %+v, %v", s, err)
	}
	if s, err = u.SetRelayOnly(true); err != nil || !s.RelayOnly {
		t.Fatalf("SetRelayOnly: %+v, %v", s, err)
	}
	if err := u.close(); err != nil {
		t.Fatal(err)
	}
	again := newUser(t, "http://ignored.example", opts)
	if s, err := again.GetSettings(); err != nil || s.Server != srv || s.FirstRun || s.AutoAcceptMaxBytes != 5<<20 || !s.RelayOnly {
		t.Fatalf("reopened settings %+v, %v (a chosen server beats PARLEY_SERVER)", s, err)
	}
}

// TestTwoWindowsChat drives two facades against a real signaling server
// and real pion peers on loopback, checking what each UI is told.
func TestTwoWindowsChat(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice, bob := newUser(t, srv), newUser(t, srv)

	av, err := alice.CreateRoom(3600)
	if err != nil {
		t.Fatal(err)
	}
	if !av.Open || av.ExpiresAt == nil || !strings.HasPrefix(av.Link, srv+"/r/"+strings.Split(av.ID, ".")[0]+"#") || av.Messages == nil {
		t.Fatalf("created view %+v", av)
	}
	alice.win.wait(t, EventRoomStatus, statusIs("waiting"))

	if _, err := bob.OpenRoom("https://example.org/r/nope"); codeOf(err) != CodeBadLink {
		t.Fatalf("OpenRoom(bad) = %v", err)
	}
	bv, err := bob.OpenRoom(av.Link)
	if err != nil {
		t.Fatal(err)
	}
	if bv.ID != av.ID {
		t.Fatalf("bob opened %s, alice created %s", bv.ID, av.ID)
	}
	alice.win.wait(t, EventRoomStatus, statusIs("verified"))
	st := bob.win.wait(t, EventRoomStatus, statusIs("verified")).(StatusEvent)
	if st.Route != "direct" || st.RoomID != av.ID {
		t.Fatalf("bob's status %+v", st)
	}
	if again, err := bob.OpenRoom(av.Link); err != nil || again.Status != "verified" || again.StatusSeq < st.Seq {
		t.Fatalf("reopening an open room: %+v (seq %d, event seq %d), %v", again.Status, again.StatusSeq, st.Seq, err)
	}
	// Status events carry growing seqs: the UI orders them by it.
	var last uint64
	for _, e := range bob.win.recorded(EventRoomStatus) {
		if seq := e.(StatusEvent).Seq; seq <= last {
			t.Fatalf("status seq %d after %d", seq, last)
		} else {
			last = seq
		}
	}

	bob.setFocused(false)
	m, err := alice.Send(av.ID, "hello bob")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Outgoing || m.State != "sent" || m.Text != "hello bob" {
		t.Fatalf("sent %+v", m)
	}
	got := bob.win.wait(t, EventRoomMessage, nil).(MessageEvent)
	if got.Message.Text != "hello bob" || got.Message.Outgoing || got.Message.State != "" || got.Message.ID != m.ID {
		t.Fatalf("bob got %+v", got)
	}
	alice.win.wait(t, EventRoomDelivered, func(p any) bool { return p.(DeliveredEvent).ID == m.ID })
	bob.mu.Lock()
	notified := strings.Join(bob.notified, "|")
	bob.mu.Unlock()
	if !strings.HasPrefix(notified, "New message in ") || strings.Contains(notified, "hello") {
		t.Fatalf("notification %q: want the room named and the text left out", notified)
	}

	if err := bob.Typing(av.ID); err != nil {
		t.Fatal(err)
	}
	alice.win.wait(t, EventRoomTyping, nil)
	if _, err := bob.Send(av.ID, strings.Repeat("x", chat.MaxTextBytes+1)); codeOf(err) != CodeTooLong {
		t.Fatalf("long Send = %v", err)
	}

	// Both sides see the same safety number; history and summaries agree.
	va, _ := alice.Room(av.ID)
	vb, _ := bob.Room(av.ID)
	if va.SafetyNumber == "" || va.SafetyNumber != vb.SafetyNumber {
		t.Fatalf("safety numbers %q vs %q", va.SafetyNumber, vb.SafetyNumber)
	}
	if len(vb.Messages) != 1 || vb.Messages[0].Text != "hello bob" || va.Messages[0].State != "delivered" {
		t.Fatalf("views: alice %+v bob %+v", va.Messages, vb.Messages)
	}
	if err := bob.Rename(av.ID, " Project X "); err != nil {
		t.Fatal(err)
	}
	rooms, err := bob.Rooms()
	if err != nil || len(rooms) != 1 || rooms[0].Name != "Project X" || !rooms[0].Open || rooms[0].LastPreview != "hello bob" {
		t.Fatalf("bob's rooms %+v, %v", rooms, err)
	}
	if err := bob.CopyLink(av.ID); err != nil || bob.win.clipboard != av.Link {
		t.Fatalf("CopyLink: %v, clipboard %q", err, bob.win.clipboard)
	}
	if err := bob.CopyText("fmt.Println(1)\n"); err != nil || bob.win.clipboard != "fmt.Println(1)\n" {
		t.Fatalf("CopyText: %v, clipboard %q", err, bob.win.clipboard)
	}
	if err := bob.CopyText(strings.Repeat("x", chat.MaxTextBytes+1)); codeOf(err) != CodeTooLong || bob.win.clipboard != "fmt.Println(1)\n" {
		t.Fatalf("CopyText(too long) = %v, clipboard %d bytes", err, len(bob.win.clipboard))
	}

	// Bob leaves politely: alice sees peer-left; bob's room is closed without a code.
	if err := bob.LeaveRoom(av.ID); err != nil {
		t.Fatal(err)
	}
	alice.win.wait(t, EventRoomStatus, statusIs("peer-left"))
	if v, _ := bob.Room(av.ID); v.Open || v.Status != "closed" || v.Code != "" {
		t.Fatalf("after leave %+v", v)
	}
	if _, err := alice.Send(av.ID, "anyone?"); codeOf(err) != session.CodePeerOffline {
		t.Fatalf("Send while alone = %v", err)
	}

	// Bob destroys the room (joining it again first): both end ROOM_DESTROYED.
	if err := bob.DestroyRoom(av.ID); err != nil {
		t.Fatal(err)
	}
	alice.win.wait(t, EventRoomClosed, func(p any) bool { return p.(ClosedEvent).Code == protocol.CodeRoomDestroyed })
	if rooms, _ := bob.Rooms(); len(rooms) != 0 {
		t.Fatalf("destroyed room still listed: %+v", rooms)
	}
	if _, err := bob.OpenRoom(av.Link); codeOf(err) != protocol.CodeRoomDestroyed {
		t.Fatalf("OpenRoom(destroyed) = %v", err)
	}
}

// TestMessageOps drives reply, edit, react and delete through the facade
// of two apps: the events reach the other window and the views agree.
func TestMessageOps(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice, bob := newUser(t, srv), newUser(t, srv)
	av, err := alice.CreateRoom(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.OpenRoom(av.Link); err != nil {
		t.Fatal(err)
	}
	alice.win.wait(t, EventRoomStatus, statusIs("verified"))
	bob.win.wait(t, EventRoomStatus, statusIs("verified"))
	changed := func(u *testUser, ok func(Message) bool) Message {
		t.Helper()
		return u.win.wait(t, EventRoomMessageChanged, func(p any) bool { return ok(p.(MessageEvent).Message) }).(MessageEvent).Message
	}

	m, err := alice.Send(av.ID, "helo")
	if err != nil {
		t.Fatal(err)
	}
	bob.win.wait(t, EventRoomMessage, nil)
	if _, err := bob.Reply(av.ID, "huh?", "nosuchmessage"); codeOf(err) != CodeCannotChange {
		t.Fatalf("Reply to nothing = %v", err)
	}
	r, err := bob.Reply(av.ID, "huh?", m.ID)
	if err != nil || r.ReplyTo != m.ID {
		t.Fatalf("Reply = %+v, %v", r, err)
	}
	alice.win.wait(t, EventRoomMessage, func(p any) bool { return p.(MessageEvent).Message.ReplyTo == m.ID })

	if _, err := bob.Edit(av.ID, m.ID, "bob was here"); codeOf(err) != CodeCannotChange {
		t.Fatalf("bob edits alice's message: %v", err)
	}
	if e, err := alice.Edit(av.ID, m.ID, "hello"); err != nil || !e.Edited || e.Text != "hello" {
		t.Fatalf("Edit = %+v, %v", e, err)
	}
	changed(bob, func(x Message) bool { return x.ID == m.ID && x.Edited && x.Text == "hello" })

	if got := alice.ReactionChoices(); len(got) != len(chat.Reactions) || got[0] != "👍" {
		t.Fatalf("ReactionChoices = %v", got)
	}
	if _, err := alice.React(av.ID, r.ID, "💩"); codeOf(err) != CodeCannotChange {
		t.Fatalf("React outside the set = %v", err)
	}
	if _, err := alice.React(av.ID, r.ID, "😂"); err != nil {
		t.Fatal(err)
	}
	changed(bob, func(x Message) bool { return x.ID == r.ID && x.PeerReaction == "😂" })

	if d, err := alice.Delete(av.ID, m.ID); err != nil || !d.Deleted || d.Text != "" {
		t.Fatalf("Delete = %+v, %v", d, err)
	}
	changed(bob, func(x Message) bool { return x.ID == m.ID && x.Deleted && x.Text == "" })
	for _, u := range []*testUser{alice, bob} {
		v, err := u.Room(av.ID)
		if err != nil || len(v.Messages) != 2 || !v.Messages[0].Deleted || v.Messages[0].Text != "" || v.Messages[1].ReplyTo != m.ID {
			t.Fatalf("view after delete: %+v, %v", v.Messages, err)
		}
	}
}

func TestLANServerAndForget(t *testing.T) {
	t.Parallel()
	u := newUser(t, "")
	s, err := u.StartLANServer()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.LANServer, "http://127.0.0.1:") || s.Server != s.LANServer || s.FirstRun {
		t.Fatalf("settings %+v", s)
	}
	if s2, err := u.StartLANServer(); err != nil || s2.LANServer != s.LANServer {
		t.Fatalf("second start: %+v, %v", s2, err)
	}
	v, err := u.CreateRoom(0)
	if err != nil {
		t.Fatal(err)
	}
	u.win.wait(t, EventRoomStatus, statusIs("waiting"))
	if err := u.ClearMessages(v.ID); err != nil {
		t.Fatal(err)
	}
	if err := u.Forget(v.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Room(v.ID); codeOf(err) != protocol.CodeRoomNotFound {
		t.Fatalf("Room after Forget = %v", err)
	}
	if err := u.Rename(v.ID, "x"); codeOf(err) != protocol.CodeRoomNotFound {
		t.Fatalf("Rename after Forget = %v", err)
	}
	if err := u.OpenURL("file:///etc/passwd"); codeOf(err) != CodeBadLink {
		t.Fatalf("OpenURL(file) = %v", err)
	}
	if err := u.OpenURL("https://example.org/help"); err != nil || len(u.win.opened) != 1 {
		t.Fatalf("OpenURL: %v, %v", err, u.win.opened)
	}
}

// TestProfileInUse: while another process (parley-cli, or the app without
// the single-instance lock D-Bus gives it) has the profile open, every
// method says PROFILE_IN_USE.
func TestProfileInUse(t *testing.T) {
	dir := t.TempDir()
	opts := profile.Options{Name: "p", DataDir: dir, SecretStore: identity.KindFile}
	held, err := profile.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	u := newUser(t, "", func(c *Config) { c.Profile = opts })
	if _, err := u.GetSettings(); codeOf(err) != CodeProfileInUse {
		t.Fatalf("GetSettings = %v", err)
	}
	if _, err := u.Rooms(); codeOf(err) != CodeProfileInUse {
		t.Fatalf("Rooms = %v", err)
	}
}

// TestKeyringUnavailable: without a secret service every method says
// KEYRING_UNAVAILABLE instead of failing obscurely.
func TestKeyringUnavailable(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	t.Setenv("DISPLAY", "")
	u := newUser(t, "", func(c *Config) { c.Profile.SecretStore = identity.KindKeyring })
	if _, err := u.GetSettings(); codeOf(err) != CodeKeyringUnavailable {
		t.Fatalf("GetSettings = %v", err)
	}
	if _, err := u.Rooms(); codeOf(err) != CodeKeyringUnavailable {
		t.Fatalf("Rooms = %v", err)
	}
}

// TestCreateRoomSelfDestructRange: a self-destruct timer outside 0 to
// protocol.MaxSelfDestructSeconds is the caller's mistake (BAD_REQUEST,
// nothing created), not an INTERNAL failure; the bounds themselves work.
func TestCreateRoomSelfDestructRange(t *testing.T) {
	t.Parallel()
	u := newUser(t, startServer(t))
	tests := []struct {
		seconds  int
		wantCode string // "" for success
	}{
		{-1, CodeBadRequest},
		{protocol.MaxSelfDestructSeconds + 1, CodeBadRequest},
		{0, ""},
		{protocol.MaxSelfDestructSeconds, ""},
	}
	for _, tt := range tests {
		before, err := u.Rooms()
		if err != nil {
			t.Fatal(err)
		}
		v, err := u.CreateRoom(tt.seconds)
		if tt.wantCode != "" {
			after, _ := u.Rooms()
			if codeOf(err) != tt.wantCode || len(after) != len(before) {
				t.Errorf("CreateRoom(%d) = %v with %d rooms after %d, want %s and no room", tt.seconds, err, len(after), len(before), tt.wantCode)
			}
			continue
		}
		if err != nil || v.ID == "" {
			t.Errorf("CreateRoom(%d) = %+v, %v", tt.seconds, v, err)
		}
	}
}

// TestNewLeavesGCAlone: the GC target is the program's choice (main calls
// transfer.TuneGC); building an App, as tests and embedders do, does not
// change it.
func TestNewLeavesGCAlone(t *testing.T) {
	const marker = 137
	prev := debug.SetGCPercent(marker)
	defer debug.SetGCPercent(prev)
	u := newUser(t, "")
	if _, err := u.GetSettings(); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetGCPercent(marker); got != marker {
		t.Fatalf("GC percent %d after app.New, want the %d the program set", got, marker)
	}
}
