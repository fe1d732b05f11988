//go:build linux && cgo

package call

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"
)

// Wayland screen capture goes through the desktop portal
// (xdg-desktop-portal's ScreenCast interface over the session D-Bus): the
// portal asks the user what to share and hands out a PipeWire stream of
// it (screen_pipewire.go). Everything the portal answers is checked
// before use: it is another process on the bus.

const (
	portalName       = "org.freedesktop.portal.Desktop"
	portalPath       = dbus.ObjectPath("/org/freedesktop/portal/desktop")
	portalScreenCast = "org.freedesktop.portal.ScreenCast"
	portalRequest    = "org.freedesktop.portal.Request"
	portalSession    = "org.freedesktop.portal.Session"
)

// ScreenCast source types and cursor modes (bit masks in the portal's API).
const (
	portalSourceMonitor  = 1
	portalSourceWindow   = 2
	portalCursorHidden   = 1
	portalCursorEmbedded = 2
)

// maxPortalStreams is the most streams a Start answer may list (one is
// asked for; a portal may offer a few, of which the first is shared).
const maxPortalStreams = 8

// How long the portal has to answer: at once for the bookkeeping calls, a
// while for the ones that may show the user a picker.
const (
	portalQuickTimeout  = 20 * time.Second
	portalCloseTimeout  = 2 * time.Second
	portalPickerTimeout = 3 * time.Minute
)

// errPortalCancelled is the user's "Cancel" in the portal's screen picker.
var errPortalCancelled = errors.New("you cancelled the screen picker")

// portalInfo is what the ScreenCast interface says it can do.
type portalInfo struct {
	version uint32
	sources uint32 // portalSource* bits
	cursors uint32 // portalCursor* bits
}

// parsePortalInfo reads the ScreenCast properties (GetAll's a{sv}).
func parsePortalInfo(props map[string]dbus.Variant) (portalInfo, error) {
	var in portalInfo
	var ok bool
	if in.version, ok = variantUint32(props, "version"); !ok || in.version < 1 {
		return in, errors.New("the desktop portal's ScreenCast has no usable version")
	}
	if in.sources, ok = variantUint32(props, "AvailableSourceTypes"); !ok || in.sources&(portalSourceMonitor|portalSourceWindow) == 0 {
		return in, errors.New("the desktop portal's ScreenCast offers neither monitors nor windows to share")
	}
	in.cursors, _ = variantUint32(props, "AvailableCursorModes") // version 2 on; absent is none
	return in, nil
}

// selectOptions are SelectSources' options for what the portal offers:
// monitors and windows, one of them, the cursor drawn into the picture
// when the portal can, else hidden.
func (in portalInfo) selectOptions() map[string]dbus.Variant {
	opts := map[string]dbus.Variant{
		"types":    dbus.MakeVariant(in.sources & (portalSourceMonitor | portalSourceWindow)),
		"multiple": dbus.MakeVariant(false),
	}
	switch {
	case in.version < 2:
	case in.cursors&portalCursorEmbedded != 0:
		opts["cursor_mode"] = dbus.MakeVariant(uint32(portalCursorEmbedded))
	case in.cursors&portalCursorHidden != 0:
		opts["cursor_mode"] = dbus.MakeVariant(uint32(portalCursorHidden))
	}
	return opts
}

func variantUint32(m map[string]dbus.Variant, key string) (uint32, bool) {
	v, ok := m[key]
	if !ok {
		return 0, false
	}
	u, ok := v.Value().(uint32)
	return u, ok
}

// portalStream is one stream of a Start answer.
type portalStream struct {
	node          uint32
	width, height int32 // 0 when the portal did not say
}

// parseSessionHandle reads CreateSession's results: the session's object
// path, which must lie under the portal's session tree.
func parseSessionHandle(results map[string]dbus.Variant) (dbus.ObjectPath, error) {
	v, ok := results["session_handle"]
	if !ok {
		return "", errors.New("the desktop portal's CreateSession answer has no session")
	}
	var s string
	switch x := v.Value().(type) {
	case string: // the documented type
		s = x
	case dbus.ObjectPath: // seen in some portals
		s = string(x)
	default:
		return "", errors.New("the desktop portal's session handle is not a string")
	}
	p := dbus.ObjectPath(s)
	if !p.IsValid() || !strings.HasPrefix(s, string(portalPath)+"/session/") || len(s) > 255 {
		return "", errors.New("the desktop portal's session handle is not a portal session path")
	}
	return p, nil
}

