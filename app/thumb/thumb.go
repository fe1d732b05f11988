package thumb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Format is an image format Render understands.
type Format string

// Formats, named by what the bytes are (not the file's extension).
const (
	PNG  Format = "png"
	JPEG Format = "jpeg"
	GIF  Format = "gif"
	WebP Format = "webp"
)

// Errors callers branch on. Wrapped errors add the detail.
var (
	// ErrNotImage: the bytes are none of the formats (a file named .jpg
	// that is not an image is simply a file).
	ErrNotImage = errors.New("not an image")
	// ErrTooLarge: the file or its declared dimensions exceed Limits.
	ErrTooLarge = errors.New("image too large")
	// ErrUnreadable: the bytes claim a format but do not decode
	// (truncated, corrupt, or a variant the decoder lacks, such as
	// animated WebP).
	ErrUnreadable = errors.New("image unreadable")
)

// Limits bound what Render accepts.
type Limits struct {
	// MaxFileBytes is the largest file decoded.
	MaxFileBytes int64
	// MaxPixels is the largest width × height (of every frame the header
	// declares).
	MaxPixels int64
	// MaxDecodeBytes bounds the decoder's working set, estimated from the
	// header (pixels × bytes per pixel of the format's decoded form).
	MaxDecodeBytes int64
}

// DefaultLimits: a 48-megapixel camera photo passes; a bomb does not.
// With these a Render needs at most about 300 MiB (256 MiB decoding, a
// quarter-size copy, the output).
func DefaultLimits() Limits {
	return Limits{MaxFileBytes: 64 << 20, MaxPixels: 50_000_000, MaxDecodeBytes: 256 << 20}
}

// Info is what the header says.
type Info struct {
	Format        Format
	Width, Height int // as stored
	// Orientation is the EXIF orientation of a JPEG (1-8; 1 = as stored,
	// 6 = turn 90° clockwise to show). Render applies it.
	Orientation int
}

// Result is an encoded preview.
type Result struct {
	Data          []byte // JPEG (opaque images) or PNG (with transparency)
	MIME          string // "image/jpeg" or "image/png"
	Width, Height int    // of Data, turned by the EXIF orientation
	Source        Info
}

// Sniff names the format of a file from its first bytes (16 are enough).
func Sniff(head []byte) (Format, bool) {
	switch {
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, true
	case bytes.HasPrefix(head, []byte("\xff\xd8\xff")):
		return JPEG, true
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return GIF, true
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return WebP, true
	}
	return "", false
}

// SniffFile sniffs the file at path: ErrNotImage when it is none of the
// formats.
func SniffFile(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := io.ReadFull(f, head)
	ft, ok := Sniff(head[:n])
	if !ok {
		return "", ErrNotImage
	}
	return ft, nil
}

// File renders the image file at path to fit in maxSide × maxSide.
func File(path string, maxSide int, quality int, lim Limits) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrUnreadable, errors.Unwrap(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	if !st.Mode().IsRegular() {
		return Result{}, ErrNotImage
	}
	return Render(f, st.Size(), maxSide, quality, lim)
}

