// Command callbench measures a whole audio/video call between two real
// parley-cli processes over loopback (synthetic 30 fps camera and a 440 Hz
// sine each way, VP8 + Opus over pion), at 640x480 and 1280x720, and
// compares it, in the same run, with the codec work alone: the same size of
// synthetic frames VP8-encoded and decoded with libvpx in this process at
// 30 fps for the same time. `make bench-call` runs it through
// scripts/bench-call.sh, which builds the binaries.
//
// For each side it reports the decoded fps, frames decoded/received,
// glass-to-glass latency p50/p95 (from the frames' stamped capture time),
// CPU % (user+system time over the wall time from "call active" to exit),
// peak RSS, and the ratios of its CPU time to the codec-alone CPU time (both
// cover the same length of media, so the ratio is what the call machinery
// — pion, SRTP, RTP, Opus, the network — adds to the VP8 work) and of its
// fps to 30. The goals (at least 29 fps, latency p50 under 150 ms) are
// PASS/FAIL columns: a missed goal is reported, not an error. With
// --screen it then measures screen sharing (screen.go). It prints the
// tables, then one JSON line with every figure.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/mediadevices/pkg/codec"
	"github.com/pion/mediadevices/pkg/codec/vpx"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// The call's frame rate and the goals the report checks.
const (
	fps              = 30
	goalFps          = 29.0
	goalP50Ms        = 150.0
	keyFrameInterval = 90 // frames, as the app's calls
)

func main() {
	signalBin := flag.String("signal", "bin/parley-signal", "parley-signal binary")
	cliBin := flag.String("cli", "bin/parley-cli", "parley-cli binary")
	sizes := flag.String("sizes", "640x480,1280x720", "comma-separated video sizes `WxH` to measure (none: only the screen rows)")
	duration := flag.Duration("duration", 10*time.Second, "how long each call (and each codec-alone run) lasts once active")
	screen := flag.String("screen", "1920x1080", "also share an Xvfb screen of this size `WxH` (parley-cli call --video screen), still and changing; none to skip")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "callbench: unexpected arguments:", flag.Args())
		os.Exit(2)
	}
	var list []size
	for _, s := range strings.Split(*sizes, ",") {
		if s == "none" {
			break // only the screen rows
		}
		sz, err := parseSize(strings.TrimSpace(s))
		if err != nil {
			fmt.Fprintln(os.Stderr, "callbench:", err)
			os.Exit(2)
		}
		list = append(list, sz)
	}
	if *duration < time.Second {
		fmt.Fprintln(os.Stderr, "callbench: --duration must be at least 1s")
		os.Exit(2)
	}
	var scr *size
	if *screen != "none" {
		sz, err := parseSize(*screen)
		if err != nil {
			fmt.Fprintln(os.Stderr, "callbench: --screen:", err)
			os.Exit(2)
		}
		scr = &sz
	}
	if err := run(*signalBin, *cliBin, list, scr, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "callbench:", err)
		os.Exit(1)
	}
}

type size struct{ w, h int }

func (s size) String() string { return fmt.Sprintf("%dx%d", s.w, s.h) }

func parseSize(s string) (size, error) {
	ws, hs, ok := strings.Cut(strings.ToLower(s), "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || w < 64 || h < 64 || w%2 != 0 || h%2 != 0 {
		return size{}, fmt.Errorf("size %q: want WIDTHxHEIGHT, even numbers, at least 64x64", s)
	}
	return size{w, h}, nil
}

// bitrate is the VP8 target of the app's calls at that size
// (app/call's maxVideoBitrate).
func bitrate(s size) int {
	switch px := s.w * s.h; {
	case px >= 1280*720:
		return 2_500_000
	case px >= 640*480:
		return 1_200_000
	default:
		return 600_000
	}
}