// parseStreams reads Start's results: streams a(ua{sv}), each a PipeWire
// node id and properties, of which the size (ii) is used when present.
func parseStreams(results map[string]dbus.Variant) ([]portalStream, error) {
	v, ok := results["streams"]
	if !ok {
		return nil, errors.New("the desktop portal shared no stream")
	}
	// godbus decodes a(ua{sv}) into [][]interface{}: each element a
	// struct of two fields.
	raw, ok := v.Value().([][]interface{})
	if !ok {
		return nil, fmt.Errorf("the desktop portal's streams have the type %s, not a(ua{sv})", v.Signature())
	}
	if len(raw) == 0 {
		return nil, errors.New("the desktop portal shared no stream")
	}
	if len(raw) > maxPortalStreams {
		return nil, fmt.Errorf("the desktop portal shared %d streams; at most %d are expected", len(raw), maxPortalStreams)
	}
	out := make([]portalStream, 0, len(raw))
	for _, fields := range raw {
		if len(fields) != 2 {
			return nil, errors.New("a stream in the desktop portal's answer is malformed")
		}
		node, ok1 := fields[0].(uint32)
		props, ok2 := fields[1].(map[string]dbus.Variant)
		if !ok1 || !ok2 {
			return nil, errors.New("a stream in the desktop portal's answer is malformed")
		}
		s := portalStream{node: node}
		if sz, ok := props["size"]; ok {
			wh, ok := sz.Value().([]interface{})
			if !ok || len(wh) != 2 {
				return nil, errors.New("a stream's size in the desktop portal's answer is malformed")
			}
			w, ok1 := wh[0].(int32)
			h, ok2 := wh[1].(int32)
			if !ok1 || !ok2 {
				return nil, errors.New("a stream's size in the desktop portal's answer is malformed")
			}
			if w < 1 || h < 1 || w > 16384 || h > 16384 {
				return nil, errors.New("a stream's size in the desktop portal's answer is out of range")
			}
			s.width, s.height = w, h
		}
		out = append(out, s)
	}
	return out, nil
}

// parseResponse reads a Request's Response signal: (u response, a{sv}
// results). 0 is success; 1 is the user's cancel; anything else failed.
func parseResponse(body []interface{}) (map[string]dbus.Variant, error) {
	if len(body) != 2 {
		return nil, errors.New("the desktop portal's answer is malformed")
	}
	code, ok1 := body[0].(uint32)
	results, ok2 := body[1].(map[string]dbus.Variant)
	if !ok1 || !ok2 {
		return nil, errors.New("the desktop portal's answer is malformed")
	}
	switch code {
	case 0:
		return results, nil
	case 1:
		return nil, errPortalCancelled
	default:
		return nil, fmt.Errorf("the desktop portal refused the screen share (response %d)", code)
	}
}

// sessionBusAddress is the session bus to reach the portal on. godbus's
// own lookup would start a bus (dbus-launch) when there is none, and
// sets DBUS_SESSION_BUS_ADDRESS for the whole process: neither here.
func sessionBusAddress() (string, error) {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return a, nil
	}
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		if fi, err := os.Stat(rt + "/bus"); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return "unix:path=" + rt + "/bus", nil
		}
	}
	return "", errors.New("there is no session D-Bus to reach the desktop portal on (DBUS_SESSION_BUS_ADDRESS is not set)")
}

// portalConn is one connection to the portal, and the screen-cast
// session on it once there is one.
type portalConn struct {
	conn    *dbus.Conn
	obj     dbus.BusObject
	info    portalInfo
	signals chan *dbus.Signal
	session dbus.ObjectPath
	// owner is the portal's unique bus name: signals from anyone else
	// (any process of the user may send one to us) are not its answers.
	owner string
	end   context.CancelFunc // ends the connection's own context
}