// Probe reads the header of the image in r (size bytes) and checks it
// against lim without decoding pixels.
func Probe(r io.ReaderAt, size int64, lim Limits) (Info, error) {
	head := make([]byte, 16)
	n, _ := r.ReadAt(head, 0)
	ft, ok := Sniff(head[:n])
	if !ok {
		return Info{}, ErrNotImage
	}
	if size > lim.MaxFileBytes {
		return Info{Format: ft}, fmt.Errorf("%w: the file is %d MiB; previews are made up to %d MiB", ErrTooLarge, size>>20, lim.MaxFileBytes>>20)
	}
	sec := func() io.Reader { return bufio.NewReader(io.NewSectionReader(r, 0, size)) }
	var cfg image.Config
	var err error
	perPixel := 4.0 // bytes per pixel of the decoded form, estimated below
	orientation := 1
	extra := [][2]int{}
	switch ft {
	case PNG:
		cfg, err = png.DecodeConfig(sec())
		perPixel = float64(bytesPerPixel(cfg.ColorModel))
		var ihdr [29]byte
		if _, e := r.ReadAt(ihdr[:], 0); e == nil && ihdr[28] != 0 {
			perPixel *= 2 // interlaced: each pass is an image, merged at the end
		}
	case GIF:
		cfg, err = gif.DecodeConfig(sec())
		perPixel = 1 // paletted; the first frame lies within the screen
	case JPEG:
		cfg, err = jpeg.DecodeConfig(sec())
		if err == nil {
			perPixel, orientation, err = jpegHeader(sec())
		}
		if err == nil {
			// Every scan of a progressive JPEG walks the whole image: a
			// small file of thousands of scans is a CPU bomb.
			if n, serr := jpegScans(sec()); serr != nil {
				err = serr
			} else if n > MaxJPEGScans {
				return Info{Format: ft, Width: cfg.Width, Height: cfg.Height},
					fmt.Errorf("%w: the JPEG has over %d scans; previews are made up to %d", ErrTooLarge, MaxJPEGScans, MaxJPEGScans)
			}
		}
	case WebP:
		cfg, err = webp.DecodeConfig(sec())
		var frame [2]int
		var lossless bool
		if err == nil {
			frame, lossless, err = webpFrame(r, size)
		}
		perPixel = 2.5 // YCbCr 4:2:0 and an alpha plane
		if lossless {
			perPixel = 8 // NRGBA and the decoder's transform buffers
		}
		extra = append(extra, frame)
	}
	info := Info{Format: ft, Width: cfg.Width, Height: cfg.Height, Orientation: orientation}
	if err != nil {
		return info, fmt.Errorf("%w: %s header: %v", ErrUnreadable, ft, err)
	}
	dims := append([][2]int{{cfg.Width, cfg.Height}}, extra...)
	var worst int64
	for _, d := range dims {
		w, h := int64(d[0]), int64(d[1])
		if w <= 0 || h <= 0 {
			return info, fmt.Errorf("%w: %s declares %d × %d pixels", ErrUnreadable, ft, w, h)
		}
		// The sides are compared first: once both are within MaxPixels
		// their product cannot overflow an int64.
		if w > lim.MaxPixels || h > lim.MaxPixels || w*h > lim.MaxPixels {
			return info, fmt.Errorf("%w: %d × %d pixels; previews are made up to %d megapixels", ErrTooLarge, w, h, lim.MaxPixels/1_000_000)
		}
		worst = max(worst, w*h)
	}
	// +1.5 bytes a pixel: the halving steps (a quarter-size RGBA copy,
	// then a sixteenth while the quarter is still held).
	if need := int64(float64(worst) * (perPixel + 1.5)); need > lim.MaxDecodeBytes {
		return info, fmt.Errorf("%w: decoding would need about %d MiB; previews are made up to %d MiB", ErrTooLarge, need>>20, lim.MaxDecodeBytes>>20)
	}
	return info, nil
}

// bytesPerPixel of the image type Go decodes a PNG with model into.
func bytesPerPixel(m color.Model) int {
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model:
		return 2
	case color.RGBAModel, color.NRGBAModel:
		return 4
	}
	return 8
}

// walkJPEG reads the JPEG's marker segments up to the first frame header
// (SOFn) or scan (SOS) and calls visit with the body of each segment whose
// marker want accepts (others are skipped unread). visit returns true to
// stop.
func walkJPEG(r io.Reader, want func(marker byte) bool, visit func(marker byte, seg []byte) bool) error {
	br := bufio.NewReader(r)
	var b [2]byte
	if _, err := io.ReadFull(br, b[:]); err != nil || b[0] != 0xff || b[1] != 0xd8 {
		return errors.New("no SOI")
	}
	for {
		m, err := br.ReadByte()
		if err != nil {
			return err
		}
		if m != 0xff {
			continue // stray byte; the decoder decides if it is fatal
		}
		t, err := br.ReadByte()
		if err != nil {
			return err
		}
		if t == 0xff || t == 0x00 || (t >= 0xd0 && t <= 0xd8) || t == 0x01 {
			if t == 0xff {
				_ = br.UnreadByte()
			}
			continue // fill bytes and markers without a length
		}
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return err
		}
		n := int(b[0])<<8 | int(b[1])
		if n < 2 {
			return errors.New("bad segment length")
		}
		if !want(t) {
			if t == 0xda {
				return errors.New("scan before frame header")
			}
			if _, err := br.Discard(n - 2); err != nil {
				return err
			}
			continue
		}
		seg := make([]byte, n-2) // at most 64 KiB
		if _, err := io.ReadFull(br, seg); err != nil {
			return err
		}
		if visit(t, seg) {
			return nil
		}
	}
}

// isSOF says whether marker t starts a frame (SOF0-SOF15 but DHT, JPG, DAC).
func isSOF(t byte) bool { return t >= 0xc0 && t <= 0xcf && t != 0xc4 && t != 0xc8 && t != 0xcc }

