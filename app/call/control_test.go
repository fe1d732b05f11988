package call

import (
	"errors"
	"testing"
)

func TestControlRoundTrip(t *testing.T) {
	t.Parallel()
	for _, m := range []Control{
		{Type: TypeOffer, CallID: "c1", Kind: KindVideo},
		{Type: TypeRinging, CallID: "c1"},
		{Type: TypeAccept, CallID: "c1"},
		{Type: TypeDecline, CallID: "c1"},
		{Type: TypeHangup, CallID: "c1"},
		{Type: TypeMedia, CallID: "c1", Kind: KindAudio, Muted: true, CameraOff: true},
		{Type: TypeMedia, CallID: "c1", Kind: KindVideo, Screen: true},
		{Type: TypeOffer, CallID: "c1", Kind: KindAudio, Tile: true},
		{Type: TypeAccept, CallID: "c1", Tile: true},
		{Type: TypeMedia, CallID: "c1", Kind: KindVideo, Screen: true, Camera: true, Tile: true},
		{Type: TypeMedia, CallID: "c1", Kind: KindVideo, Camera: true, Tile: true},
		{Type: TypeMedia, CallID: "c1", Kind: KindVideo, Screen: true, Tile: true},
		{Type: TypeMedia, CallID: "c1", Kind: KindAudio, CameraOff: true, Tile: true},
	} {
		b, err := EncodeControl(m)
		if err != nil {
			t.Fatalf("encode %+v: %v", m, err)
		}
		got, err := DecodeControl(b)
		m.V = 1
		if err != nil || got != m {
			t.Fatalf("round trip %+v: got %+v, %v", m, got, err)
		}
	}
}

func TestDecodeControlRejects(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"not json":                   `{`,
		"version":                    `{"v":2,"type":"hangup","callId":"c"}`,
		"no call id":                 `{"v":1,"type":"hangup"}`,
		"unknown type":               `{"v":1,"type":"dance","callId":"c"}`,
		"offer no kind":              `{"v":1,"type":"offer","callId":"c"}`,
		"bad kind":                   `{"v":1,"type":"offer","callId":"c","kind":"smell"}`,
		"kind on accept":             `{"v":1,"type":"accept","callId":"c","kind":"audio"}`,
		"screen on offer":            `{"v":1,"type":"offer","callId":"c","kind":"video","screen":true}`,
		"screen on hangup":           `{"v":1,"type":"hangup","callId":"c","screen":true}`,
		"screen without video":       `{"v":1,"type":"media","callId":"c","kind":"audio","screen":true}`,
		"screen with the camera off": `{"v":1,"type":"media","callId":"c","kind":"video","cameraOff":true,"screen":true}`,
		"camera on offer":            `{"v":1,"type":"offer","callId":"c","kind":"video","camera":true,"tile":true}`,
		"camera on accept":           `{"v":1,"type":"accept","callId":"c","camera":true,"tile":true}`,
		"camera without tile":        `{"v":1,"type":"media","callId":"c","kind":"video","camera":true}`,
		"camera without video":       `{"v":1,"type":"media","callId":"c","kind":"audio","camera":true,"tile":true}`,
		"camera with video off":      `{"v":1,"type":"media","callId":"c","kind":"video","cameraOff":true,"camera":true,"tile":true}`,
		"tile video of nothing":      `{"v":1,"type":"media","callId":"c","kind":"video","tile":true}`,
		"tile on ringing":            `{"v":1,"type":"ringing","callId":"c","tile":true}`,
		"tile on hangup":             `{"v":1,"type":"hangup","callId":"c","tile":true}`,
		"camera not a bool":          `{"v":1,"type":"media","callId":"c","kind":"video","camera":1,"tile":true}`,
	} {
		if _, err := DecodeControl([]byte(in)); !errors.Is(err, ErrBadControl) {
			t.Errorf("%s: err %v, want ErrBadControl", name, err)
		}
	}
}

func FuzzDecodeControl(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"offer","callId":"c","kind":"video"}`))
	f.Add([]byte(`{"v":1,"type":"media","callId":"c","kind":"audio","muted":true}`))
	f.Add([]byte(`{"v":1,"type":"media","callId":"c","kind":"video","screen":true}`))
	f.Add([]byte(`{"v":1,"type":"media","callId":"c","kind":"video","screen":true,"camera":true,"tile":true}`))
	f.Add([]byte(`{"v":1,"type":"accept","callId":"c","tile":true}`))
	f.Add([]byte(`{"v":1,"type":"offer","callId":"c","kind":"audio","tile":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeControl(b)
		if err != nil {
			return
		}
		if _, err := EncodeControl(m); err != nil {
			t.Fatalf("decoded %+v does not encode: %v", m, err)
		}
	})
}
