package thumb

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// photo is a w × h opaque gradient.
func photo(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 90, 255})
		}
	}
	return m
}

func encPNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encJPEG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encGIF(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pngChunk frames one PNG chunk.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// pngBomb is a valid PNG header declaring w × h RGBA pixels followed by
// a few rows of zeros: a few hundred bytes that would decode to w×h×4.
func pngBomb(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	b.Write(pngChunk("IHDR", ihdr))
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(make([]byte, 1<<16))
	_ = zw.Close()
	b.Write(pngChunk("IDAT", z.Bytes()))
	b.Write(pngChunk("IEND", nil))
	return b.Bytes()
}

// gifBomb is a GIF whose logical screen and first frame declare w × h.
func gifBomb(w, h uint16) []byte {
	var b bytes.Buffer
	b.WriteString("GIF89a")
	_ = binary.Write(&b, binary.LittleEndian, w)
	_ = binary.Write(&b, binary.LittleEndian, h)
	b.Write([]byte{0x80, 0, 0})             // global colour table of 2 entries
	b.Write([]byte{0, 0, 0, 255, 255, 255}) // the table
	b.WriteByte(0x2c)                       // image descriptor
	_ = binary.Write(&b, binary.LittleEndian, uint16(0))
	_ = binary.Write(&b, binary.LittleEndian, uint16(0))
	_ = binary.Write(&b, binary.LittleEndian, w)
	_ = binary.Write(&b, binary.LittleEndian, h)
	b.WriteByte(0)
	b.Write([]byte{2, 2, 0x4c, 0x01, 0}) // a tiny LZW stream
	b.WriteByte(0x3b)
	return b.Bytes()
}

// jpegHuge rewrites the frame size of a real JPEG (its SOF0 segment).
func jpegHuge(t testing.TB, w, h uint16) []byte {
	b := encJPEG(t, photo(16, 16))
	i := bytes.Index(b, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

// manyScans is a small JPEG followed by n empty start-of-scan segments
// before its end: the shape of a progressive CPU bomb.
func manyScans(t testing.TB, n int) []byte {
	b := encJPEG(t, photo(16, 16))
	body := bytes.Clone(b[:len(b)-2])
	for range n {
		body = append(body, 0xff, 0xda, 0, 2)
	}
	return append(body, 0xff, 0xd9)
}

// webpVP8XBomb wraps a lossy frame that declares 16383 × 16383 pixels in
// a VP8X header declaring a 40 × 30 canvas: the canvas alone looks safe.
func webpVP8XBomb(t testing.TB) []byte {
	lossy := readTestdata(t, "lossy.webp")
	frame := bytes.Clone(lossy[12:]) // the "VP8 " chunk
	binary.LittleEndian.PutUint16(frame[8+6:], 0x3fff)
	binary.LittleEndian.PutUint16(frame[8+8:], 0x3fff)
	vp8x := make([]byte, 18)
	copy(vp8x, "VP8X")
	vp8x[4] = 10
	vp8x[8+4], vp8x[8+7] = 39, 29 // canvas 40 × 30
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(4+len(vp8x)+len(frame)))
	b.WriteString("WEBP")
	b.Write(vp8x)
	b.Write(frame)
	return b.Bytes()
}

func render(b []byte, side int, lim Limits) (Result, error) {
	return Render(bytes.NewReader(b), int64(len(b)), side, 80, lim)
}

func TestRenderFormats(t *testing.T) {
	t.Parallel()
	alpha := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	alpha.Set(3, 3, color.NRGBA{255, 0, 0, 128})
	tests := []struct {
		name         string
		data         []byte
		format       Format
		mime         string
		srcW, srcH   int
		wantW, wantH int
	}{
		{"png", encPNG(t, photo(800, 600)), PNG, "image/jpeg", 800, 600, 320, 240},
		{"png with alpha", encPNG(t, alpha), PNG, "image/png", 64, 48, 64, 48},
		{"jpeg", encJPEG(t, photo(600, 900)), JPEG, "image/jpeg", 600, 900, 213, 320},
		{"gif", encGIF(t, photo(100, 50)), GIF, "image/jpeg", 100, 50, 100, 50},
		{"webp lossy", readTestdata(t, "lossy.webp"), WebP, "image/jpeg", 40, 30, 40, 30},
		{"webp lossless", readTestdata(t, "lossless.webp"), WebP, "image/jpeg", 40, 30, 40, 30},
		{"webp alpha", readTestdata(t, "alpha.webp"), WebP, "image/png", 40, 30, 40, 30},
		{"one pixel wide", encPNG(t, photo(1, 3000)), PNG, "image/jpeg", 1, 3000, 1, 320},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := render(tc.data, 320, DefaultLimits())
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if res.Source != (Info{tc.format, tc.srcW, tc.srcH, 1}) {
				t.Errorf("source %+v", res.Source)
			}
			if res.MIME != tc.mime || res.Width != tc.wantW || res.Height != tc.wantH {
				t.Errorf("got %s %d×%d, want %s %d×%d", res.MIME, res.Width, res.Height, tc.mime, tc.wantW, tc.wantH)
			}
			cfg, f, err := image.DecodeConfig(bytes.NewReader(res.Data))
			if err != nil || cfg.Width != res.Width || cfg.Height != res.Height || "image/"+f != res.MIME {
				t.Errorf("output does not decode as announced: %v %+v %s", err, cfg, f)
			}
		})
	}
}