// jpegHeader walks the JPEG markers to the frame header. It estimates the
// decoder's bytes per pixel: the component planes (subsampled), a CMYK copy
// for 4 components, and for progressive JPEGs the coefficients (64 int32
// per 8×8 block of every component) kept until the last scan. On the way
// it reads the EXIF orientation (1 when absent).
func jpegHeader(r io.Reader) (cost float64, orientation int, err error) {
	orientation = 1
	var ferr error
	found := false
	err = walkJPEG(r, func(t byte) bool { return isSOF(t) || t == 0xe1 }, func(t byte, seg []byte) bool {
		if t == 0xe1 {
			if o := exifOrientation(seg); o != 0 {
				orientation = o
			}
			return false
		}
		found = true
		cost, ferr = frameCost(t, seg)
		return true
	})
	if err == nil && ferr != nil {
		err = ferr
	}
	if err == nil && !found {
		err = errors.New("no frame header")
	}
	return cost, orientation, err
}

// frameCost is jpegHeader's estimate from the SOF segment seg.
func frameCost(t byte, seg []byte) (float64, error) {
	if len(seg) < 6 {
		return 0, errors.New("short frame header")
	}
	nc := int(seg[5])
	if nc < 1 || nc > 4 || len(seg) < 6+3*nc {
		return 0, errors.New("bad component count")
	}
	hmax, vmax := 1, 1
	for i := range nc {
		hv := seg[6+3*i+1]
		hmax, vmax = max(hmax, int(hv>>4)), max(vmax, int(hv&0x0f))
	}
	planes := 0.0
	for i := range nc {
		hv := seg[6+3*i+1]
		planes += float64(int(hv>>4)*int(hv&0x0f)) / float64(hmax*vmax)
	}
	cost := planes * 1.1 // blocks are padded to whole MCUs
	if nc == 4 {
		cost += 4 // converted to image.CMYK
	}
	if t == 0xc2 || t == 0xc6 || t == 0xca || t == 0xce {
		cost += planes * 4 * 1.1
	}
	return cost, nil
}

// exifOrientation returns the Orientation tag (1-8) of an APP1 Exif
// segment, or 0 when it has none or is malformed.
func exifOrientation(seg []byte) int {
	if len(seg) < 14 || string(seg[:6]) != "Exif\x00\x00" {
		return 0
	}
	tiff := seg[6:]
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(tiff[2:]) != 42 {
		return 0
	}
	off := int64(bo.Uint32(tiff[4:]))
	if off < 8 || off+2 > int64(len(tiff)) {
		return 0
	}
	n := int64(bo.Uint16(tiff[off:]))
	for i := range n {
		e := off + 2 + 12*i
		if e+12 > int64(len(tiff)) {
			return 0
		}
		if bo.Uint16(tiff[e:]) == 0x0112 && bo.Uint16(tiff[e+2:]) == 3 {
			if o := int(bo.Uint16(tiff[e+8:])); o >= 1 && o <= 8 {
				return o
			}
			return 0
		}
	}
	return 0
}

// orient turns m (as stored) into how EXIF orientation o says to show it.
func orient(m *image.RGBA, o int) *image.RGBA {
	if o <= 1 || o > 8 {
		return m
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			}
			si, di := m.PixOffset(sx, sy), dst.PixOffset(x, y)
			copy(dst.Pix[di:di+4], m.Pix[si:si+4])
		}
	}
	return dst
}

// MaxJPEGScans is the most scans (SOS markers) a JPEG may have. Encoders
// write 1 to 3 for baseline and about 10 for progressive images.
const MaxJPEGScans = 100

// jpegScans counts the start-of-scan markers (FF DA) in r, stopping past
// MaxJPEGScans. Entropy-coded data escapes FF as FF 00, so every FF DA is a
// marker (an embedded EXIF thumbnail adds its own, which only errs on the
// safe side).
func jpegScans(r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	n := 0
	prevFF := false
	for n <= MaxJPEGScans {
		b, err := br.ReadByte()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if prevFF && b == 0xda {
			n++
		}
		prevFF = b == 0xff
	}
	return n, nil
}

