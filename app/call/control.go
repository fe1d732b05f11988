// Package call runs audio/video calls over a verified peer.Conn: the call
// control messages below travel on their own pre-negotiated data channel
// (peer.ChannelCall, see peer.Conn.Stream), media on pion tracks
// added with peer.Conn.AddTrack. It must not touch the chat or files
// channels.
package call

import (
	"encoding/json"
	"errors"
	"fmt"
)

// maxControlBytes bounds one control message; real ones are tiny.
const maxControlBytes = 256

// Type is the kind of a control message.
type Type string

// Control message types. A call is offered, rings, and is accepted or
// declined; either side may hang up at any time; media reports mute and
// camera state.
const (
	TypeOffer   Type = "offer"
	TypeRinging Type = "ringing"
	TypeAccept  Type = "accept"
	TypeDecline Type = "decline"
	TypeHangup  Type = "hangup"
	TypeMedia   Type = "media"
)

// Kind is what a call carries.
type Kind string

// Call kinds.
const (
	KindAudio Kind = "audio"
	KindVideo Kind = "video"
)

// ErrBadControl is returned for a control message that does not parse or
// breaks the rules below.
var ErrBadControl = errors.New("call: bad control message")

// Control is one call control message. Kind is set on offer and media
// (switching audio and video mid-call is a media message); Muted,
// CameraOff, Screen and Camera only on media.
//
// Video on a media message: Kind "video" and CameraOff false mean some
// video sends (for every version). Screen says a shared screen sends (a
// peer from before screen sharing ignores it and shows the screen as a
// camera picture); Camera that the camera sends too, as a second track
// (track id "camera" beside "screen"). Tile, on offer, accept and media,
// says the sender shows the peer's camera as a tile beside its screen:
// only then does a sharer send both; to a peer without it (an older
// Parley, which shows any video it receives on one stage) the screen
// replaces the camera, as before. Without Tile, Camera is not set, and
// the one video is the screen when Screen is set, else the camera.
type Control struct {
	V         int    `json:"v"`
	Type      Type   `json:"type"`
	CallID    string `json:"callId"`
	Kind      Kind   `json:"kind,omitempty"`
	Muted     bool   `json:"muted,omitempty"`
	CameraOff bool   `json:"cameraOff,omitempty"`
	Screen    bool   `json:"screen,omitempty"`
	Camera    bool   `json:"camera,omitempty"`
	Tile      bool   `json:"tile,omitempty"`
}

// EncodeControl returns the wire form of m (version 1 JSON).
func EncodeControl(m Control) ([]byte, error) {
	m.V = 1
	if err := m.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// DecodeControl parses and validates one message from the other side.
func DecodeControl(b []byte) (Control, error) {
	if len(b) > maxControlBytes {
		return Control{}, fmt.Errorf("%w: %d bytes", ErrBadControl, len(b))
	}
	var m Control
	if err := json.Unmarshal(b, &m); err != nil {
		return Control{}, fmt.Errorf("%w: %v", ErrBadControl, err)
	}
	if err := m.validate(); err != nil {
		return Control{}, err
	}
	return m, nil
}

func (m Control) validate() error {
	if m.V != 1 {
		return fmt.Errorf("%w: version %d", ErrBadControl, m.V)
	}
	if m.CallID == "" || len(m.CallID) > 64 {
		return fmt.Errorf("%w: call id", ErrBadControl)
	}
	switch m.Type {
	case TypeOffer, TypeMedia:
		if m.Kind != KindAudio && m.Kind != KindVideo {
			return fmt.Errorf("%w: kind %q", ErrBadControl, m.Kind)
		}
		video := m.Type == TypeMedia && m.Kind == KindVideo && !m.CameraOff
		if m.Screen && !video {
			return fmt.Errorf("%w: screen on %s without video", ErrBadControl, m.Type)
		}
		if m.Camera && (!video || !m.Tile) {
			return fmt.Errorf("%w: camera on %s without video or tile", ErrBadControl, m.Type)
		}
		if video && m.Tile && !m.Screen && !m.Camera {
			return fmt.Errorf("%w: video on, but neither screen nor camera", ErrBadControl)
		}
	case TypeAccept:
		if m.Kind != "" || m.Muted || m.CameraOff || m.Screen || m.Camera {
			return fmt.Errorf("%w: fields on %s", ErrBadControl, m.Type)
		}
	case TypeRinging, TypeDecline, TypeHangup:
		if m.Kind != "" || m.Muted || m.CameraOff || m.Screen || m.Camera || m.Tile {
			return fmt.Errorf("%w: fields on %s", ErrBadControl, m.Type)
		}
	default:
		return fmt.Errorf("%w: type %q", ErrBadControl, m.Type)
	}
	return nil
}
