package call

import (
	"encoding/binary"
	"hash/crc32"
	"image"
)

// The synthetic camera stamps each frame with its number and capture time
// (unix milliseconds, low 32 bits) so the receiver can count lost frames
// and measure glass-to-glass latency after a real encode, network and
// decode. The 96 bits (number, time, CRC-32 of both) are drawn as 16x16
// black or white luma blocks, 32 to a row, in the top-left corner: block
// and macroblock boundaries coincide, so VP8 keeps them readable at any
// sane bitrate. Frames narrower than stampWidth are not stamped.
const (
	stampBlock = 16
	stampCols  = 32
	stampRows  = 3
	stampWidth = stampBlock * stampCols
	stampLo    = 16
	stampHi    = 235
)

// Stamp is what a synthetic frame carries.
type Stamp struct {
	Frame  uint32
	TimeMs uint32 // unix milliseconds, modulo 2^32
}

func stampBits(s Stamp) [12]byte {
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:], s.Frame)
	binary.BigEndian.PutUint32(b[4:], s.TimeMs)
	binary.BigEndian.PutUint32(b[8:], crc32.ChecksumIEEE(b[:8]))
	return b
}

// drawStamp writes s into the luma plane of img.
func drawStamp(img *image.YCbCr, s Stamp) {
	r := img.Rect
	if r.Dx() < stampWidth || r.Dy() < stampBlock*stampRows {
		return
	}
	bits := stampBits(s)
	for i := 0; i < stampCols*stampRows; i++ {
		v := byte(stampLo)
		if bits[i/8]&(0x80>>(i%8)) != 0 {
			v = stampHi
		}
		x0, y0 := (i%stampCols)*stampBlock, (i/stampCols)*stampBlock
		for y := y0; y < y0+stampBlock; y++ {
			row := img.Y[y*img.YStride+x0 : y*img.YStride+x0+stampBlock]
			for x := range row {
				row[x] = v
			}
		}
	}
}

// readStamp reads a stamp back from a decoded luma plane (stride bytes a
// row); ok is false when the frame carries none or it does not check out.
// A picture the sender halved (adapt.go) carries it at half size.
func readStamp(y []byte, stride, width, height int) (Stamp, bool) {
	if s, ok := readStampAt(y, stride, width, height, stampBlock); ok {
		return s, true
	}
	return readStampAt(y, stride, width, height, stampBlock/2)
}

// readStampAt reads a stamp drawn with blocks of block x block pixels.
func readStampAt(y []byte, stride, width, height, block int) (Stamp, bool) {
	if width < block*stampCols || height < block*stampRows {
		return Stamp{}, false
	}
	var b [12]byte
	for i := 0; i < stampCols*stampRows; i++ {
		x0, y0 := (i%stampCols)*block, (i/stampCols)*block
		// Average the middle half of the block: edges blur under
		// compression.
		sum, n := 0, block/2
		for yy := y0 + block/4; yy < y0+block/4+n; yy++ {
			off := yy*stride + x0 + block/4
			if off+n > len(y) {
				return Stamp{}, false
			}
			for _, p := range y[off : off+n] {
				sum += int(p)
			}
		}
		if sum/(n*n) > (stampLo+stampHi)/2 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	if crc32.ChecksumIEEE(b[:8]) != binary.BigEndian.Uint32(b[8:]) {
		return Stamp{}, false
	}
	return Stamp{Frame: binary.BigEndian.Uint32(b[0:]), TimeMs: binary.BigEndian.Uint32(b[4:])}, true
}

// latencyMs is now minus a stamp's time, in milliseconds, across the
// 2^32 wrap.
func latencyMs(nowMs int64, s Stamp) int64 {
	return int64(int32(uint32(nowMs) - s.TimeMs))
}
