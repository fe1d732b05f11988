package transfer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Wire format: every frame is a big-endian uint32 body length followed by
// the body. A body starts with the frame type (one byte) and the transfer
// id (one length byte, then 1..maxIDLen bytes of [A-Za-z0-9_-]); the rest
// depends on the type. Chunk frames carry raw file bytes, so a 64 KiB
// chunk costs about 50 bytes of framing.
const (
	typeOffer   byte = 1 // size u64, sha256 [32], name length u16, name
	typeAccept  byte = 2 // offset u64: the receiver already has [0, offset)
	typeDecline byte = 3 // -
	typeData    byte = 4 // offset u64, bytes
	typeDone    byte = 5 // - : the receiver verified and saved the file
	typeFail    byte = 6 // code u8: the receiver gave up (see fail codes)
	typeCancel  byte = 7 // role u8: who canceled (roleSender, roleReceiver)

	// Folders (see folder.go). A peer from before folders ignores these
	// types; the sender notices the missing typeFolderSeen.
	typeFolderOffer byte = 8  // manifest length u32, manifest sha256 [32]
	typeFolderPart  byte = 9  // manifest bytes, in order, after the offer
	typeFolderSeen  byte = 10 // - : the receiver has the manifest and will answer
	typeFolderFile  byte = 11 // size u64, sha256 [32], folder id length u8, folder id, entry index u32
)

// Fail codes carried by typeFail.
const (
	failHashMismatch byte = 1
	failReceiver     byte = 2 // local error on the receiving side (disk, bad frames)
	// failCannotStore refuses an offer the receiver has no room for (disk
	// space, its limit for the room, its download folder). Older senders
	// read any unknown code as failReceiver.
	failCannotStore byte = 3
	// failBadFolder refuses a folder whose manifest is malformed or unsafe.
	failBadFolder byte = 4
)

// Roles carried by typeCancel: the same id can be in flight both ways, so
// a cancel says which side of the transfer sent it.
const (
	roleSender   byte = 0
	roleReceiver byte = 1
)

const (
	headerLen = 4
	// ChunkSize is the number of file bytes in one data frame: a frame
	// with its header fits a 64 KiB data channel message.
	ChunkSize = 64<<10 - 128
	// maxIDLen bounds transfer ids.
	maxIDLen = 64
	// maxNameLen bounds the untrusted file name in an offer, in bytes.
	maxNameLen = 1024
	// maxFrameBytes bounds one frame body from the peer.
	maxFrameBytes = 1 + 1 + maxIDLen + 8 + ChunkSize
)

// ErrProtocol is wrapped by every error caused by malformed peer input.
var ErrProtocol = errors.New("transfer: protocol error")

// frame is one decoded frame. Which fields matter depends on Type. Data
// aliases the read buffer: it is only valid until the next frame is read.
type frame struct {
	Type   byte
	ID     string
	Size   int64    // offer
	SHA256 [32]byte // offer
	Name   string   // offer
	Offset int64    // accept, data
	Data   []byte   // data
	Code   byte     // fail: fail code; cancel: role
	Folder string   // folder file: the folder's transfer id
	Index  uint32   // folder file: the entry in the manifest
}

// appendHeader starts a frame body of the given type and id after a
// placeholder length; finishFrame fills the length in.
func appendHeader(b []byte, typ byte, id string) []byte {
	b = append(b, 0, 0, 0, 0, typ, byte(len(id)))
	return append(b, id...)
}

func finishFrame(b []byte) []byte {
	binary.BigEndian.PutUint32(b, uint32(len(b)-headerLen))
	return b
}

// encodeFrame encodes every frame type but data (see Conn.sendChunks,
// which builds data frames in place to avoid a copy).
func encodeFrame(f frame) []byte {
	b := appendHeader(make([]byte, 0, 64+len(f.Name)), f.Type, f.ID)
	switch f.Type {
	case typeOffer:
		b = binary.BigEndian.AppendUint64(b, uint64(f.Size))
		b = append(b, f.SHA256[:]...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(f.Name)))
		b = append(b, f.Name...)
	case typeAccept, typeData:
		b = binary.BigEndian.AppendUint64(b, uint64(f.Offset))
		b = append(b, f.Data...)
	case typeFail, typeCancel:
		b = append(b, f.Code)
	case typeFolderOffer:
		b = binary.BigEndian.AppendUint32(b, uint32(f.Size))
		b = append(b, f.SHA256[:]...)
	case typeFolderPart:
		b = append(b, f.Data...)
	case typeFolderFile:
		b = binary.BigEndian.AppendUint64(b, uint64(f.Size))
		b = append(b, f.SHA256[:]...)
		b = append(b, byte(len(f.Folder)))
		b = append(b, f.Folder...)
		b = binary.BigEndian.AppendUint32(b, f.Index)
	}
	return finishFrame(b)
}

