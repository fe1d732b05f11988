package call

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/wave"
)

// Source names understood by Sources besides a device id ("" is the
// system default device).
const (
	SourceNone      = "none"
	SourceTestVideo = "testsrc"
	// SourceBusyVideo is a synthetic camera with a camera's entropy
	// (panning detail and sensor noise): VP8 needs 1-2 Mbit/s for it at
	// 640x480, where the test card compresses to very little.
	SourceBusyVideo = "testsrc-busy"
	SourceTestAudio = "sine"
)

// Errors of capture, mapped to the UI's codes by app.
var (
	ErrNoCamera         = errors.New("call: no camera found")
	ErrNoMicrophone     = errors.New("call: no microphone found")
	ErrDeviceBusy       = errors.New("call: the device is busy")
	ErrPermissionDenied = errors.New("call: permission to use the device was denied")
)

// Sources says what this side sends.
type Sources struct {
	// Video is a camera id, "" (the default camera), SourceTestVideo or
	// SourceNone. Audio likewise, with SourceTestAudio.
	Video, Audio string
	// Speaker is where the peer's voice plays when Config.Play ("" is the
	// default output).
	Speaker string
	// Width, Height and FPS of the video; 640x480 at 30 when zero. A
	// shared screen keeps its own size and sends at most maxScreenFPS.
	Width, Height, FPS int
	// Display is the X11 display a "screen" video shares ("" is $DISPLAY).
	Display string
	// Camera, when Video is a screen, is a camera (an id, SourceTestVideo,
	// ...) sent beside it as a small tile ("" or SourceNone: none).
	Camera string
}

// camera returns s with Video naming the camera to open: Camera when
// Video is a screen (parley-cli call --video screen --camera C).
func (s Sources) camera() Sources {
	if _, screen, _ := ParseScreenSource(s.Video); screen {
		s.Video = s.Camera
		if s.Video == "" {
			s.Video = SourceNone
		}
	}
	return s
}

func (s Sources) withDefaults() Sources {
	if s.Width <= 0 || s.Height <= 0 {
		s.Width, s.Height = 640, 480
	}
	if s.FPS <= 0 {
		s.FPS = 30
	}
	return s
}

// maxVideoBitrate is what the encoder may use at a given size when the
// path allows it (bits per second).
func maxVideoBitrate(w, h int) int {
	px := w * h
	switch {
	case px >= 1280*720:
		return 2_500_000
	case px >= 640*480:
		return 1_200_000
	default:
		return 600_000
	}
}

// localVideo is our camera while it sends.
type localVideo struct {
	track  *mediadevices.VideoTrack
	local  *sendTrack // what goes on the PeerConnection
	width  int
	height int
	fps    int
	// shaper sets the size and frame rate the encoder gets (adapt.go,
	// screen_adapt.go).
	shaper levelSetter
	// screen: the picture is a shared screen (screen_adapt.go's ladder).
	screen bool
	// previewing: the UI gets a preview of it (startPreviewLocked), whose
	// encoder previewKey forces keyframes. Under the Manager's lock.
	previewing bool
	previewKey codec.KeyFrameController
}

// setTile makes a camera a small tile (beside a shared screen) or full
// size again; the encoder starts a new stream at the new size.
func (v *localVideo) setTile(on bool) {
	if sh, ok := v.shaper.(*videoShaper); ok {
		sh.tile.Store(on)
	}
}

// localAudio is our microphone while it sends; muted sends silence (the
// track and its timing stay, so unmuting is instant).
type localAudio struct {
	track *mediadevices.AudioTrack
	local *sendTrack // what goes on the PeerConnection
	muted atomic.Bool
}

// silence returns a chunk of the same shape as c with every sample zero.
func silence(c wave.Audio) wave.Audio {
	info := c.ChunkInfo()
	return wave.NewInt16Interleaved(info)
}

// Device is a capture device.
type Device struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// Devices lists cameras and microphones. miniaudio's "null" device (there
// when the machine has no sound at all) is not a microphone.
func Devices() (cams, mics []Device) {
	for _, d := range devices() {
		switch d.kind {
		case mediadevices.VideoInput:
			cams = append(cams, Device{ID: d.id, Label: d.label})
		case mediadevices.AudioInput:
			mics = append(mics, Device{ID: d.id, Label: d.label})
		}
	}
	return cams, mics
}

type deviceInfo struct {
	id, label string
	kind      mediadevices.MediaDeviceType
}

func devices() []deviceInfo {
	var out []deviceInfo
	for _, d := range driver.GetManager().Query(driver.FilterFn(func(driver.Driver) bool { return true })) {
		info := d.Info()
		di := deviceInfo{id: d.ID(), label: info.Name}
		if di.label == "" {
			di.label = info.Label
		}
		switch {
		case driver.FilterVideoRecorder()(d):
			di.kind = mediadevices.VideoInput
		case driver.FilterAudioRecorder()(d):
			// hex of "null": malgo's null backend, no real microphone
			if info.Label == "6e756c6c" || strings.EqualFold(info.Name, "null") || strings.HasPrefix(strings.ToLower(info.Name), "null ") {
				continue
			}
			di.kind = mediadevices.AudioInput
		default:
			continue
		}
		out = append(out, di)
	}
	return out
}

// hasDevice reports whether a device of kind exists (any, for id "").
func hasDevice(kind mediadevices.MediaDeviceType, id string) bool {
	for _, d := range devices() {
		if d.kind == kind && (id == "" || d.id == id) {
			return true
		}
	}
	return false
}

// deviceError maps an open failure to what the user can act on.
func deviceError(err error, missing error) error {
	switch {
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("%w: %v", ErrDeviceBusy, err)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM), errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w: %v", ErrPermissionDenied, err)
	case strings.Contains(strings.ToLower(err.Error()), "busy"):
		return fmt.Errorf("%w: %v", ErrDeviceBusy, err)
	case strings.Contains(strings.ToLower(err.Error()), "permission"):
		return fmt.Errorf("%w: %v", ErrPermissionDenied, err)
	default:
		return fmt.Errorf("%w: %v", missing, err)
	}
}

// CheckSources reports a capture device that src names (or defaults to)
// and that does not exist, before anyone waits for a peer. The camera is
// optional (a call goes on with sound only), so only the microphone and
// an explicitly named camera count.
func CheckSources(src Sources) error {
	switch src.Audio {
	case SourceNone, SourceTestAudio:
	default:
		if !hasDevice(mediadevices.AudioInput, src.Audio) {
			return ErrNoMicrophone
		}
	}
	if t, screen, err := ParseScreenSource(src.Video); screen {
		if err != nil {
			return fmt.Errorf("%w: %v", ErrScreenUnavailable, err)
		}
		if err := checkScreenCapture(src.Display, t); err != nil {
			return err
		}
		return checkCamera(src.Camera)
	}
	return checkCamera(src.Video)
}

// checkCamera reports a camera that src names and that does not exist.
func checkCamera(video string) error {
	switch video {
	case SourceNone, SourceTestVideo, SourceBusyVideo, "":
	default:
		if !hasDevice(mediadevices.VideoInput, video) {
			return ErrNoCamera
		}
	}
	return nil
}