// TestRenderRefuses: bombs are refused from the header, before a pixel
// is decoded; truncated and fake files are unreadable or not images.
func TestRenderRefuses(t *testing.T) {
	t.Parallel()
	full := encPNG(t, photo(300, 200))
	jpg := encJPEG(t, photo(300, 200))
	tests := []struct {
		name string
		data []byte
		lim  Limits
		want error
	}{
		{"png bomb 100k×100k", pngBomb(100_000, 100_000), DefaultLimits(), ErrTooLarge},
		{"png bomb 2^31 wide", pngBomb(1<<31-1, 1), DefaultLimits(), ErrTooLarge},
		{"png bomb under the pixel cap, over the memory cap", pngBomb(7000, 7000), Limits{64 << 20, 50_000_000, 64 << 20}, ErrTooLarge},
		{"gif bomb 65535×65535", gifBomb(65535, 65535), DefaultLimits(), ErrTooLarge},
		{"jpeg bomb 65500×65500", jpegHuge(t, 65500, 65500), DefaultLimits(), ErrTooLarge},
		{"webp frame 16383² in a 40×30 canvas", webpVP8XBomb(t), DefaultLimits(), ErrTooLarge},
		{"file over the size cap", full, Limits{MaxFileBytes: 100, MaxPixels: 50_000_000, MaxDecodeBytes: 256 << 20}, ErrTooLarge},
		{"jpeg with 200 scans", manyScans(t, 200), DefaultLimits(), ErrTooLarge},
		{"truncated png", full[:len(full)/2], DefaultLimits(), ErrUnreadable},
		{"truncated jpeg", jpg[:len(jpg)/2], DefaultLimits(), ErrUnreadable},
		{"png header only", full[:30], DefaultLimits(), ErrUnreadable},
		{"truncated webp", readTestdata(t, "lossy.webp")[:40], DefaultLimits(), ErrUnreadable},
		{"png signature then junk", append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 100)...), DefaultLimits(), ErrUnreadable},
		{"text", []byte("hello, this is not a picture"), DefaultLimits(), ErrNotImage},
		{"empty", nil, DefaultLimits(), ErrNotImage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := render(tc.data, 320, tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestBombAllocatesNothing: refusing a bomb costs no more memory than the
// file's header, whatever lengths the file declares. The WebP case was
// found by FuzzThumbnail: a VP8L chunk declaring 808 MB of data made the
// frame-size check allocate that much.
func TestBombAllocatesNothing(t *testing.T) {
	vp8l := []byte("RIFFX000WEBPVP8L0000/000\x00\x99\x8c\x80\x7fl\"\xa2\xff")
	for name, b := range map[string][]byte{"png": pngBomb(100_000, 100_000), "webp chunk length": vp8l} {
		lim := DefaultLimits()
		lim.MaxPixels = 1 << 20
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := render(b, 320, lim); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s: %v", name, err)
		}
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("%s: refusing a bomb allocated %d bytes", name, d)
		}
	}
}

