package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley/app/chat"
	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/identity"
	"github.com/parley-chat/parley/app/profile"
	"github.com/parley-chat/parley/app/session"
	"github.com/parley-chat/parley/signaling/protocol"
)

// Timeouts for the calls the UI waits on.
const (
	joinTimeout     = 30 * time.Second
	createTimeout   = 20 * time.Second
	healthTimeout   = 5 * time.Second
	shutdownTimeout = 5 * time.Second
)

// Config is what New needs. Only Profile is required.
type Config struct {
	// Profile names the profile (identity + history) the window opens.
	Profile profile.Options
	// StartupLink is the room link from the command line or the OS ("" if
	// none). It waits for the person's confirmation like every link from
	// outside the app (links.go).
	StartupLink string
	// DefaultServer is the server for new rooms until the user picks one
	// (PARLEY_SERVER); "" shows the first-run choice.
	DefaultServer string
	// LoopbackOnly restricts ICE to 127.0.0.1 (PARLEY_ICE_LOOPBACK=1, tests).
	LoopbackOnly bool
	// Logger receives the app's logs; nil discards them.
	Logger *slog.Logger
	// Window0 is the window state the window was opened with; it is saved
	// again (updated) on shutdown.
	Window0 WindowState
	// Window replaces the Wails runtime (tests); nil uses the real window.
	Window Window
	// Notify shows a desktop notification; nil uses notify-send if present.
	Notify func(title, body string)
	// LANAddr picks the LAN server's address; nil uses the first private
	// IPv4 of the machine.
	LANAddr func() (netip.Addr, error)
	// HTTPClient is used for the server's HTTP API; nil uses a client with
	// a 30 s timeout.
	HTTPClient *http.Client
	// DownloadDir is where received files go; "" uses DefaultDownloadDir.
	DownloadDir string
	// OpenPath opens a received file or its folder (tests); nil starts
	// xdg-open.
	OpenPath func(path string) error
	// FakeMedia makes calls send a synthetic camera and microphone
	// (colour bars, a sine) whatever devices are chosen
	// (PARLEY_FAKE_MEDIA=1: the window under Xvfb, tests).
	FakeMedia bool
}

// App is the facade bound to the Wails window: every exported method is
// callable from the UI (docs/app-api.md). It holds no chat logic; it
// delegates to app/profile, app/session and app/history.
type App struct {
	cfg  Config
	log  *slog.Logger
	dir  string // the profile's folder
	http *http.Client

	mu         sync.Mutex
	ctx        context.Context // the window's; cancelled by Close
	cancel     context.CancelFunc
	win        Window
	notify     func(title, body string)
	prof       *profile.Profile
	profErr    error
	settings   storedSettings
	rooms      map[string]*openRoom
	lastCode   map[string]string // code a closed room ended with
	statusSeq  uint64            // seq of the last room:status event
	lastTyping map[string]time.Time
	lan        *lanServer
	focused    bool
	winState   *WindowState
	closed     bool

	files fileState // file transfers of this run (own lock)
	calls callState // calls and the media hub (own lock)
	links linkState // the external link waiting for confirmation (own lock)

	images imageState // previews: one decode at a time (own lock)

	opening   sync.Mutex // serialises joins so one room is never joined twice
	focusOnce sync.Once
	wg        sync.WaitGroup
}

// openRoom is one joined room and its event pump.
type openRoom struct {
	sess   *session.Session
	status string
	route  string
	code   string
	done   chan struct{} // closed when the pump ended
}

// New returns an App for cfg. Nothing is opened until Startup (or, in
// tests, the first method call). It leaves the process's GC target alone:
// the program's main calls transfer.TuneGC.
func New(cfg Config) *App {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.LANAddr == nil {
		cfg.LANAddr = interfaceLANAddr
	}
	a := &App{
		cfg:        cfg,
		log:        log,
		dir:        ProfileDir(cfg.Profile),
		http:       hc,
		rooms:      map[string]*openRoom{},
		lastCode:   map[string]string{},
		lastTyping: map[string]time.Time{},
		focused:    true,
	}
	if cfg.StartupLink != "" {
		a.links.offer(cfg.StartupLink)
	}
	return a
}