// webpFrame finds the VP8 or VP8L chunk and returns its frame size, which
// a VP8X header does not bind: a small canvas may wrap a huge frame. It
// reads the few header bytes itself (never the chunk, whose declared
// length is the peer's word).
func webpFrame(r io.ReaderAt, size int64) ([2]int, bool, error) {
	off := int64(12)
	for off+8 <= size {
		var h [8]byte
		if _, err := r.ReadAt(h[:], off); err != nil {
			return [2]int{}, false, err
		}
		n := int64(binary.LittleEndian.Uint32(h[4:]))
		var d [10]byte
		switch string(h[:4]) {
		case "VP8L":
			if _, err := r.ReadAt(d[:5], off+8); err != nil || d[0] != 0x2f {
				return [2]int{}, false, errors.New("bad VP8L header")
			}
			w := 1 + (int(d[1]) | int(d[2]&0x3f)<<8)
			ht := 1 + (int(d[2]>>6) | int(d[3])<<2 | int(d[4]&0x0f)<<10)
			return [2]int{w, ht}, true, nil
		case "VP8 ":
			if _, err := r.ReadAt(d[:], off+8); err != nil || d[3] != 0x9d || d[4] != 0x01 || d[5] != 0x2a {
				return [2]int{}, false, errors.New("bad VP8 header")
			}
			w := int(binary.LittleEndian.Uint16(d[6:]) & 0x3fff)
			ht := int(binary.LittleEndian.Uint16(d[8:]) & 0x3fff)
			return [2]int{w, ht}, false, nil
		}
		off += 8 + n + n&1
	}
	return [2]int{}, false, errors.New("no image chunk")
}

// Render decodes the image in r (size bytes), scales it to fit in
// maxSide × maxSide (never enlarging) and encodes it: JPEG at quality
// when opaque, else PNG.
func Render(r io.ReaderAt, size int64, maxSide, quality int, lim Limits) (res Result, err error) {
	info, err := Probe(r, size, lim)
	if err != nil {
		return Result{Source: info}, err
	}
	res.Source = info
	defer func() {
		if p := recover(); p != nil {
			res, err = Result{Source: info}, fmt.Errorf("%w: the %s decoder failed", ErrUnreadable, info.Format)
		}
	}()
	src := bufio.NewReader(io.NewSectionReader(r, 0, size))
	var m image.Image
	switch info.Format {
	case PNG:
		m, err = png.Decode(src)
	case JPEG:
		m, err = jpeg.Decode(src)
	case GIF:
		m, err = gif.Decode(src) // the first frame only
	case WebP:
		m, err = webp.Decode(src)
	}
	if err != nil {
		return res, fmt.Errorf("%w: %s: %v", ErrUnreadable, info.Format, err)
	}
	out := orient(scale(m, maxSide), info.Orientation)
	var buf bytes.Buffer
	if out.Opaque() {
		res.MIME = "image/jpeg"
		err = jpeg.Encode(&buf, out, &jpeg.Options{Quality: quality})
	} else {
		res.MIME = "image/png"
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, out)
	}
	if err != nil {
		return res, fmt.Errorf("encode preview: %w", err)
	}
	b := out.Bounds()
	res.Data, res.Width, res.Height = buf.Bytes(), b.Dx(), b.Dy()
	return res, nil
}

// fit returns w × h scaled to fit in side × side, at least 1 × 1.
func fit(w, h, side int) (int, int) {
	if w <= side && h <= side {
		return w, h
	}
	if w >= h {
		return side, max(1, int(int64(h)*int64(side)/int64(w)))
	}
	return max(1, int(int64(w)*int64(side)/int64(h))), side
}

// scale shrinks m to fit in side × side. Big images are halved with a
// 2×2 average (ApproxBiLinear at exactly half size, costing the output's
// size), each side on its own, until both are under twice the target;
// then one last step gives the final size: Catmull-Rom for thumbnails
// (its scratch buffer is target width × under twice the target height,
// 32 bytes a pixel: 6.5 MB at 320), bilinear sampling for big views.
func scale(m image.Image, side int) *image.RGBA {
	b := m.Bounds()
	tw, th := fit(b.Dx(), b.Dy(), side)
	cur := m
	cw, ch := b.Dx(), b.Dy()
	for cw >= 2*tw || ch >= 2*th {
		nw, nh := cw, ch
		if cw >= 2*tw {
			nw = (cw + 1) / 2
		}
		if ch >= 2*th {
			nh = (ch + 1) / 2
		}
		half := image.NewRGBA(image.Rect(0, 0, nw, nh))
		draw.ApproxBiLinear.Scale(half, half.Bounds(), cur, cur.Bounds(), draw.Src, nil)
		cur, cw, ch = half, nw, nh
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	switch {
	case cw == tw && ch == th:
		draw.Draw(dst, dst.Bounds(), cur, cur.Bounds().Min, draw.Src)
	case side <= 512:
		draw.CatmullRom.Scale(dst, dst.Bounds(), cur, cur.Bounds(), draw.Src, nil)
	default:
		draw.ApproxBiLinear.Scale(dst, dst.Bounds(), cur, cur.Bounds(), draw.Src, nil)
	}
	return dst
}
