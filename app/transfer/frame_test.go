package transfer

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []frame{
		{Type: typeOffer, ID: "abc", Size: 1 << 40, SHA256: [32]byte{1, 2, 3}, Name: "ünï.txt"},
		{Type: typeOffer, ID: "z", Size: 0, Name: ""},
		{Type: typeAccept, ID: "a-b_c", Offset: 12345},
		{Type: typeDecline, ID: "x"},
		{Type: typeData, ID: strings.Repeat("i", maxIDLen), Offset: 7, Data: bytes.Repeat([]byte{9}, ChunkSize)},
		{Type: typeDone, ID: "x"},
		{Type: typeFail, ID: "x", Code: failHashMismatch},
		{Type: typeCancel, ID: "x", Code: roleReceiver},
		{Type: typeFolderOffer, ID: "f", Size: 1 << 20, SHA256: [32]byte{4}},
		{Type: typeFolderPart, ID: "f", Data: []byte("PFM1")},
		{Type: typeFolderSeen, ID: "f"},
		{Type: typeFolderFile, ID: "g", Size: 5, SHA256: [32]byte{5}, Folder: "f", Index: 70000},
	}
	buf := make([]byte, maxFrameBytes)
	for _, want := range tests {
		body, err := readFrame(bytes.NewReader(encodeFrame(want)), buf)
		if err != nil {
			t.Fatalf("type %d: %v", want.Type, err)
		}
		got, err := decodeFrame(body)
		if err != nil {
			t.Fatalf("type %d: %v", want.Type, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of type %d: got %+v", want.Type, got)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	good := encodeFrame(frame{Type: typeAccept, ID: "abc", Offset: 1})[headerLen:]
	tests := map[string][]byte{
		"short":                     {typeAccept},
		"empty id":                  {typeDecline, 0},
		"bad id":                    append([]byte{typeDecline, 3}, "a/b"...),
		"id overrun":                {typeDecline, 9, 'a'},
		"short accept":              good[:len(good)-1],
		"long accept":               append(append([]byte{}, good...), 0),
		"neg offset":                append(append([]byte{}, good[:len(good)-8]...), 0x80, 0, 0, 0, 0, 0, 0, 0),
		"empty chunk":               encodeFrame(frame{Type: typeData, ID: "a"})[headerLen:],
		"bad role":                  append([]byte{typeCancel, 1, 'a'}, 7),
		"decline extra":             append([]byte{typeDecline, 1, 'a'}, 0),
		"empty folder part":         encodeFrame(frame{Type: typeFolderPart, ID: "a"})[headerLen:],
		"short folder offer":        encodeFrame(frame{Type: typeFolderOffer, ID: "a"})[headerLen : 4+2+1+10],
		"folder file bad folder id": encodeFrame(frame{Type: typeFolderFile, ID: "a", Folder: "a/b"})[headerLen:],
		"folder file no index": func() []byte {
			b := encodeFrame(frame{Type: typeFolderFile, ID: "a", Folder: "b"})[headerLen:]
			return b[:len(b)-1]
		}(),
		"seen extra": append([]byte{typeFolderSeen, 1, 'a'}, 0),
	}
	for name, body := range tests {
		if _, err := decodeFrame(body); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: decode = %v, want ErrProtocol", name, err)
		}
	}
	if f, err := decodeFrame([]byte{200, 0}); err != nil || f.Type != 200 {
		t.Errorf("unknown type: %+v, %v", f, err)
	}
}

// FuzzDecodeFrame feeds arbitrary bytes through the reader and decoder the
// read loop uses: no panics, and everything accepted is within bounds.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(encodeFrame(frame{Type: typeOffer, ID: "abc", Size: 10, Name: "a.txt"}))
	f.Add(encodeFrame(frame{Type: typeData, ID: "abc", Offset: 3, Data: []byte("xyz")}))
	f.Add([]byte{0, 0, 0, 0})
	f.Add(encodeFrame(frame{Type: typeFolderFile, ID: "g", Size: 5, Folder: "f", Index: 1}))
	f.Add(encodeFrame(frame{Type: typeFolderPart, ID: "f", Data: []byte("PFM1")}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		buf := make([]byte, maxFrameBytes)
		for {
			body, err := readFrame(r, buf)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrProtocol) {
					t.Fatalf("unexpected read error %v", err)
				}
				return
			}
			fr, err := decodeFrame(body)
			if err != nil {
				if !errors.Is(err, ErrProtocol) {
					t.Fatalf("decode error does not wrap ErrProtocol: %v", err)
				}
				continue
			}
			if fr.Type < typeOffer || fr.Type > typeFolderFile {
				continue
			}
			if fr.Type == typeFolderFile && !validID(fr.Folder) {
				t.Fatalf("accepted a folder file offer with folder id %q", fr.Folder)
			}
			if !validID(fr.ID) || fr.Size < 0 || fr.Offset < 0 || len(fr.Name) > maxNameLen || len(fr.Data) > ChunkSize {
				t.Fatalf("accepted out-of-bounds frame %+v", fr)
			}
			if fr.Type == typeData && len(fr.Data) == 0 {
				t.Fatal("accepted an empty chunk")
			}
		}
	})
}