// start wires the window and opens the profile; called once.
func (a *App) start(ctx context.Context, win Window) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.startLocked(ctx, win)
}

func (a *App) startLocked(ctx context.Context, win Window) {
	if a.ctx != nil {
		return
	}
	a.ctx, a.cancel = context.WithCancel(ctx)
	a.win = win
	if a.cfg.Window != nil {
		a.win = a.cfg.Window
	}
	a.notify = a.cfg.Notify
	if a.notify == nil {
		a.notify = newCommandNotifier(a.ctx, &a.wg)
	}
	s, err := loadSettings(a.dir)
	if err != nil {
		a.log.Warn("settings unreadable; using defaults", "err", err)
	}
	a.settings = s
	a.prof, a.profErr = profile.Open(a.cfg.Profile)
	if a.profErr != nil {
		a.log.Error("open profile", "err", a.profErr)
	} else {
		a.removePasted() // left by a run that crashed
	}
}

// ready returns the opened profile, starting headless (tests) if the
// window never called Startup.
func (a *App) ready() (*profile.Profile, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctx == nil {
		a.startLocked(context.Background(), noWindow{})
	}
	if a.closed {
		return nil, apiErrorf(CodeInternal, "the app is shutting down")
	}
	if a.profErr != nil {
		return nil, toAPI(a.profErr)
	}
	return a.prof, nil
}

func (a *App) emit(name string, payload any) {
	a.mu.Lock()
	w := a.win
	a.mu.Unlock()
	if w != nil {
		w.Emit(name, payload)
	}
}

func (a *App) setFocused(f bool) {
	a.mu.Lock()
	a.focused = f
	a.mu.Unlock()
}

// notifyMessage shows a notification for a new message in roomID while
// the window is not focused. It names the room only: message text stays
// off lock screens and notification logs.
func (a *App) notifyMessage(roomID string) {
	a.mu.Lock()
	focused, notify, prof := a.focused, a.notify, a.prof
	a.mu.Unlock()
	if focused || notify == nil || prof == nil {
		return
	}
	name := session.ShortRoomID(roomID)
	if r, ok, err := prof.History.Room(roomID); err == nil && ok && r.Name != "" {
		name = r.Name
	}
	notify("Parley", "New message in "+name)
}

// close leaves every open room politely, stops the LAN server, saves the
// window state and closes the profile. The App is unusable afterwards. It
// is unexported so that JavaScript cannot call it (Lifecycle.Shutdown does).
func (a *App) close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	rooms := make([]*openRoom, 0, len(a.rooms))
	for _, r := range a.rooms {
		rooms = append(rooms, r)
	}
	lan, prof, ws := a.lan, a.prof, a.winState
	a.lan = nil
	a.mu.Unlock()

	var errs []error
	var leave sync.WaitGroup
	for _, r := range rooms {
		leave.Go(func() {
			_ = r.sess.Close()
			<-r.done
		})
	}
	leave.Wait()
	errs = append(errs, a.closeCalls())
	if lan != nil {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		errs = append(errs, lan.stop(ctx))
		cancel()
	}
	if ws != nil {
		errs = append(errs, SaveWindowState(a.dir, *ws))
	}
	a.mu.Lock()
	if a.cancel != nil {
		a.cancel()
	}
	a.mu.Unlock()
	a.wg.Wait()
	if prof != nil {
		a.removePasted()
		errs = append(errs, prof.Close())
	}
	return errors.Join(errs...)
}

// settingsView builds Settings; a.mu must be held.
func (a *App) settingsView(p *profile.Profile) Settings {
	s := Settings{
		Profile:            p.Name,
		Fingerprint:        p.Identity.Fingerprint(),
		Server:             a.cfg.DefaultServer,
		FirstRun:           !a.settings.ServerChosen && a.cfg.DefaultServer == "",
		AutoAcceptMaxBytes: a.settings.AutoAcceptMaxBytes,
		RelayOnly:          a.settings.RelayOnly,
	}
	if a.settings.ServerChosen {
		s.Server = a.settings.Server
	}
	if a.lan != nil {
		s.LANServer = a.lan.url
	}
	return s
}