// TestWrongExtension: the bytes decide, not the name.
func TestWrongExtension(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string][]byte{
		"photo.png": encJPEG(t, photo(50, 40)), // a JPEG named .png
		"photo.jpg": []byte("%PDF-1.7 not an image at all"),
		"anim.webp": encGIF(t, photo(20, 20)),
		"noext":     encPNG(t, photo(20, 10)),
		"bomb.txt":  gifBomb(60000, 60000),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		file   string
		format Format
		err    error
	}{
		{"photo.png", JPEG, nil},
		{"photo.jpg", "", ErrNotImage},
		{"anim.webp", GIF, nil},
		{"noext", PNG, nil},
		{"bomb.txt", GIF, ErrTooLarge},
	}
	for _, tc := range tests {
		p := filepath.Join(dir, tc.file)
		f, err := SniffFile(p)
		if tc.format == "" {
			if !errors.Is(err, ErrNotImage) {
				t.Errorf("%s: SniffFile = %q, %v", tc.file, f, err)
			}
		} else if f != tc.format {
			t.Errorf("%s: SniffFile = %q, %v", tc.file, f, err)
		}
		res, err := File(p, 320, 80, DefaultLimits())
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: File err = %v, want %v", tc.file, err, tc.err)
		}
		if tc.err == nil && res.Source.Format != tc.format {
			t.Errorf("%s: decoded as %q", tc.file, res.Source.Format)
		}
	}
	if _, err := File(dir, 320, 80, DefaultLimits()); !errors.Is(err, ErrNotImage) {
		t.Errorf("a folder: %v", err)
	}
	if _, err := File(filepath.Join(dir, "missing"), 320, 80, DefaultLimits()); !errors.Is(err, ErrUnreadable) {
		t.Errorf("a missing file: %v", err)
	}
}

// TestProgressiveJPEGCost: the estimate counts the coefficients a
// progressive JPEG keeps, so it is refused where a baseline one passes.
func TestProgressiveJPEGCost(t *testing.T) {
	t.Parallel()
	base := encJPEG(t, photo(16, 16))
	prog := bytes.Clone(base)
	i := bytes.Index(prog, []byte{0xff, 0xc0})
	prog[i+1] = 0xc2
	cb, _, err := jpegHeader(bytes.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	cp, _, err := jpegHeader(bytes.NewReader(prog))
	if err != nil {
		t.Fatal(err)
	}
	// Go encodes 4:2:0: 1.5 planes.
	if cb < 1.5 || cb > 2 || cp < 7.5 || cp > 9 {
		t.Errorf("cost baseline %.2f progressive %.2f", cb, cp)
	}
}

func TestJPEGScans(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 5, MaxJPEGScans - 1} {
		got, err := jpegScans(bytes.NewReader(manyScans(t, n)))
		if err != nil || got != n+1 {
			t.Errorf("%d extra scans: counted %d, %v", n, got, err)
		}
	}
	if _, err := render(manyScans(t, MaxJPEGScans-1), 320, DefaultLimits()); errors.Is(err, ErrTooLarge) {
		t.Errorf("a JPEG at the scan limit was refused as too large: %v", err)
	}
}

// withOrientation inserts an APP1 Exif segment holding orientation o
// (byte order bo) right after the SOI of a JPEG.
func withOrientation(jpg []byte, o uint16, big bool) []byte {
	var bo binary.ByteOrder = binary.LittleEndian
	tiff := []byte("II\x2a\x00\x08\x00\x00\x00")
	if big {
		bo = binary.BigEndian
		tiff = []byte("MM\x00\x2a\x00\x00\x00\x08")
	}
	ifd := make([]byte, 2+12+4)
	bo.PutUint16(ifd[0:], 1)
	bo.PutUint16(ifd[2:], 0x0112)
	bo.PutUint16(ifd[4:], 3)
	bo.PutUint32(ifd[6:], 1)
	bo.PutUint16(ifd[10:], o)
	body := append(append([]byte("Exif\x00\x00"), tiff...), ifd...)
	seg := []byte{0xff, 0xe1, byte((len(body) + 2) >> 8), byte(len(body) + 2)}
	out := append([]byte{0xff, 0xd8}, seg...)
	out = append(out, body...)
	return append(out, jpg[2:]...)
}

