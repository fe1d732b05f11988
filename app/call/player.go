//go:build cgo

package call

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"github.com/gen2brain/malgo"
)

// The peer's voice is played in Go, not in the webview: WebKitGTK 2.50's
// AudioData.copyTo and audio output corrupt the page process's heap (it
// dies with "free(): invalid pointer" seconds into a call; measured by
// the window test), and playing here lets the user pick the speaker,
// which the webview cannot (no setSinkId).
const (
	// playPrime is how much sound waits before playback starts (and starts
	// again after running dry): enough to ride out network jitter.
	playPrime = audioRate * 40 / 1000
	// playMax is the most that may wait; older samples are dropped so the
	// voice never lags behind by more.
	playMax = audioRate * 80 / 1000
)

// player plays 48 kHz mono samples on a speaker through miniaudio.
type player struct {
	ctx *malgo.AllocatedContext
	dev *malgo.Device

	mu      sync.Mutex
	buf     []int16
	playing bool
	played  int // samples of sound handed to the device
}

// newPlayer opens the speaker with id ("" for the default) and starts it.
// When that fails it tries the default and then every other output in
// turn: a machine without a sound card still has ALSA's "null" output,
// so the call goes on, silently.
func newPlayer(id string) (*player, error) {
	ctx, err := malgo.InitContext(nil, malgo.ContextConfig{}, nil)
	if err != nil {
		return nil, fmt.Errorf("call: sound output: %w", err)
	}
	p := &player{ctx: ctx}
	var tries []unsafe.Pointer
	devs, _ := ctx.Devices(malgo.Playback)
	for i := range devs {
		if id != "" && devs[i].ID.String() == id {
			tries = append(tries, devs[i].ID.Pointer())
		}
	}
	tries = append(tries, nil) // the default
	for i := range devs {
		tries = append(tries, devs[i].ID.Pointer())
	}
	for _, dev := range tries {
		if err = p.open(dev); err == nil {
			return p, nil
		}
	}
	_ = ctx.Uninit()
	ctx.Free()
	return nil, fmt.Errorf("call: open speaker: %w", err)
}

func (p *player) open(id unsafe.Pointer) error {
	cfg := malgo.DefaultDeviceConfig(malgo.Playback)
	cfg.Playback.Format = malgo.FormatS16
	cfg.Playback.Channels = 1
	cfg.Playback.DeviceID = id
	cfg.SampleRate = audioRate
	cfg.PeriodSizeInMilliseconds = 10
	dev, err := malgo.InitDevice(p.ctx.Context, cfg, malgo.DeviceCallbacks{Data: p.fill})
	if err != nil {
		return err
	}
	if err := dev.Start(); err != nil {
		dev.Uninit()
		return err
	}
	p.dev = dev
	return nil
}

// push queues decoded samples.
func (p *player) push(pcm []int16) {
	p.mu.Lock()
	p.buf = append(p.buf, pcm...)
	if over := len(p.buf) - playMax; over > 0 {
		p.buf = append(p.buf[:0], p.buf[over:]...)
	}
	p.mu.Unlock()
}

// fill is miniaudio's callback: it copies queued samples out, or silence
// while priming.
func (p *player) fill(out, _ []byte, frames uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.playing && len(p.buf) >= playPrime {
		p.playing = true
	}
	n := 0
	if p.playing {
		n = min(int(frames), len(p.buf), len(out)/2)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint16(out[2*i:], uint16(p.buf[i]))
		}
		p.buf = append(p.buf[:0], p.buf[n:]...)
		p.played += n
		if n < int(frames) {
			p.playing = false // ran dry: prime again
		}
	}
	clear(out[2*n:])
}

func (p *player) samplesPlayed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.played
}

func (p *player) close() {
	if p.dev != nil {
		p.dev.Uninit()
	}
	_ = p.ctx.Uninit()
	p.ctx.Free()
}

// Speakers lists sound outputs (miniaudio's null device, there when the
// machine has no sound at all, is not one).
func Speakers() []Device {
	ctx, err := malgo.InitContext(nil, malgo.ContextConfig{}, nil)
	if err != nil {
		return nil
	}
	defer func() {
		_ = ctx.Uninit()
		ctx.Free()
	}()
	devs, err := ctx.Devices(malgo.Playback)
	if err != nil {
		return nil
	}
	var out []Device
	for i := range devs {
		name := devs[i].Name()
		if l := strings.ToLower(name); l == "null" || strings.HasPrefix(l, "null ") || strings.HasPrefix(l, "discard all samples") {
			continue
		}
		out = append(out, Device{ID: devs[i].ID.String(), Label: name})
	}
	return out
}
