// Package mediahub carries a call's encoded media from Go to the webview.
//
// The webview has no WebRTC, so pion terminates the call in Go and the UI
// decodes with WebCodecs. The hub is a WebSocket server on 127.0.0.1 with a
// random port and a random token: the UI connects to
// ws://127.0.0.1:PORT/media?token=T&room=ID and receives one binary message
// per encoded frame (docs/app-api.md, "Calls"):
//
//	byte 0       kind: 1 remote video (VP8), 2 local preview (VP8), 3 remote audio (Opus),
//	             4 remote screen (VP8), 5 local camera tile (VP8)
//	byte 1       flags: bit 0 keyframe
//	bytes 2-9    timestamp, microseconds, uint64 big-endian
//	bytes 10-11  width, 12-13 height (uint16 big-endian; 0 for audio)
//	bytes 14-    the encoded frame
//
// Media is real time: a subscriber that falls behind loses frames rather
// than delaying them. After a video frame is dropped, that stream skips to
// the next keyframe (a decoder fed a frame whose reference is missing shows
// garbage) and the hub asks the producer for one.
package mediahub

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Kind says what a frame is.
type Kind byte

// Frame kinds on the wire.
//
// RemoteVideo is the peer's camera (or the one video of an older peer);
// RemoteScreen the peer's shared screen, beside which their camera (if
// on) is a small tile; LocalPreview our screen while we share, else our
// camera; LocalCamera our camera while we share (a small tile).
const (
	RemoteVideo  Kind = 1
	LocalPreview Kind = 2
	RemoteAudio  Kind = 3
	RemoteScreen Kind = 4
	LocalCamera  Kind = 5
)

// HeaderSize is the size of a frame's header on the wire.
const HeaderSize = 14

// Frame is one encoded video frame or audio packet.
type Frame struct {
	Kind      Kind
	Keyframe  bool
	Timestamp time.Duration
	Width     uint16
	Height    uint16
	Data      []byte
}

// Encode returns f as one WebSocket message.
func (f Frame) Encode() []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(f.Data))
	b[0] = byte(f.Kind)
	if f.Keyframe {
		b[1] = 1
	}
	binary.BigEndian.PutUint64(b[2:10], uint64(f.Timestamp/time.Microsecond))
	binary.BigEndian.PutUint16(b[10:12], f.Width)
	binary.BigEndian.PutUint16(b[12:14], f.Height)
	return append(b, f.Data...)
}

// Decode parses one message made by Encode.
func Decode(b []byte) (Frame, error) {
	if len(b) < HeaderSize {
		return Frame{}, errors.New("mediahub: short frame")
	}
	k := Kind(b[0])
	if k < RemoteVideo || k > LocalCamera {
		return Frame{}, fmt.Errorf("mediahub: unknown kind %d", b[0])
	}
	return Frame{
		Kind:      k,
		Keyframe:  b[1]&1 != 0,
		Timestamp: time.Duration(binary.BigEndian.Uint64(b[2:10])) * time.Microsecond,
		Width:     binary.BigEndian.Uint16(b[10:12]),
		Height:    binary.BigEndian.Uint16(b[12:14]),
		Data:      b[HeaderSize:],
	}, nil
}

// Endpoint is what the UI needs to connect.
type Endpoint struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// queueLen is how many frames wait per subscriber: about half a second of
// video plus its audio.
const queueLen = 48

// Hub is the local media server. The zero value is not usable; use Start.
type Hub struct {
	log     *slog.Logger
	token   string
	url     string
	ln      net.Listener
	srv     *http.Server
	upgrade websocket.Upgrader
	// NeedKeyframe, when set before frames flow, is called (without the
	// hub's lock, possibly concurrently) when a subscriber of room needs
	// a video keyframe: it just connected, or frames were dropped.
	NeedKeyframe func(roomID string)

	mu     sync.Mutex
	subs   map[string]map[*sub]struct{}
	closed bool
	wg     sync.WaitGroup
}

type sub struct {
	room    string
	ws      *websocket.Conn
	out     chan []byte
	needKey [LocalCamera + 1]bool // per video kind: drop until a keyframe
	done    chan struct{}
}