// GetSettings returns the profile and server settings.
func (a *App) GetSettings() (Settings, error) {
	p, err := a.ready()
	if err != nil {
		return Settings{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.settingsView(p), nil
}

// SetServer checks that url is a reachable signaling server and makes it
// the server for new rooms.
func (a *App) SetServer(rawURL string) (Settings, error) {
	p, err := a.ready()
	if err != nil {
		return Settings{}, err
	}
	base, err := session.ServerURL(rawURL)
	if err != nil {
		return Settings{}, apiErrorf(CodeBadLink, "%v", err)
	}
	if err := a.checkServer(base); err != nil {
		return Settings{}, err
	}
	return a.storeServer(p, base)
}

// MaxAutoAcceptBytes caps the auto-accept setting (1 TiB): beyond that
// "always accept" is what the user means, and the UI offers no more.
const MaxAutoAcceptBytes = 1 << 40

// SetAutoAcceptLimit sets the size up to which incoming files are saved
// without asking (0: always ask). It applies to rooms opened from now on.
func (a *App) SetAutoAcceptLimit(maxBytes int64) (Settings, error) {
	if maxBytes < 0 || maxBytes > MaxAutoAcceptBytes {
		return Settings{}, apiErrorf(CodeBadRequest, "the auto-accept limit must be between 0 and 1 TiB")
	}
	return a.updateSettings(func(s *storedSettings) { s.AutoAcceptMaxBytes = maxBytes })
}

// SetRelayOnly chooses whether rooms connect only through the server's
// relay. It applies to rooms opened from now on.
func (a *App) SetRelayOnly(on bool) (Settings, error) {
	return a.updateSettings(func(s *storedSettings) { s.RelayOnly = on })
}

// updateSettings applies change, saves settings.json and returns the view.
func (a *App) updateSettings(change func(*storedSettings)) (Settings, error) {
	p, err := a.ready()
	if err != nil {
		return Settings{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	next := a.settings
	change(&next)
	if err := saveSettings(a.dir, next); err != nil {
		return Settings{}, toAPI(err)
	}
	a.settings = next
	return a.settingsView(p), nil
}

func (a *App) storeServer(p *profile.Profile, base string) (Settings, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := a.settings
	next.Server, next.ServerChosen = base, true
	if err := saveSettings(a.dir, next); err != nil {
		return Settings{}, toAPI(err)
	}
	a.settings = next
	return a.settingsView(p), nil
}

// checkServer asks base's /healthz whether a signaling server answers.
func (a *App) checkServer(base string) error {
	ctx, cancel := context.WithTimeout(a.context(), healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return apiErrorf(CodeBadLink, "bad server address: %v", err)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return apiErrorf(CodeServerUnreachable, "no answer from %s", base)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiErrorf(CodeServerUnreachable, "%s answered %s: is it a Parley server?", base, resp.Status)
	}
	return nil
}

func (a *App) context() context.Context {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ctx == nil {
		return context.Background()
	}
	return a.ctx
}

// StartLANServer runs a signaling server inside the app on this machine's
// LAN address (until the app quits) and makes it the server for new rooms.
func (a *App) StartLANServer() (Settings, error) {
	p, err := a.ready()
	if err != nil {
		return Settings{}, err
	}
	a.mu.Lock()
	running := a.lan != nil
	a.mu.Unlock()
	if !running {
		addr, err := a.cfg.LANAddr()
		if err != nil {
			return Settings{}, apiErrorf(CodeServerUnreachable, "%v", err)
		}
		lan, err := startLAN(addr, a.log)
		if err != nil {
			return Settings{}, apiErrorf(CodeServerUnreachable, "%v", err)
		}
		a.mu.Lock()
		if a.lan != nil || a.closed {
			a.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			_ = lan.stop(ctx)
		} else {
			a.lan = lan
			a.mu.Unlock()
			a.log.Info("LAN server started")
		}
	}
	a.mu.Lock()
	url := ""
	if a.lan != nil {
		url = a.lan.url
	}
	a.mu.Unlock()
	return a.storeServer(p, url)
}

// CreateRoom creates a room on the current server (selfDestructSeconds 0
// = no timer), joins it and returns its view.
func (a *App) CreateRoom(selfDestructSeconds int) (RoomView, error) {
	p, err := a.ready()
	if err != nil {
		return RoomView{}, err
	}
	if selfDestructSeconds < 0 || selfDestructSeconds > protocol.MaxSelfDestructSeconds {
		return RoomView{}, apiErrorf(CodeBadRequest, "self-destruct must be between 0 and 7 days")
	}
	a.mu.Lock()
	server := a.settingsView(p).Server
	a.mu.Unlock()
	if server == "" {
		return RoomView{}, apiErrorf(CodeServerUnreachable, "choose a server first")
	}
	ctx, cancel := context.WithTimeout(a.context(), createTimeout)
	defer cancel()
	link, err := session.CreateRoom(ctx, a.http, server, time.Duration(selfDestructSeconds)*time.Second, p.History)
	if err != nil {
		return RoomView{}, toAPI(network(err))
	}
	return a.join(p, link)
}

// OpenRoom joins the room of link (or returns it if already open).
func (a *App) OpenRoom(link string) (RoomView, error) {
	p, err := a.ready()
	if err != nil {
		return RoomView{}, err
	}
	l, err := session.ParseLink(link)
	if err != nil {
		return RoomView{}, toAPI(err)
	}
	return a.join(p, l)
}

// join joins l unless it is open already, starts its event pump and
// returns the view.
func (a *App) join(p *profile.Profile, l session.Link) (RoomView, error) {
	a.opening.Lock()
	defer a.opening.Unlock()
	key := history.RoomKey(l.Server, l.RoomID)
	a.mu.Lock()
	_, open := a.rooms[key]
	a.mu.Unlock()
	if !open {
		ctx, cancel := context.WithTimeout(a.context(), joinTimeout)
		defer cancel()
		a.mu.Lock()
		autoAccept := a.settings.AutoAcceptMaxBytes
		relayOnly := a.settings.RelayOnly
		a.mu.Unlock()
		sess, err := session.Join(ctx, session.Config{
			Link:          l,
			Identity:      p.Identity,
			History:       p.History,
			Logger:        a.log,
			LoopbackOnly:  a.cfg.LoopbackOnly,
			RelayOnly:     relayOnly,
			DownloadDir:   a.downloadDir(),
			AutoAcceptMax: autoAccept,
			ReceiveLimits: a.receiveLimits(),
			OfferTimeout:  a.offerTimeout(),
			Calls:         a.callConfig(),
		})
		if err != nil {
			return RoomView{}, toAPI(network(err))
		}
		r := &openRoom{sess: sess, status: string(sess.Status()), done: make(chan struct{})}
		a.mu.Lock()
		if a.closed {
			a.mu.Unlock()
			_ = sess.Close()
			return RoomView{}, apiErrorf(CodeInternal, "the app is shutting down")
		}
		a.rooms[key] = r
		delete(a.lastCode, key)
		a.wg.Go(func() {
			defer close(r.done)
			a.pump(r)
		})
		a.mu.Unlock()
		a.log.Info("room opened", "room", session.LogID(l.RoomID))
		a.emit(EventRoomsChanged, Empty{})
	}
	return a.view(p, key)
}

// view builds the view of a known room.
func (a *App) view(p *profile.Profile, roomID string) (RoomView, error) {
	hr, ok, err := p.History.Room(roomID)
	if err != nil {
		return RoomView{}, toAPI(err)
	}
	if !ok {
		return RoomView{}, apiErrorf(protocol.CodeRoomNotFound, "this room is not in your recent rooms")
	}
	page, err := p.History.MessagesBefore(roomID, "", PageSize)
	if err != nil {
		return RoomView{}, toAPI(err)
	}
	msgs := page.Messages
	a.mu.Lock()
	r, open := a.rooms[roomID]
	v := RoomView{Status: "closed", Code: a.lastCode[roomID], Messages: make([]Message, 0, len(msgs)), Older: page.Older, StatusSeq: a.statusSeq}
	var peerKey []byte = hr.PeerKey
	if open {
		v.Status, v.Route, v.Code = r.status, r.route, ""
		if k := r.sess.PeerKey(); k != nil {
			peerKey = k
		}
	}
	a.mu.Unlock()
	s := summaryOf(hr, open)
	v.ID, v.Name, v.Link, v.LastActive, v.LastPreview, v.ExpiresAt, v.Open = s.ID, s.Name, s.Link, s.LastActive, s.LastPreview, s.ExpiresAt, s.Open
	if v.Status == "" {
		v.Status = string(session.StatusWaiting)
	}
	for _, m := range msgs {
		v.Messages = append(v.Messages, messageOf(m))
	}
	if len(peerKey) == len(p.Identity.PublicKey()) {
		v.SafetyNumber = identity.SafetyNumber(p.Identity.PublicKey(), peerKey)
	}
	v.Ended, v.KeyChanged = s.Ended, s.KeyChanged
	if len(hr.NewPeerKey) == len(p.Identity.PublicKey()) && len(hr.PeerKey) == len(p.Identity.PublicKey()) {
		v.KeyChange = &KeyChange{
			OldSafetyNumber: identity.SafetyNumber(p.Identity.PublicKey(), hr.PeerKey),
			NewSafetyNumber: identity.SafetyNumber(p.Identity.PublicKey(), hr.NewPeerKey),
		}
	}
	return v, nil
}

// openSession returns the session of an open room, or PEER_OFFLINE.
func (a *App) openSession(roomID string) (*openRoom, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.rooms[roomID]
	return r, ok
}

// LeaveRoom leaves the room politely (the peer is told); history stays.
func (a *App) LeaveRoom(roomID string) error {
	if _, err := a.ready(); err != nil {
		return err
	}
	r, ok := a.openSession(roomID)
	if !ok {
		return nil
	}
	err := r.sess.Close()
	<-r.done
	return toAPI(err)
}

// Rooms lists the recent rooms, most recent first.
func (a *App) Rooms() ([]RoomSummary, error) {
	p, err := a.ready()
	if err != nil {
		return nil, err
	}
	rs, err := p.History.Rooms()
	if err != nil {
		return nil, toAPI(err)
	}
	slices.SortStableFunc(rs, func(x, y history.Room) int { return y.LastActive.Compare(x.LastActive) })
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]RoomSummary, 0, len(rs))
	for _, r := range rs {
		_, open := a.rooms[r.Key]
		out = append(out, summaryOf(r, open))
	}
	return out, nil
}

// Room returns the current view of a known room.
func (a *App) Room(roomID string) (RoomView, error) {
	p, err := a.ready()
	if err != nil {
		return RoomView{}, err
	}
	return a.view(p, roomID)
}

// Send sends text to the peer. PEER_OFFLINE means nothing was stored.
func (a *App) Send(roomID, text string) (Message, error) {
	if _, err := a.ready(); err != nil {
		return Message{}, err
	}
	if len(text) > chat.MaxTextBytes {
		return Message{}, toAPI(chat.ErrTooLong)
	}
	r, ok := a.openSession(roomID)
	if !ok {
		return Message{}, toAPI(session.ErrPeerOffline)
	}
	m, err := r.sess.Send(text)
	if err != nil {
		return Message{}, toAPI(err)
	}
	a.emit(EventRoomsChanged, Empty{})
	return messageOf(m), nil
}

// Reply sends text as an answer to message replyTo. CANNOT_CHANGE when
// that message is not stored; otherwise like Send.
func (a *App) Reply(roomID, text, replyTo string) (Message, error) {
	return a.messageOp(roomID, func(s *session.Session) (history.Message, error) {
		if len(text) > chat.MaxTextBytes {
			return history.Message{}, chat.ErrTooLong
		}
		return s.Reply(text, replyTo)
	})
}

// Edit replaces the text of one of our messages on both sides.
// CANNOT_CHANGE for another's message or a deleted one; PEER_OFFLINE
// changes nothing.
func (a *App) Edit(roomID, msgID, text string) (Message, error) {
	return a.messageOp(roomID, func(s *session.Session) (history.Message, error) { return s.Edit(msgID, text) })
}

// Delete deletes one of our messages for both (a tombstone on each side).
func (a *App) Delete(roomID, msgID string) (Message, error) {
	return a.messageOp(roomID, func(s *session.Session) (history.Message, error) { return s.Delete(msgID) })
}

// React sets our reaction to a message, one of ReactionChoices or "" to
// remove it.
func (a *App) React(roomID, msgID, emoji string) (Message, error) {
	return a.messageOp(roomID, func(s *session.Session) (history.Message, error) { return s.React(msgID, emoji) })
}

// ReactionChoices returns the emoji a reaction may be (chat.Reactions).
func (a *App) ReactionChoices() []string {
	return append([]string(nil), chat.Reactions...)
}

func (a *App) messageOp(roomID string, op func(*session.Session) (history.Message, error)) (Message, error) {
	if _, err := a.ready(); err != nil {
		return Message{}, err
	}
	r, ok := a.openSession(roomID)
	if !ok {
		return Message{}, toAPI(session.ErrPeerOffline)
	}
	m, err := op(r.sess)
	if err != nil {
		return Message{}, toAPI(err)
	}
	a.emit(EventRoomsChanged, Empty{})
	return messageOf(m), nil
}

// Typing tells the peer we are typing, at most once per chat.TypingInterval.
func (a *App) Typing(roomID string) error {
	if _, err := a.ready(); err != nil {
		return err
	}
	r, ok := a.openSession(roomID)
	if !ok {
		return nil
	}
	a.mu.Lock()
	now := time.Now()
	if now.Sub(a.lastTyping[roomID]) < chat.TypingInterval {
		a.mu.Unlock()
		return nil
	}
	a.lastTyping[roomID] = now
	a.mu.Unlock()
	r.sess.SendTyping()
	return nil
}

// Rename sets the room's local name ("" removes it).
func (a *App) Rename(roomID, name string) error {
	p, err := a.ready()
	if err != nil {
		return err
	}
	if err := p.History.Rename(roomID, strings.TrimSpace(name)); err != nil {
		return a.historyErr(err)
	}
	a.emit(EventRoomsChanged, Empty{})
	return nil
}

// ClearMessages deletes the room's messages on this computer only.
func (a *App) ClearMessages(roomID string) error {
	p, err := a.ready()
	if err != nil {
		return err
	}
	a.forgetImages(roomID)
	if err := p.History.ClearMessages(roomID); err != nil {
		return a.historyErr(err)
	}
	a.emit(EventRoomsChanged, Empty{})
	return nil
}

// Forget leaves the room if open and deletes it and its messages locally.
func (a *App) Forget(roomID string) error {
	p, err := a.ready()
	if err != nil {
		return err
	}
	if err := a.LeaveRoom(roomID); err != nil {
		a.log.Warn("leave before forget", "room", session.LogID(roomID), "err", err)
	}
	a.forgetImages(roomID)
	if err := p.History.Forget(roomID); err != nil {
		return a.historyErr(err)
	}
	a.mu.Lock()
	delete(a.lastCode, roomID)
	delete(a.lastTyping, roomID)
	a.mu.Unlock()
	a.emit(EventRoomsChanged, Empty{})
	return nil
}

func (a *App) historyErr(err error) error {
	if errors.Is(err, history.ErrRoomNotFound) {
		return apiErrorf(protocol.CodeRoomNotFound, "this room is not in your recent rooms")
	}
	return toAPI(err)
}

// TrustNewKey accepts the other person's changed key after the user
// compared the new safety number with them (RoomView.keyChange), and joins
// the room again. Messages the old key never acknowledged are not sent to
// the new one: they stay failed.
func (a *App) TrustNewKey(roomID string) (RoomView, error) {
	p, err := a.ready()
	if err != nil {
		return RoomView{}, err
	}
	hr, ok, err := p.History.Room(roomID)
	if err != nil {
		return RoomView{}, toAPI(err)
	}
	if !ok {
		return RoomView{}, apiErrorf(protocol.CodeRoomNotFound, "this room is not in your recent rooms")
	}
	if len(hr.NewPeerKey) == 0 {
		return RoomView{}, apiErrorf(CodeBadRequest, "the other person's key has not changed")
	}
	l, err := session.ParseLink(hr.Link)
	if err != nil {
		return RoomView{}, toAPI(err)
	}
	if err := p.History.TrustNewPeerKey(roomID); err != nil {
		return RoomView{}, toAPI(err)
	}
	a.log.Info("changed peer key trusted", "room", session.LogID(hr.ID))
	a.emit(EventRoomsChanged, Empty{})
	return a.join(p, l)
}

// DestroyRoom destroys the room: the other person's app is told over the
// verified connection (only that makes it wipe the room), then the server;
// both sides end with ROOM_DESTROYED and this side's history is wiped. A room that is not open is
// joined first (the server only takes a destroy from a participant).
func (a *App) DestroyRoom(roomID string) error {
	p, err := a.ready()
	if err != nil {
		return err
	}
	r, ok := a.openSession(roomID)
	if !ok {
		hr, known, err := p.History.Room(roomID)
		if err != nil {
			return toAPI(err)
		}
		if !known {
			return apiErrorf(protocol.CodeRoomNotFound, "this room is not in your recent rooms")
		}
		l, err := session.ParseLink(hr.Link)
		if err != nil {
			return toAPI(err)
		}
		if _, err := a.join(p, l); err != nil {
			return err
		}
		if r, ok = a.openSession(roomID); !ok {
			return apiErrorf(protocol.CodeRoomDestroyed, "the room ended while joining")
		}
	}
	ctx, cancel := context.WithTimeout(a.context(), createTimeout)
	defer cancel()
	if err := r.sess.Destroy(ctx); err != nil {
		return toAPI(network(err))
	}
	<-r.done
	return nil
}

// CopyLink puts the room's link on the clipboard (the webview's own
// clipboard API is denied).
func (a *App) CopyLink(roomID string) error {
	p, err := a.ready()
	if err != nil {
		return err
	}
	hr, ok, err := p.History.Room(roomID)
	if err != nil {
		return toAPI(err)
	}
	if !ok {
		return apiErrorf(protocol.CodeRoomNotFound, "this room is not in your recent rooms")
	}
	a.mu.Lock()
	w := a.win
	a.mu.Unlock()
	if err := w.SetClipboard(hr.Link); err != nil {
		return toAPI(fmt.Errorf("copy link: %w", err))
	}
	return nil
}

// CopyText puts text on the clipboard: the copy button of a code block in
// a message (the webview's own clipboard API is denied). Text longer than a
// message is refused (TOO_LONG), so the page cannot fill the clipboard
// with more than a peer could have sent.
func (a *App) CopyText(text string) error {
	if _, err := a.ready(); err != nil {
		return err
	}
	if len(text) > chat.MaxTextBytes {
		return apiErrorf(CodeTooLong, "at most %d bytes can be copied", chat.MaxTextBytes)
	}
	a.mu.Lock()
	w := a.win
	a.mu.Unlock()
	if err := w.SetClipboard(text); err != nil {
		return toAPI(fmt.Errorf("copy text: %w", err))
	}
	return nil
}

// OpenURL opens an http(s) address in the system browser.
func (a *App) OpenURL(rawURL string) error {
	if _, err := a.ready(); err != nil {
		return err
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return apiErrorf(CodeBadLink, "only http and https addresses can be opened")
	}
	a.mu.Lock()
	w := a.win
	a.mu.Unlock()
	w.OpenURL(u.String())
	return nil
}

// EnvDefaults fills cfg from the environment: PARLEY_SERVER,
// PARLEY_ICE_LOOPBACK and PARLEY_FAKE_MEDIA (plus the profile's PARLEY_*
// via profile.Options.FromEnv).
func EnvDefaults(cfg Config) Config {
	cfg.Profile = cfg.Profile.FromEnv()
	if cfg.DefaultServer == "" {
		if s, err := session.ServerURL(os.Getenv("PARLEY_SERVER")); err == nil && os.Getenv("PARLEY_SERVER") != "" {
			cfg.DefaultServer = s
		}
	}
	if os.Getenv("PARLEY_ICE_LOOPBACK") == "1" {
		cfg.LoopbackOnly = true
	}
	if os.Getenv("PARLEY_FAKE_MEDIA") == "1" {
		cfg.FakeMedia = true
	}
	return cfg
}