// side is one parley-cli call process's figures.
type side struct {
	AvgFps               float64 `json:"avgFps"`
	FpsRatio             float64 `json:"fpsRatioTo30"`
	VideoFramesReceived  int     `json:"videoFramesReceived"`
	VideoFramesDecoded   int     `json:"videoFramesDecoded"`
	AudioPacketsReceived int     `json:"audioPacketsReceived"`
	LatencyP50Ms         float64 `json:"latencyP50Ms"`
	LatencyP95Ms         float64 `json:"latencyP95Ms"`
	FramesLost           int     `json:"framesLost"`
	Freezes              int     `json:"freezes"`
	KeyframeRequests     int     `json:"keyframeRequests"`
	RttMs                float64 `json:"rttMs"`
	DecodedSize          string  `json:"decodedSize"`
	// TileSize and TileFps: the peer's camera beside its shared screen
	// (parley-cli's "call tile:" line), when it sent one.
	TileSize           string  `json:"tileSize,omitempty"`
	TileFps            float64 `json:"tileFps,omitempty"`
	CPUSeconds         float64 `json:"cpuSeconds"`
	WallSeconds        float64 `json:"wallSeconds"`           // "call active" → exit
	CallSeconds        float64 `json:"callSeconds"`           // "call active" → "call ended"
	ExitAfterEndedSecs float64 `json:"exitAfterEndedSeconds"` // "call ended" → exit
	CPUPercent         float64 `json:"cpuPercent"`
	PeakRSSMiB         float64 `json:"peakRssMiB"`
	CPURatio           float64 `json:"cpuRatioToCodecAlone"` // CPU seconds / codec alone's
	FpsPass            bool    `json:"fpsPass"`
	LatencyPass        bool    `json:"latencyPass"`
}

// codecAlone is the baseline: VP8 encode + decode of the same frames in
// this process.
type codecAlone struct {
	Frames        int     `json:"frames"`
	Dropped       int     `json:"droppedByEncoder"`
	Kbps          float64 `json:"kbps"`
	CPUSeconds    float64 `json:"cpuSeconds"`
	WallSeconds   float64 `json:"wallSeconds"`
	CPUPercent    float64 `json:"cpuPercent"`
	TargetBitrate int     `json:"targetBitrate"`
}

type sizeResult struct {
	Size       string     `json:"size"`
	Alice      side       `json:"alice"`
	Bob        side       `json:"bob"`
	CodecAlone codecAlone `json:"codecAlone"`
}

// namedSide is one side with its name, for printing.
type namedSide struct {
	name string
	v    side
}

func (r sizeResult) sides() []namedSide {
	return []namedSide{{"alice", r.Alice}, {"bob", r.Bob}}
}

type report struct {
	DurationSeconds float64      `json:"durationSeconds"`
	Fps             int          `json:"fps"`
	CPUs            int          `json:"cpus"`
	GoalMinFps      float64      `json:"goalMinFps"`
	GoalMaxP50Ms    float64      `json:"goalMaxLatencyP50Ms"`
	Sizes           []sizeResult `json:"sizes"`
	AllPass         bool         `json:"allPass"`
	// Screen is the screen sharing rows (--screen): no goals, figures.
	Screen []screenResult `json:"screen,omitempty"`
}