// dialPortal connects to the session bus and reads what the ScreenCast
// portal can do; every failure is a sentence saying what is missing.
// ctx bounds the dial only: the connection lives until close (godbus
// closes a connection when its context ends, and a share keeps its
// connection past the wait for the picker that ctx also bounds).
func dialPortal(ctx context.Context) (p *portalConn, err error) {
	addr, err := sessionBusAddress()
	if err != nil {
		return nil, err
	}
	life, end := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, end)
	defer func() {
		if !stop() && err == nil {
			// ctx ended as the dial finished, and the connection with it.
			p, err = nil, errors.New("the desktop portal did not answer")
		}
		if err != nil {
			end()
		}
	}()
	conn, err := dbus.Connect(addr, dbus.WithContext(life))
	if err != nil {
		return nil, fmt.Errorf("the session D-Bus cannot be reached (%v)", err)
	}
	p = &portalConn{conn: conn, obj: conn.Object(portalName, portalPath), signals: make(chan *dbus.Signal, 16), end: end}
	conn.Signal(p.signals)
	var props map[string]dbus.Variant
	err = p.obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.GetAll", 0, portalScreenCast).Store(&props)
	if err != nil {
		_ = conn.Close()
		var de dbus.Error
		switch {
		case errors.As(err, &de) && (de.Name == "org.freedesktop.DBus.Error.ServiceUnknown" || de.Name == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
			strings.HasPrefix(de.Name, "org.freedesktop.DBus.Error.Spawn")):
			return nil, errors.New("no desktop portal is running on the session D-Bus (install xdg-desktop-portal and your desktop's portal: xdg-desktop-portal-gnome, -kde or -wlr)")
		case errors.As(err, &de) && (de.Name == "org.freedesktop.DBus.Error.InvalidArgs" || de.Name == "org.freedesktop.DBus.Error.UnknownInterface"):
			return nil, errors.New("the desktop portal cannot share screens (no ScreenCast: install your desktop's portal, xdg-desktop-portal-gnome, -kde or -wlr)")
		case ctx.Err() != nil:
			return nil, errors.New("the desktop portal did not answer")
		default:
			return nil, fmt.Errorf("asking the desktop portal about screen casting failed (%v)", err)
		}
	}
	if p.info, err = parsePortalInfo(props); err != nil {
		_ = conn.Close()
		return nil, err
	}
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, portalName).Store(&p.owner); err != nil || p.owner == "" {
		_ = conn.Close()
		return nil, fmt.Errorf("the desktop portal's bus name has no owner (%v)", err)
	}
	return p, nil
}

// request calls a portal method that answers through a Request object's
// Response signal. The signal is subscribed to before the call (at the
// path the portal will use for our handle_token), so the answer cannot be
// missed; the call waits at most timeout.
func (p *portalConn) request(parent context.Context, method string, timeout time.Duration, opts map[string]dbus.Variant, args ...interface{}) (map[string]dbus.Variant, error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	late := func() error {
		if err := parent.Err(); err != nil {
			return fmt.Errorf("the request to the desktop portal (%s) was withdrawn: %w", method, err)
		}
		return fmt.Errorf("the desktop portal did not answer %s within %v", method, timeout)
	}
	token := newPortalToken()
	names := p.conn.Names()
	if len(names) == 0 {
		return nil, errors.New("the session D-Bus gave us no name")
	}
	sender := strings.ReplaceAll(strings.TrimPrefix(names[0], ":"), ".", "_")
	want := dbus.ObjectPath(string(portalPath) + "/request/" + sender + "/" + token)
	match := []dbus.MatchOption{dbus.WithMatchInterface(portalRequest), dbus.WithMatchMember("Response"), dbus.WithMatchObjectPath(want)}
	if err := p.conn.AddMatchSignalContext(ctx, match...); err != nil {
		return nil, fmt.Errorf("subscribing to the desktop portal's answer failed (%v)", err)
	}
	defer func() { _ = p.conn.RemoveMatchSignal(match...) }()
	opts["handle_token"] = dbus.MakeVariant(token)
	var handle dbus.ObjectPath
	if err := p.obj.CallWithContext(ctx, portalScreenCast+"."+method, 0, append(args, opts)...).Store(&handle); err != nil {
		if ctx.Err() != nil {
			return nil, late()
		}
		return nil, fmt.Errorf("the desktop portal's %s failed (%v)", method, err)
	}
	if handle != want {
		// A portal older than handle_token (before 0.9) picks its own
		// path; its answer can only be waited for from here on.
		if !handle.IsValid() || !strings.HasPrefix(string(handle), string(portalPath)+"/request/") {
			return nil, fmt.Errorf("the desktop portal's %s answered with a bad request path", method)
		}
		old := []dbus.MatchOption{dbus.WithMatchInterface(portalRequest), dbus.WithMatchMember("Response"), dbus.WithMatchObjectPath(handle)}
		if err := p.conn.AddMatchSignalContext(ctx, old...); err == nil {
			defer func() { _ = p.conn.RemoveMatchSignal(old...) }()
		}
	}
	for {
		select {
		case <-ctx.Done():
			// Withdraw the request (closes a picker still on screen): the
			// wait timed out, or the call it was for ended.
			// Go, not Call: godbus's Call never returns for a message
			// without reply on a connection that closed.
			_ = p.conn.Object(portalName, handle).Go(portalRequest+".Close", dbus.FlagNoReplyExpected, nil)
			return nil, late()
		case sig, ok := <-p.signals:
			if !ok {
				return nil, errors.New("the session D-Bus connection closed")
			}
			if sig.Sender != p.owner || sig.Name != portalRequest+".Response" || (sig.Path != handle && sig.Path != want) {
				continue
			}
			return parseResponse(sig.Body)
		}
	}
}

func newPortalToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "parley_" + hex.EncodeToString(b)
}

// start runs the screen-cast dialogue: a session, the sources (the user
// picks in the portal's dialog), the stream, and the PipeWire connection
// it flows on. On success the caller owns fd and must closeSession.
func (p *portalConn) start(ctx context.Context) (fd int, stream portalStream, err error) {
	res, err := p.request(ctx, "CreateSession", portalQuickTimeout,
		map[string]dbus.Variant{"session_handle_token": dbus.MakeVariant(newPortalToken())})
	if err != nil {
		return -1, stream, err
	}
	if p.session, err = parseSessionHandle(res); err != nil {
		return -1, stream, err
	}
	if _, err = p.request(ctx, "SelectSources", portalPickerTimeout, p.info.selectOptions(), p.session); err != nil {
		return -1, stream, err
	}
	if res, err = p.request(ctx, "Start", portalPickerTimeout, map[string]dbus.Variant{}, p.session, ""); err != nil {
		return -1, stream, err
	}
	streams, err := parseStreams(res)
	if err != nil {
		return -1, stream, err
	}
	cctx, cancel := context.WithTimeout(ctx, portalQuickTimeout)
	defer cancel()
	var ufd dbus.UnixFD
	if err := p.obj.CallWithContext(cctx, portalScreenCast+".OpenPipeWireRemote", 0, p.session, map[string]dbus.Variant{}).Store(&ufd); err != nil {
		return -1, stream, fmt.Errorf("the desktop portal did not open the PipeWire connection (%v)", err)
	}
	if ufd < 0 {
		return -1, stream, errors.New("the desktop portal gave no PipeWire connection")
	}
	return int(ufd), streams[0], nil
}

// close ends the screen-cast session (the portal stops the stream and
// its "sharing" indicator) and the bus connection.
func (p *portalConn) close() {
	if p.session != "" {
		// Bounded: a portal that no longer answers must not hold the
		// call (this runs when sharing stops); it closes the session
		// itself when our connection goes.
		ctx, cancel := context.WithTimeout(context.Background(), portalCloseTimeout)
		_ = p.conn.Object(portalName, p.session).CallWithContext(ctx, portalSession+".Close", 0).Err
		cancel()
		p.session = ""
	}
	_ = p.conn.Close()
	p.end()
}

func closeFD(fd int) {
	if fd >= 0 {
		_ = syscall.Close(fd)
	}
}

// portalScreen is a screen (or window) shared through the portal.
type portalScreen struct {
	*pwStream
	once   sync.Once
	portal *portalConn
}

func (s *portalScreen) close() {
	s.once.Do(func() {
		s.pwStream.close()
		s.portal.close()
	})
}

// checkPortal reports whether Wayland screen capture can work here (the
// portal can screen-cast and libpipewire loads) without asking the user
// anything: a nil error means the picker will be shown when sharing
// starts.
func checkPortal(ctx context.Context) error {
	p, err := dialPortal(ctx)
	if err != nil {
		return err
	}
	p.close()
	return pipewireLoadable()
}

// openPortalScreen asks the portal for a screen (its picker) and starts
// receiving it.
func openPortalScreen(ctx context.Context) (*portalScreen, error) {
	if err := pipewireLoadable(); err != nil {
		return nil, err
	}
	p, err := dialPortal(ctx)
	if err != nil {
		return nil, err
	}
	fd, st, err := p.start(ctx)
	if err != nil {
		p.close()
		return nil, err
	}
	pw, err := openPipeWireStream(fd, st.node)
	if err != nil {
		p.close()
		return nil, err
	}
	return &portalScreen{pwStream: pw, portal: p}, nil
}
