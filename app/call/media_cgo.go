//go:build cgo

package call

// The codecs (libvpx, libopus) and the capture drivers (miniaudio) are C:
// a build without cgo gets the stubs of media_nocgo.go instead, and has
// no calls.

import (
	"context"
	"errors"
	"fmt"

	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/codec/opus"
	// The real capture drivers register cameras (v4l2) and microphones
	// (miniaudio, which loads PulseAudio or ALSA at run time) when the
	// program starts: that is how mediadevices finds devices.
	_ "github.com/pion/mediadevices/pkg/driver/camera"
	_ "github.com/pion/mediadevices/pkg/driver/microphone"
	"github.com/pion/mediadevices/pkg/io/audio"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
	"github.com/pion/mediadevices/pkg/wave"
)

// videoParams are the VP8 settings of every call: real time, error
// resilient, a keyframe every 3 s so a receiver that missed one recovers
// even without PLI (vp8enc.go). Until the first estimate (adapt): no more
// than a link the size of the congestion controller's starting estimate
// carries.
func videoParams(w, h, fps int) *vp8Params {
	return &vp8Params{bitrate: min(maxVideoBitrate(w, h), startVideoBitrate), fps: fps}
}

func audioParams() (*opus.Params, error) {
	p, err := opus.NewParams()
	if err != nil {
		return nil, fmt.Errorf("call: opus: %w", err)
	}
	p.BitRate = 32_000
	return &p, nil
}

// openVideo starts the camera named by spec.
func openVideo(src Sources) (*localVideo, error) {
	src = src.withDefaults()
	params := videoParams(src.Width, src.Height, src.FPS)
	sel := mediadevices.NewCodecSelector(mediadevices.WithVideoEncoders(params))
	var t mediadevices.Track
	switch src.Video {
	case SourceNone:
		return nil, nil
	case SourceTestVideo:
		t = mediadevices.NewVideoTrack(newTestVideo("parley-testsrc", src.Width, src.Height, src.FPS), sel)
	case SourceBusyVideo:
		t = mediadevices.NewVideoTrack(newBusyVideo("parley-testsrc-busy", src.Width, src.Height, src.FPS), sel)
	default:
		if t, screen, err := ParseScreenSource(src.Video); screen {
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrScreenUnavailable, err)
			}
			// parley-cli's --video screen, opened at the call's start.
			return openScreenVideo(context.Background(), src, t)
		}
		if !hasDevice(mediadevices.VideoInput, src.Video) {
			return nil, ErrNoCamera
		}
		stream, err := mediadevices.GetUserMedia(mediadevices.MediaStreamConstraints{
			Video: func(c *mediadevices.MediaTrackConstraints) {
				if src.Video != "" {
					c.DeviceID = prop.String(src.Video)
				}
				c.Width = prop.Int(src.Width)
				c.Height = prop.Int(src.Height)
				c.FrameRate = prop.Float(float32(src.FPS))
			},
			Codec: sel,
		})
		if err != nil {
			return nil, deviceError(err, ErrNoCamera)
		}
		ts := stream.GetVideoTracks()
		if len(ts) == 0 {
			return nil, ErrNoCamera
		}
		t = ts[0]
	}
	vt, ok := t.(*mediadevices.VideoTrack)
	if !ok {
		_ = t.Close()
		return nil, errors.New("call: camera gave no video track")
	}
	sh := &videoShaper{srcFPS: src.FPS}
	vt.Transform(sh.transform)
	return &localVideo{track: vt, local: newSendTrack(vt), width: src.Width, height: src.Height, fps: src.FPS, shaper: sh}, nil
}

// openScreenVideo shares a screen or a window of src.Display at its own
// size (a window's follows it), at most maxScreenFPS, with the screen
// encoder settings (vp8Params.screen). ctx ends a wait for the desktop's
// picker (Wayland).
func openScreenVideo(ctx context.Context, src Sources, t ScreenTarget) (*localVideo, error) {
	c, err := openScreenCapture(ctx, src.Display, t)
	if err != nil {
		return nil, err
	}
	w, h := c.size()
	ss := newScreenSource("parley-screen", c, src.FPS)
	params := &vp8Params{bitrate: min(maxScreenBitrate(w, h, ss.fps), startVideoBitrate), fps: ss.fps, screen: true}
	vt, ok := mediadevices.NewVideoTrack(ss, mediadevices.NewCodecSelector(mediadevices.WithVideoEncoders(params))).(*mediadevices.VideoTrack)
	if !ok {
		_ = ss.Close()
		return nil, errors.New("call: screen gave no video track")
	}
	return &localVideo{track: vt, local: newSendTrack(vt), width: w, height: h, fps: ss.fps, shaper: ss, screen: true}, nil
}

// preview encodes a half-size copy of the camera for the local preview.
func (v *localVideo) preview() (codec.ReadCloser, int, int, error) {
	w, h := v.width/2&^1, v.height/2&^1
	r := video.Scale(w, h, nil)(v.track.NewReader(false))
	params := videoParams(w, h, 30)
	params.bitrate = 300_000
	enc, err := params.BuildVideoEncoder(r, prop.Media{Video: prop.Video{Width: w, Height: h, FrameRate: 30}})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("call: preview encoder: %w", err)
	}
	return enc, w, h, nil
}

func openAudio(src Sources) (*localAudio, error) {
	params, err := audioParams()
	if err != nil {
		return nil, err
	}
	sel := mediadevices.NewCodecSelector(mediadevices.WithAudioEncoders(params))
	var t mediadevices.Track
	switch src.Audio {
	case SourceNone:
		return nil, nil
	case SourceTestAudio:
		t = mediadevices.NewAudioTrack(newTestAudio("parley-sine"), sel)
	default:
		if !hasDevice(mediadevices.AudioInput, src.Audio) {
			return nil, ErrNoMicrophone
		}
		stream, err := mediadevices.GetUserMedia(mediadevices.MediaStreamConstraints{
			Audio: func(c *mediadevices.MediaTrackConstraints) {
				if src.Audio != "" {
					c.DeviceID = prop.String(src.Audio)
				}
				c.SampleRate = prop.Int(audioRate)
				c.Latency = prop.Duration(audioChunk)
			},
			Codec: sel,
		})
		if err != nil {
			return nil, deviceError(err, ErrNoMicrophone)
		}
		ts := stream.GetAudioTracks()
		if len(ts) == 0 {
			return nil, ErrNoMicrophone
		}
		t = ts[0]
	}
	at, ok := t.(*mediadevices.AudioTrack)
	if !ok {
		_ = t.Close()
		return nil, errors.New("call: microphone gave no audio track")
	}
	a := &localAudio{track: at, local: newSendTrack(at)}
	at.Transform(func(r audio.Reader) audio.Reader {
		return audio.ReaderFunc(func() (wave.Audio, func(), error) {
			chunk, release, err := r.Read()
			if err == nil && a.muted.Load() {
				chunk = silence(chunk)
			}
			return chunk, release, err
		})
	})
	return a, nil
}