// TestOrientation: a phone photo stored sideways with an EXIF orientation
// is shown upright.
func TestOrientation(t *testing.T) {
	t.Parallel()
	// 400 × 200: left half red, right half blue.
	m := image.NewRGBA(image.Rect(0, 0, 400, 200))
	for y := range 200 {
		for x := range 400 {
			c := color.RGBA{230, 20, 20, 255}
			if x >= 200 {
				c = color.RGBA{20, 20, 230, 255}
			}
			m.Set(x, y, c)
		}
	}
	src := encJPEG(t, m)
	red := func(c color.Color) bool { r, _, b, _ := c.RGBA(); return r > 2*b }
	blue := func(c color.Color) bool { r, _, b, _ := c.RGBA(); return b > 2*r }
	tests := []struct {
		o      uint16
		big    bool
		w, h   int
		redAt  image.Point // a point that must be red (its mirror is blue)
		blueAt image.Point
	}{
		{1, false, 320, 160, image.Pt(20, 80), image.Pt(300, 80)},
		{3, true, 320, 160, image.Pt(300, 80), image.Pt(20, 80)},
		{6, false, 160, 320, image.Pt(80, 20), image.Pt(80, 300)}, // turned clockwise: the left side is on top
		{8, true, 160, 320, image.Pt(80, 300), image.Pt(80, 20)},
		{2, false, 320, 160, image.Pt(300, 80), image.Pt(20, 80)},
	}
	for _, tc := range tests {
		res, err := render(withOrientation(src, tc.o, tc.big), 320, DefaultLimits())
		if err != nil {
			t.Fatalf("orientation %d: %v", tc.o, err)
		}
		if res.Source.Orientation != int(tc.o) || res.Width != tc.w || res.Height != tc.h {
			t.Fatalf("orientation %d: %+v, %d×%d", tc.o, res.Source, res.Width, res.Height)
		}
		out, _, err := image.Decode(bytes.NewReader(res.Data))
		if err != nil {
			t.Fatal(err)
		}
		if !red(out.At(tc.redAt.X, tc.redAt.Y)) || !blue(out.At(tc.blueAt.X, tc.blueAt.Y)) {
			t.Errorf("orientation %d: %v at %v, %v at %v", tc.o, out.At(tc.redAt.X, tc.redAt.Y), tc.redAt, out.At(tc.blueAt.X, tc.blueAt.Y), tc.blueAt)
		}
	}
	// Malformed Exif is ignored, never fatal.
	for _, bad := range [][]byte{[]byte("Exif\x00\x00II"), []byte("Exif\x00\x00XX\x2a\x00\x08\x00\x00\x00"), []byte("Exif\x00\x00II\x2a\x00\xff\xff\x00\x00\x00\x00")} {
		if o := exifOrientation(bad); o != 0 {
			t.Errorf("%q: orientation %d", bad, o)
		}
	}
}

func TestFit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ w, h, side, ww, wh int }{
		{100, 50, 320, 100, 50}, {640, 480, 320, 320, 240}, {480, 640, 320, 240, 320},
		{100000, 1, 320, 320, 1}, {1, 100000, 320, 1, 320},
	} {
		if w, h := fit(tc.w, tc.h, tc.side); w != tc.ww || h != tc.wh {
			t.Errorf("fit(%d,%d,%d) = %d,%d", tc.w, tc.h, tc.side, w, h)
		}
	}
}

// FuzzThumbnail feeds hostile bytes to the whole path: it must never
// panic, and whatever it accepts must fit the limits and decode again.
func FuzzThumbnail(f *testing.F) {
	f.Add(encPNG(f, photo(20, 10)))
	f.Add(encJPEG(f, photo(20, 10)))
	f.Add(encGIF(f, photo(20, 10)))
	f.Add(readTestdata(f, "lossy.webp"))
	f.Add(readTestdata(f, "lossless.webp"))
	f.Add(readTestdata(f, "alpha.webp"))
	f.Add(pngBomb(100_000, 100_000))
	f.Add(gifBomb(60000, 60000))
	f.Add(webpVP8XBomb(f))
	f.Add(withOrientation(encJPEG(f, photo(20, 10)), 6, true))
	lim := Limits{MaxFileBytes: 1 << 20, MaxPixels: 1 << 20, MaxDecodeBytes: 16 << 20}
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := render(b, 64, lim)
		if err != nil {
			if !errors.Is(err, ErrNotImage) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnreadable) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if res.Width < 1 || res.Height < 1 || res.Width > 64 || res.Height > 64 {
			t.Fatalf("output %d×%d", res.Width, res.Height)
		}
		if int64(res.Source.Width)*int64(res.Source.Height) > lim.MaxPixels {
			t.Fatalf("accepted %d×%d", res.Source.Width, res.Source.Height)
		}
		if _, _, err := image.Decode(bytes.NewReader(res.Data)); err != nil {
			t.Fatalf("output does not decode: %v", err)
		}
	})
}

// BenchmarkRenderPhoto renders a 6000 × 4000 (24 MP) baseline JPEG, a
// phone-sized photo, to a thumbnail: time and bytes allocated per render.
func BenchmarkRenderPhoto(b *testing.B) {
	src := encJPEG(b, photo(6000, 4000))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := render(src, 320, DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}
