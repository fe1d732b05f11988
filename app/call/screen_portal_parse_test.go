//go:build linux && cgo

package call

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
)

// A stream as the portal sends it: (u node, a{sv} properties).
type wireStream struct {
	Node  uint32
	Props map[string]dbus.Variant
}

type wireSize struct{ W, H int32 }

// responseMessage is a Request's Response signal as it crosses the bus.
func responseMessage(code uint32, results map[string]dbus.Variant) *dbus.Message {
	return &dbus.Message{
		Type: dbus.TypeSignal,
		Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldPath:      dbus.MakeVariant(dbus.ObjectPath("/org/freedesktop/portal/desktop/request/1_5/parley_x")),
			dbus.FieldInterface: dbus.MakeVariant(portalRequest),
			dbus.FieldMember:    dbus.MakeVariant("Response"),
			dbus.FieldSignature: dbus.MakeVariant(dbus.SignatureOf(code, results)),
		},
		Body: []interface{}{code, results},
	}
}

// overTheWire encodes a message and decodes it again: the values the
// parsers see are exactly godbus's decoding of the portal's bytes.
func overTheWire(t testing.TB, m *dbus.Message) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := m.EncodeTo(&b, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func decodedResults(t *testing.T, results map[string]dbus.Variant) map[string]dbus.Variant {
	t.Helper()
	m, err := dbus.DecodeMessage(bytes.NewReader(overTheWire(t, responseMessage(0, results))))
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseResponse(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func stream(node uint32, props map[string]dbus.Variant) wireStream {
	if props == nil {
		props = map[string]dbus.Variant{}
	}
	return wireStream{node, props}
}

func TestParsePortalStreams(t *testing.T) {
	t.Parallel()
	size := func(w, h int32) map[string]dbus.Variant {
		return map[string]dbus.Variant{"size": dbus.MakeVariant(wireSize{w, h}), "position": dbus.MakeVariant(wireSize{0, 0}), "source_type": dbus.MakeVariant(uint32(1))}
	}
	many := make([]wireStream, maxPortalStreams+1)
	for i := range many {
		many[i] = stream(uint32(40+i), nil)
	}
	for _, tc := range []struct {
		name    string
		results map[string]dbus.Variant
		want    []portalStream
		err     string
	}{
		{"one monitor", map[string]dbus.Variant{"streams": dbus.MakeVariant([]wireStream{stream(42, size(1920, 1080))})}, []portalStream{{42, 1920, 1080}}, ""},
		{"no size given", map[string]dbus.Variant{"streams": dbus.MakeVariant([]wireStream{stream(7, nil)})}, []portalStream{{7, 0, 0}}, ""},
		{"the first of two", map[string]dbus.Variant{"streams": dbus.MakeVariant([]wireStream{stream(1, size(800, 600)), stream(2, size(640, 480))}), "restore_token": dbus.MakeVariant("x")}, []portalStream{{1, 800, 600}, {2, 640, 480}}, ""},
		{"no streams", map[string]dbus.Variant{}, nil, "shared no stream"},
		{"empty streams", map[string]dbus.Variant{"streams": dbus.MakeVariant([]wireStream{})}, nil, "shared no stream"},
		{"too many streams", map[string]dbus.Variant{"streams": dbus.MakeVariant(many)}, nil, "at most 8"},
		{"streams of another type", map[string]dbus.Variant{"streams": dbus.MakeVariant([]uint32{42})}, nil, "not a(ua{sv})"},
		{"node of another type", map[string]dbus.Variant{"streams": dbus.MakeVariant([]struct {
			Node  string
			Props map[string]dbus.Variant
		}{{"42", nil}})}, nil, "a stream in the desktop portal's answer is malformed"},
		{"size of another type", map[string]dbus.Variant{"streams": dbus.MakeVariant([]wireStream{stream(1, map[string]dbus.Variant{"size": dbus.MakeVariant("big")})})}, nil, "size in the desktop portal's answer is malformed"},
		{"size with three fields", map[string]dbus.Variant{"streams": dbus.MakeVariant([]wireStream{stream(1, map[string]dbus.Variant{"size": dbus.MakeVariant(struct{ A, B, C int32 }{1, 2, 3})})})}, nil, "malformed"},
		{"size unsigned", map[string]dbus.Variant{"streams": dbus.MakeVariant([]wireStream{stream(1, map[string]dbus.Variant{"size": dbus.MakeVariant(struct{ A, B uint32 }{1, 2})})})}, nil, "malformed"},
		{"negative size", map[string]dbus.Variant{"streams": dbus.MakeVariant([]wireStream{stream(1, size(-1, 600))})}, nil, "out of range"},
		{"zero size", map[string]dbus.Variant{"streams": dbus.MakeVariant([]wireStream{stream(1, size(800, 0))})}, nil, "out of range"},
		{"huge size", map[string]dbus.Variant{"streams": dbus.MakeVariant([]wireStream{stream(1, size(1<<30, 600))})}, nil, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStreams(decodedResults(t, tc.results))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseStreams: %v, %v; want an error saying %q", got, err, tc.err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("parseStreams: %v, %v; want %v", got, err, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("stream %d: %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestParsePortalAnswers(t *testing.T) {
	t.Parallel()
	// Response codes.
	for _, tc := range []struct {
		code uint32
		err  string
	}{{0, ""}, {1, "you cancelled the screen picker"}, {2, "refused the screen share (response 2)"}, {7, "response 7"}} {
		m, err := dbus.DecodeMessage(bytes.NewReader(overTheWire(t, responseMessage(tc.code, map[string]dbus.Variant{}))))
		if err != nil {
			t.Fatal(err)
		}
		_, err = parseResponse(m.Body)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("response %d: %v, want %q", tc.code, err, tc.err)
		}
	}
	for _, body := range [][]interface{}{nil, {uint32(0)}, {"0", map[string]dbus.Variant{}}, {uint32(0), "results"}, {uint32(0), map[string]dbus.Variant{}, uint32(1)}} {
		if _, err := parseResponse(body); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Errorf("parseResponse(%v): %v, want malformed", body, err)
		}
	}

	// Session handles.
	for _, tc := range []struct {
		v    interface{}
		want dbus.ObjectPath
	}{
		{"/org/freedesktop/portal/desktop/session/1_5/parley_1", "/org/freedesktop/portal/desktop/session/1_5/parley_1"},
		{dbus.ObjectPath("/org/freedesktop/portal/desktop/session/1_5/t"), "/org/freedesktop/portal/desktop/session/1_5/t"},
		{"/org/freedesktop/portal/desktop/request/1_5/t", ""},
		{"/org/freedesktop/portal/desktop/session/", ""},
		{"/org/freedesktop/portal/desktop/session/a//b", ""},
		{"/org/freedesktop/portal/desktop/session/" + strings.Repeat("a", 300), ""},
		{"relative", ""},
		{uint32(5), ""},
	} {
		got, err := parseSessionHandle(decodedResults(t, map[string]dbus.Variant{"session_handle": dbus.MakeVariant(tc.v)}))
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("session handle %v: %q, %v; want %q", tc.v, got, err, tc.want)
		}
	}
	if _, err := parseSessionHandle(map[string]dbus.Variant{}); err == nil {
		t.Error("no session handle was accepted")
	}

	// What the ScreenCast interface offers, and what is asked of it.
	u := func(v uint32) dbus.Variant { return dbus.MakeVariant(v) }
	for _, tc := range []struct {
		name       string
		props      map[string]dbus.Variant
		err        string
		types      uint32
		cursorMode uint32 // 0: not asked
	}{
		{"monitors, embedded cursor", map[string]dbus.Variant{"version": u(4), "AvailableSourceTypes": u(1), "AvailableCursorModes": u(3)}, "", 1, portalCursorEmbedded},
		{"monitors and windows, hidden cursor only", map[string]dbus.Variant{"version": u(4), "AvailableSourceTypes": u(7), "AvailableCursorModes": u(1)}, "", 3, portalCursorHidden},
		{"metadata cursor only", map[string]dbus.Variant{"version": u(4), "AvailableSourceTypes": u(2), "AvailableCursorModes": u(4)}, "", 2, 0},
		{"version 1 knows no cursor modes", map[string]dbus.Variant{"version": u(1), "AvailableSourceTypes": u(1), "AvailableCursorModes": u(3)}, "", 1, 0},
		{"virtual sources only", map[string]dbus.Variant{"version": u(4), "AvailableSourceTypes": u(4)}, "neither monitors nor windows", 0, 0},
		{"no sources", map[string]dbus.Variant{"version": u(4)}, "neither monitors nor windows", 0, 0},
		{"version 0", map[string]dbus.Variant{"version": u(0), "AvailableSourceTypes": u(1)}, "no usable version", 0, 0},
		{"version as a string", map[string]dbus.Variant{"version": dbus.MakeVariant("4"), "AvailableSourceTypes": u(1)}, "no usable version", 0, 0},
		{"source types as a string", map[string]dbus.Variant{"version": u(4), "AvailableSourceTypes": dbus.MakeVariant("1")}, "neither monitors nor windows", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := parsePortalInfo(tc.props)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parsePortalInfo: %+v, %v; want %q", in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			opts := in.selectOptions()
			if v, _ := variantUint32(opts, "types"); v != tc.types {
				t.Errorf("types %d, want %d", v, tc.types)
			}
			if m, ok := variantUint32(opts, "cursor_mode"); m != tc.cursorMode || ok != (tc.cursorMode != 0) {
				t.Errorf("cursor_mode %d (%v), want %d", m, ok, tc.cursorMode)
			}
			if multiple, ok := opts["multiple"].Value().(bool); !ok || multiple {
				t.Errorf("multiple %v, want false", opts["multiple"])
			}
		})
	}
}

// FuzzParsePortalResponse feeds the parsers whatever godbus decodes from
// arbitrary bytes on the bus: they must never panic, and what they accept
// stays within bounds.
func FuzzParsePortalResponse(f *testing.F) {
	seeds := []*dbus.Message{
		responseMessage(0, map[string]dbus.Variant{"streams": dbus.MakeVariant([]wireStream{{42, map[string]dbus.Variant{"size": dbus.MakeVariant(wireSize{1920, 1080})}}})}),
		responseMessage(0, map[string]dbus.Variant{"session_handle": dbus.MakeVariant("/org/freedesktop/portal/desktop/session/1_5/t")}),
		responseMessage(0, map[string]dbus.Variant{"version": dbus.MakeVariant(uint32(4)), "AvailableSourceTypes": dbus.MakeVariant(uint32(3)), "AvailableCursorModes": dbus.MakeVariant(uint32(7))}),
		responseMessage(1, map[string]dbus.Variant{}),
	}
	for _, m := range seeds {
		f.Add(overTheWire(f, m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// godbus allocates what the header declares (up to 128 MiB)
		// before reading it; the bus daemon checks a message's framing
		// before it reaches us, so only inputs whose declared lengths
		// fit the bytes at hand are worth decoding here.
		if len(b) < 16 || (b[0] != 'l' && b[0] != 'B') {
			return
		}
		var order binary.ByteOrder = binary.LittleEndian
		if b[0] == 'B' {
			order = binary.BigEndian
		}
		if int64(order.Uint32(b[4:8]))+int64(order.Uint32(b[12:16])) > int64(len(b)) {
			return
		}
		m, err := dbus.DecodeMessage(bytes.NewReader(b))
		if err != nil {
			return
		}
		results, err := parseResponse(m.Body)
		if err != nil {
			return
		}
		if streams, err := parseStreams(results); err == nil {
			if len(streams) == 0 || len(streams) > maxPortalStreams {
				t.Fatalf("%d streams accepted", len(streams))
			}
			for _, s := range streams {
				if s.width < 0 || s.height < 0 || s.width > 16384 || s.height > 16384 {
					t.Fatalf("size %dx%d accepted", s.width, s.height)
				}
			}
		}
		if p, err := parseSessionHandle(results); err == nil && (!p.IsValid() || !strings.HasPrefix(string(p), string(portalPath)+"/session/")) {
			t.Fatalf("session handle %q accepted", p)
		}
		if in, err := parsePortalInfo(results); err == nil {
			_ = in.selectOptions()
		}
	})
}