// dataHeaderLen is the size of a data frame before its payload.
func dataHeaderLen(id string) int { return headerLen + 2 + len(id) + 8 }

// readFrame reads one frame body into buf (which must hold maxFrameBytes)
// and returns it.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [headerLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 2 || n > maxFrameBytes {
		return nil, fmt.Errorf("%w: frame length %d outside 2..%d", ErrProtocol, n, maxFrameBytes)
	}
	body := buf[:n]
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("transfer: read frame body: %w", err)
	}
	return body, nil
}

// decodeFrame parses and validates one frame body from the untrusted peer.
// Unknown types decode with only Type set, so newer peers can add frames.
func decodeFrame(body []byte) (frame, error) {
	if len(body) < 2 {
		return frame{}, fmt.Errorf("%w: short frame", ErrProtocol)
	}
	f := frame{Type: body[0]}
	if f.Type < typeOffer || f.Type > typeFolderFile {
		return frame{Type: f.Type}, nil
	}
	idLen := int(body[1])
	rest := body[2:]
	if idLen == 0 || idLen > maxIDLen || len(rest) < idLen {
		return frame{}, fmt.Errorf("%w: bad id length %d", ErrProtocol, idLen)
	}
	id := rest[:idLen]
	if !validID(id) {
		return frame{}, fmt.Errorf("%w: invalid transfer id", ErrProtocol)
	}
	f.ID = string(id)
	rest = rest[idLen:]
	switch f.Type {
	case typeOffer:
		if len(rest) < 8+32+2 {
			return frame{}, fmt.Errorf("%w: short offer", ErrProtocol)
		}
		f.Size = int64(binary.BigEndian.Uint64(rest))
		copy(f.SHA256[:], rest[8:40])
		nameLen := int(binary.BigEndian.Uint16(rest[40:]))
		rest = rest[42:]
		if f.Size < 0 {
			return frame{}, fmt.Errorf("%w: negative size", ErrProtocol)
		}
		if nameLen > maxNameLen || len(rest) != nameLen {
			return frame{}, fmt.Errorf("%w: bad name length %d", ErrProtocol, nameLen)
		}
		f.Name = string(rest)
	case typeAccept, typeData:
		if len(rest) < 8 {
			return frame{}, fmt.Errorf("%w: short frame of type %d", ErrProtocol, f.Type)
		}
		f.Offset = int64(binary.BigEndian.Uint64(rest))
		if f.Offset < 0 {
			return frame{}, fmt.Errorf("%w: negative offset", ErrProtocol)
		}
		rest = rest[8:]
		if f.Type == typeAccept {
			if len(rest) != 0 {
				return frame{}, fmt.Errorf("%w: trailing bytes in accept", ErrProtocol)
			}
			break
		}
		if len(rest) == 0 || len(rest) > ChunkSize {
			return frame{}, fmt.Errorf("%w: data chunk of %d bytes", ErrProtocol, len(rest))
		}
		f.Data = rest
	case typeFolderOffer:
		if len(rest) != 4+32 {
			return frame{}, fmt.Errorf("%w: bad folder offer", ErrProtocol)
		}
		f.Size = int64(binary.BigEndian.Uint32(rest))
		copy(f.SHA256[:], rest[4:])
	case typeFolderPart:
		if len(rest) == 0 || len(rest) > ChunkSize {
			return frame{}, fmt.Errorf("%w: folder part of %d bytes", ErrProtocol, len(rest))
		}
		f.Data = rest
	case typeFolderFile:
		if len(rest) < 8+32+1 {
			return frame{}, fmt.Errorf("%w: short folder file offer", ErrProtocol)
		}
		f.Size = int64(binary.BigEndian.Uint64(rest))
		copy(f.SHA256[:], rest[8:40])
		n := int(rest[40])
		rest = rest[41:]
		if f.Size < 0 || len(rest) != n+4 || !validID(rest[:n]) {
			return frame{}, fmt.Errorf("%w: bad folder file offer", ErrProtocol)
		}
		f.Folder = string(rest[:n])
		f.Index = binary.BigEndian.Uint32(rest[n:])
	case typeDecline, typeDone, typeFolderSeen:
		if len(rest) != 0 {
			return frame{}, fmt.Errorf("%w: trailing bytes in frame of type %d", ErrProtocol, f.Type)
		}
	case typeFail, typeCancel:
		if len(rest) != 1 {
			return frame{}, fmt.Errorf("%w: bad frame of type %d", ErrProtocol, f.Type)
		}
		f.Code = rest[0]
		if f.Type == typeCancel && f.Code != roleSender && f.Code != roleReceiver {
			return frame{}, fmt.Errorf("%w: unknown cancel role %d", ErrProtocol, f.Code)
		}
	}
	return f, nil
}

// validID reports whether id is 1..maxIDLen bytes of the base64url alphabet.
func validID[T string | []byte](id T) bool {
	if len(id) == 0 || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