func run(signalBin, cliBin string, sizes []size, screen *size, d time.Duration) error {
	for _, b := range []string{signalBin, cliBin} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%w (scripts/bench-call.sh builds it)", err)
		}
	}
	work, err := os.MkdirTemp("", "parley-callbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	server, stop, err := startSignal(signalBin, filepath.Join(work, "signal-state"))
	if err != nil {
		return err
	}
	defer stop()

	rep := report{DurationSeconds: d.Seconds(), Fps: fps, CPUs: runtime.NumCPU(), GoalMinFps: goalFps, GoalMaxP50Ms: goalP50Ms, AllPass: true}
	for _, sz := range sizes {
		// The codec alone first, on a quiet machine; then the call.
		fmt.Fprintf(os.Stderr, "callbench: %s: VP8 encode+decode alone for %v...\n", sz, d)
		base, err := measureCodec(sz, d)
		if err != nil {
			return fmt.Errorf("%s codec alone: %w", sz, err)
		}
		fmt.Fprintf(os.Stderr, "callbench: %s: two parley-cli processes in a call for %v...\n", sz, d)
		alice, bob, err := measureCall(cliBin, server, filepath.Join(work, sz.String()), d, testsrcCall(sz))
		if err != nil {
			return fmt.Errorf("%s call: %w", sz, err)
		}
		for _, s := range []*side{&alice, &bob} {
			s.FpsRatio = s.AvgFps / fps
			if base.CPUSeconds > 0 {
				s.CPURatio = s.CPUSeconds / base.CPUSeconds
			}
			s.FpsPass = s.AvgFps >= goalFps
			s.LatencyPass = s.LatencyP50Ms < goalP50Ms
			rep.AllPass = rep.AllPass && s.FpsPass && s.LatencyPass
		}
		rep.Sizes = append(rep.Sizes, sizeResult{Size: sz.String(), Alice: alice, Bob: bob, CodecAlone: base})
	}
	if screen != nil {
		if rep.Screen, err = measureScreens(cliBin, server, work, *screen, d); err != nil {
			return fmt.Errorf("screen %s: %w", screen, err)
		}
	}
	printTable(rep, d)
	printScreenTable(rep.Screen, d)
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

func printTable(rep report, d time.Duration) {
	fmt.Printf("parley-cli call <-> parley-cli call over loopback (one parley-signal, %d CPUs): synthetic %d fps video + 440 Hz sine each way, %v active\n", rep.CPUs, fps, d)
	fmt.Printf("CPU %% = user+system time / wall time from \"call active\" to exit; codec = VP8 encode+decode of the same frames alone in one process, same run;\n")
	fmt.Printf("vs codec = the side's CPU time / the codec's CPU time for the same length of media; lost = frames lost (codec: dropped by the encoder)\n\n")
	fmt.Printf("%-9s %-5s %6s %5s %11s %7s %7s %6s %7s %7s %7s %9s %11s\n",
		"size", "side", "fps", "/30", "decoded/rx", "p50 ms", "p95 ms", "lost", "CPU %", "RSS MiB", "vs codec", ">=29 fps", "p50<150 ms")
	for _, r := range rep.Sizes {
		for _, s := range r.sides() {
			fmt.Printf("%-9s %-5s %6.1f %5.2f %11s %7.0f %7.0f %6d %7.1f %7.1f %6.2fx %9s %11s\n",
				r.Size, s.name, s.v.AvgFps, s.v.FpsRatio,
				fmt.Sprintf("%d/%d", s.v.VideoFramesDecoded, s.v.VideoFramesReceived),
				s.v.LatencyP50Ms, s.v.LatencyP95Ms, s.v.FramesLost, s.v.CPUPercent, s.v.PeakRSSMiB, s.v.CPURatio,
				passFail(s.v.FpsPass), passFail(s.v.LatencyPass))
		}
		c := r.CodecAlone
		fmt.Printf("%-9s %-5s %6.1f %5.2f %11s %7s %7s %6d %7.1f %7s %7s   (%d kbit/s of %d target)\n",
			r.Size, "codec", float64(c.Frames)/c.WallSeconds, float64(c.Frames)/c.WallSeconds/fps,
			fmt.Sprintf("%d/%d", c.Frames-c.Dropped, c.Frames), "-", "-", c.Dropped, c.CPUPercent, "-", "1.00x",
			int(c.Kbps), c.TargetBitrate/1000)
	}
	for _, r := range rep.Sizes {
		for _, s := range r.sides() {
			if s.v.ExitAfterEndedSecs >= 0.5 {
				fmt.Printf("note: %s %s took %.1f s from \"call ended\" to exit (in its wall time: CPU %% is %.1f over the call alone)\n",
					r.Size, s.name, s.v.ExitAfterEndedSecs, 100*s.v.CPUSeconds/s.v.CallSeconds)
			}
		}
	}
	fmt.Println()
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// startSignal runs parley-signal on a free loopback port and returns its
// base URL and a function that stops it.
func startSignal(bin, stateDir string) (string, func(), error) {
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--metrics-addr", "off", "--state-dir", stateDir, "--rate-rooms", "0", "--rate-joins", "0")
	cmd.WaitDelay = 5 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start parley-signal: %w", err)
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	found := make(chan string, 1)
	var signalLog lineLog
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			_, _ = signalLog.Write([]byte(sc.Text() + "\n"))
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case addr, ok := <-found:
		if ok {
			return "http://" + addr, stop, nil
		}
	case <-time.After(20 * time.Second):
	}
	stop()
	return "", nil, fmt.Errorf("parley-signal did not report its address (output: %s)", signalLog.tail())
}

var addrRE = regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:[0-9]+)`)

// proc is one parley-cli call process.
type proc struct {
	name     string
	cmd      *exec.Cmd
	stdout   bytes.Buffer
	stderr   lineLog
	exitedAt time.Time
	err      error
}

// callSpec is what each side of a measured call sends: its call flags
// (--video, --audio, ...) and extra environment.
type callSpec struct {
	args func(who string) []string
	env  func(who string) []string
}

// testsrcCall is the camera rows' call: the synthetic camera and a sine
// each way, at sz and 30 fps.
func testsrcCall(sz size) callSpec {
	return callSpec{
		args: func(string) []string {
			return []string{"--video", "testsrc", "--audio", "sine", "--size", sz.String(), "--fps", strconv.Itoa(fps)}
		},
		env: func(string) []string { return nil },
	}
}

// measureCall creates a room as alice and runs alice's and bob's
// `parley-cli call` at once until both hang up after d.
func measureCall(cliBin, server, dir string, d time.Duration, spec callSpec) (alice, bob side, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
	defer cancel()
	global := func(who string) []string {
		return []string{"--secret-store", "file", "--data-dir", filepath.Join(dir, who)}
	}
	env := append(os.Environ(), "PARLEY_ICE_LOOPBACK=1")

	create := exec.CommandContext(ctx, cliBin, append(global("alice"), "create", "--server", server)...)
	create.Env = env
	var createErr lineLog
	create.Stderr = &createErr
	out, err := create.Output()
	if err != nil {
		return side{}, side{}, fmt.Errorf("parley-cli create: %w (stderr: %s)", err, createErr.tail())
	}
	link := strings.TrimSpace(string(out))
	if link == "" {
		return side{}, side{}, errors.New("parley-cli create printed no link")
	}

	var procs []*proc
	for _, who := range []string{"alice", "bob"} {
		p := &proc{name: who}
		args := append(append(global(who), "call", link), spec.args(who)...)
		args = append(args, "--duration", d.String(), "--stats")
		p.cmd = exec.CommandContext(ctx, cliBin, args...)
		p.cmd.Env = append(append([]string(nil), env...), spec.env(who)...)
		p.cmd.WaitDelay = 5 * time.Second
		p.cmd.Stdout = &p.stdout
		p.cmd.Stderr = &p.stderr
		procs = append(procs, p)
	}
	var wg sync.WaitGroup
	for _, p := range procs {
		if err := p.cmd.Start(); err != nil {
			cancel() // ends any process already started
			wg.Wait()
			return side{}, side{}, fmt.Errorf("start %s's call: %w", p.name, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.err = p.cmd.Wait()
			p.exitedAt = time.Now()
		}()
	}
	wg.Wait()

	var sides [2]side
	for i, p := range procs {
		if p.err != nil {
			if ctx.Err() != nil {
				p.err = fmt.Errorf("timed out: %w", p.err)
			}
			return side{}, side{}, fmt.Errorf("%s's call: %w (stderr: %s)", p.name, p.err, p.stderr.tail())
		}
		if sides[i], err = p.figures(); err != nil {
			return side{}, side{}, fmt.Errorf("%s's call: %w (stderr: %s)", p.name, err, p.stderr.tail())
		}
	}
	return sides[0], sides[1], nil
}

var (
	latencyRE = regexp.MustCompile(`call stats: latency p50 ([0-9.]+) ms p95 ([0-9.]+) ms`)
	restRE    = regexp.MustCompile(`frames lost ([0-9]+), freezes [0-9]+ \(longest [0-9.]+ ms\), keyframe requests ([0-9]+), ([0-9]+x[0-9]+)`)
	tileRE    = regexp.MustCompile(`^call tile: ([0-9]+x[0-9]+), [0-9]+ frames, ([0-9.]+) fps`)
)

// figures reads a finished call's stats lines and resource usage.
func (p *proc) figures() (side, error) {
	var s side
	var line string
	for _, l := range strings.Split(strings.TrimSpace(p.stdout.String()), "\n") {
		if strings.HasPrefix(l, "{") {
			line = l
		}
	}
	if line == "" {
		return s, fmt.Errorf("no --stats JSON line on stdout (stdout: %q)", p.stdout.String())
	}
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		return s, fmt.Errorf("stats line %q: %w", line, err)
	}
	activeAt, ok := p.stderr.firstAt("call active")
	if !ok {
		return s, errors.New(`no "call active" line on stderr`)
	}
	var statsLine string
	for _, l := range p.stderr.all() {
		if strings.HasPrefix(l, "call stats: ") {
			statsLine = l
		}
		if m := tileRE.FindStringSubmatch(l); m != nil {
			s.TileSize = m[1]
			s.TileFps, _ = strconv.ParseFloat(m[2], 64)
		}
	}
	m := latencyRE.FindStringSubmatch(statsLine)
	if m == nil {
		return s, fmt.Errorf("no latency in the stderr stats line %q", statsLine)
	}
	s.LatencyP50Ms, _ = strconv.ParseFloat(m[1], 64)
	s.LatencyP95Ms, _ = strconv.ParseFloat(m[2], 64)
	if m := restRE.FindStringSubmatch(statsLine); m != nil {
		s.FramesLost, _ = strconv.Atoi(m[1])
		s.KeyframeRequests, _ = strconv.Atoi(m[2])
		s.DecodedSize = m[3]
	}
	ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return s, errors.New("no rusage for the process")
	}
	s.CPUSeconds = cpuSeconds(ru)
	s.WallSeconds = p.exitedAt.Sub(activeAt).Seconds()
	if endedAt, ok := p.stderr.firstAt("call ended"); ok {
		s.CallSeconds = endedAt.Sub(activeAt).Seconds()
		s.ExitAfterEndedSecs = p.exitedAt.Sub(endedAt).Seconds()
	}
	if s.WallSeconds > 0 {
		s.CPUPercent = 100 * s.CPUSeconds / s.WallSeconds
	}
	s.PeakRSSMiB = float64(ru.Maxrss) / 1024 // Linux: KiB
	return s, nil
}

func cpuSeconds(ru *syscall.Rusage) float64 {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// measureCodec VP8-encodes synthetic frames of size sz at 30 fps for d with
// the app's call settings and decodes each one with libvpx, in this
// process, and measures this process's CPU over that time.
func measureCodec(sz size, d time.Duration) (codecAlone, error) {
	p, err := newPipeline(sz)
	if err != nil {
		return codecAlone{}, err
	}
	defer p.close()
	before, err := selfUsage()
	if err != nil {
		return codecAlone{}, err
	}
	start := time.Now()
	err = p.run(int(d * fps / time.Second))
	wall := time.Since(start)
	if err != nil {
		return codecAlone{}, err
	}
	after, err := selfUsage()
	if err != nil {
		return codecAlone{}, err
	}
	res := codecAlone{TargetBitrate: bitrate(sz), Frames: p.frames, Dropped: p.dropped}
	res.WallSeconds = wall.Seconds()
	res.CPUSeconds = cpuSeconds(after) - cpuSeconds(before)
	res.CPUPercent = 100 * res.CPUSeconds / res.WallSeconds
	res.Kbps = float64(p.bytes) * 8 / 1000 / res.WallSeconds
	return res, nil
}

// pipeline is one side's codec work: a paced synthetic camera, a VP8
// encoder with the app's call settings and a VP8 decoder.
type pipeline struct {
	sz   size
	enc  codec.ReadCloser
	dec  codec.VideoDecoder
	feed *frameReader

	frames, dropped, bytes int
}

func newPipeline(sz size) (*pipeline, error) {
	params, err := vpx.NewVP8Params()
	if err != nil {
		return nil, err
	}
	params.BitRate = bitrate(sz)
	params.KeyFrameInterval = keyFrameInterval
	params.RateControlEndUsage = vpx.RateControlCBR
	// As the app's calls (app/call/media.go videoParams).
	params.LagInFrames = 0
	params.ErrorResilient = vpx.ErrorResilientDefault

	cam := newBars(sz.w, sz.h)
	interval := time.Second / fps
	var next time.Time
	src := video.ReaderFunc(func() (image.Image, func(), error) {
		// Paced like a camera: one frame every 1/30 s.
		if next.IsZero() {
			next = time.Now()
		}
		time.Sleep(time.Until(next))
		next = next.Add(interval)
		return cam.frame(), func() {}, nil
	})
	media := prop.Media{Video: prop.Video{Width: sz.w, Height: sz.h, FrameRate: fps}}
	p := &pipeline{sz: sz, feed: &frameReader{}}
	if p.enc, err = params.BuildVideoEncoder(src, media); err != nil {
		return nil, fmt.Errorf("vp8 encoder: %w", err)
	}
	if p.dec, err = vpx.NewDecoder(p.feed, media); err != nil {
		p.enc.Close()
		return nil, fmt.Errorf("vp8 decoder: %w", err)
	}
	return p, nil
}

// run encodes and decodes frames frames, one every 1/30 s.
func (p *pipeline) run(frames int) error {
	for range frames {
		data, release, err := p.enc.Read()
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		release()
		p.frames++
		if len(data) == 0 {
			p.dropped++ // the rate control skipped this frame
			continue
		}
		p.bytes += len(data)
		p.feed.put(data)
		img, release, err := p.dec.Read()
		if err != nil {
			return fmt.Errorf("decode frame %d: %w", p.frames, err)
		}
		release()
		if b := img.Bounds(); b.Dx() != p.sz.w || b.Dy() != p.sz.h {
			return fmt.Errorf("decoded a %dx%d frame, want %s", b.Dx(), b.Dy(), p.sz)
		}
	}
	return nil
}

func (p *pipeline) close() {
	p.enc.Close()
	p.dec.Close()
}

func selfUsage() (*syscall.Rusage, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return nil, fmt.Errorf("getrusage: %w", err)
	}
	return &ru, nil
}

// frameReader hands the decoder one encoded frame per Read (mediadevices'
// VP8 decoder decodes whatever one Read returns as one frame). Encoding and
// decoding run in turn on one goroutine, so a single slot is enough.
type frameReader struct{ frame []byte }

func (r *frameReader) put(f []byte) { r.frame = f }

func (r *frameReader) Read(p []byte) (int, error) {
	if r.frame == nil {
		return 0, errors.New("decoder asked for a frame before one was encoded")
	}
	if len(p) < len(r.frame) {
		return 0, io.ErrShortBuffer
	}
	n := copy(p, r.frame)
	r.frame = nil
	return n, nil
}

// bars is a synthetic camera like parley-cli's testsrc: seven colour bars,
// a grey block sweeping across the lower part (motion for the encoder) and
// a row of blocks in the top left that changes every frame (the stamp).
// Each frame is a fresh image, as the call's camera makes.
type bars struct {
	base *image.YCbCr
	n    uint32
}

func newBars(w, h int) *bars {
	colours := [7][3]byte{
		{180, 128, 128}, {162, 44, 142}, {131, 156, 44}, {112, 72, 58},
		{84, 184, 198}, {65, 100, 212}, {35, 212, 114},
	}
	base := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := range h {
		for x := range w {
			c := colours[x*len(colours)/w]
			base.Y[y*base.YStride+x] = c[0]
			if y%2 == 0 && x%2 == 0 {
				ci := base.COffset(x, y)
				base.Cb[ci], base.Cr[ci] = c[1], c[2]
			}
		}
	}
	return &bars{base: base}
}

func (b *bars) frame() *image.YCbCr {
	src := b.base
	img := &image.YCbCr{
		Y: bytes.Clone(src.Y), Cb: bytes.Clone(src.Cb), Cr: bytes.Clone(src.Cr),
		YStride: src.YStride, CStride: src.CStride, SubsampleRatio: src.SubsampleRatio, Rect: src.Rect,
	}
	w, h := src.Rect.Dx(), src.Rect.Dy()
	bs := h / 6
	x0 := int(b.n*8) % (w - bs)
	for y := h - 2*bs; y < h-bs; y++ {
		row := img.Y[y*img.YStride+x0 : y*img.YStride+x0+bs]
		for i := range row {
			row[i] = 200
		}
	}
	// 64 blocks of 8x8 from the frame number and the time, as a stamp.
	stamp := uint64(b.n)<<32 | uint64(uint32(time.Now().UnixMilli()))
	for i := range 64 {
		v := byte(16)
		if stamp&(1<<i) != 0 {
			v = 235
		}
		bx, by := (i%16)*8, (i/16)*8
		if bx+8 > w || by+8 > h {
			continue
		}
		for y := by; y < by+8; y++ {
			row := img.Y[y*img.YStride+bx : y*img.YStride+bx+8]
			for x := range row {
				row[x] = v
			}
		}
	}
	b.n++
	return img
}

// lineLog is a process's stderr: each complete line with the time it was
// read, so "call active" can start a clock, and the last lines for error
// messages.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	at      []time.Time
}

func (l *lineLog) Write(p []byte) (int, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.partial[:i]))
		l.at = append(l.at, now)
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

// firstAt is when the first line containing s was read.
func (l *lineLog) firstAt(s string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, line := range l.lines {
		if strings.Contains(line, s) {
			return l.at[i], true
		}
	}
	return time.Time{}, false
}

func (l *lineLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append(append([]string(nil), l.lines...), string(l.partial))
}

// tail is the last 15 lines on one line, for error messages.
func (l *lineLog) tail() string {
	lines := l.all()
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	s := strings.TrimSpace(strings.Join(lines, " | "))
	if s == "" {
		return "(none)"
	}
	return s
}