// Start listens on a random loopback port.
func Start(log *slog.Logger) (*Hub, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("media server: %w", err)
	}
	var tok [24]byte
	_, _ = rand.Read(tok[:]) // crypto/rand.Read never fails on supported platforms
	h := &Hub{
		log:   log,
		token: base64.RawURLEncoding.EncodeToString(tok[:]),
		url:   "ws://" + ln.Addr().String() + "/media",
		ln:    ln,
		subs:  make(map[string]map[*sub]struct{}),
	}
	h.upgrade = websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 64 << 10,
		// The token is the credential; the webview's origin differs
		// between Wails builds (wails://wails, http://wails.localhost).
		CheckOrigin: func(*http.Request) bool { return true },
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /media", h.serveWS)
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	h.wg.Go(func() { _ = h.srv.Serve(ln) })
	return h, nil
}

// Endpoint returns the URL and token for the UI.
func (h *Hub) Endpoint() Endpoint { return Endpoint{URL: h.url, Token: h.token} }

func (h *Hub) serveWS(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("token")), []byte(h.token)) != 1 {
		http.Error(w, "bad token", http.StatusForbidden)
		return
	}
	room := q.Get("room")
	if room == "" || len(room) > 64 {
		http.Error(w, "bad room", http.StatusBadRequest)
		return
	}
	ws, err := h.upgrade.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	s := &sub{room: room, ws: ws, out: make(chan []byte, queueLen), done: make(chan struct{})}
	s.needKey[RemoteVideo], s.needKey[LocalPreview], s.needKey[RemoteScreen], s.needKey[LocalCamera] = true, true, true, true
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		ws.Close()
		return
	}
	if h.subs[room] == nil {
		h.subs[room] = make(map[*sub]struct{})
	}
	h.subs[room][s] = struct{}{}
	h.wg.Add(2) // this handler's read loop and the writer
	h.mu.Unlock()
	defer h.wg.Done()
	h.askKeyframe(room)
	go func() {
		defer h.wg.Done()
		h.write(s)
	}()
	// Read (and discard) until the UI goes away; this also answers pings
	// and notices the close.
	for {
		if _, _, err := ws.NextReader(); err != nil {
			break
		}
	}
	h.drop(s)
}

func (h *Hub) write(s *sub) {
	defer s.ws.Close()
	for {
		select {
		case b := <-s.out:
			_ = s.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if err := s.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
				h.drop(s)
				return
			}
		case <-s.done:
			_ = s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return
		}
	}
}

// drop unsubscribes s once.
func (h *Hub) drop(s *sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s.room][s]; !ok {
		return
	}
	delete(h.subs[s.room], s)
	if len(h.subs[s.room]) == 0 {
		delete(h.subs, s.room)
	}
	close(s.done)
}

// Subscribers returns how many UI connections watch room.
func (h *Hub) Subscribers(room string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[room])
}

// Publish hands f to every subscriber of room without blocking.
func (h *Hub) Publish(room string, f Frame) {
	var msg []byte
	needKey := false
	h.mu.Lock()
	for s := range h.subs[room] {
		video := f.Kind != RemoteAudio
		if video && s.needKey[f.Kind] {
			if !f.Keyframe {
				needKey = true
				continue
			}
			s.needKey[f.Kind] = false
		}
		if msg == nil {
			msg = f.Encode()
		}
		select {
		case s.out <- msg:
		default:
			if video {
				s.needKey[f.Kind] = true
				needKey = true
			}
		}
	}
	h.mu.Unlock()
	if needKey {
		h.askKeyframe(room)
	}
}

func (h *Hub) askKeyframe(room string) {
	if h.NeedKeyframe != nil {
		h.NeedKeyframe(room)
	}
}

// Close stops the server and disconnects every subscriber.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	for _, set := range h.subs {
		for s := range set {
			close(s.done)
			s.ws.Close()
		}
	}
	h.subs = map[string]map[*sub]struct{}{}
	h.mu.Unlock()
	err := h.srv.Close()
	h.wg.Wait()
	return err
}
