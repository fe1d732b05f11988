package sigclient

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/parley-chat/parley/signaling/protocol"
	"github.com/parley-chat/parley/signaling/server"
)

func TestCreateRoom(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	tests := []struct {
		name     string
		d        time.Duration
		wantSecs int64 // 0: no timer
		wantErr  bool
	}{
		{name: "no timer", d: 0},
		{name: "one hour", d: time.Hour, wantSecs: 3600},
		{name: "rounded up", d: 1500 * time.Millisecond, wantSecs: 2},
		{name: "negative", d: -time.Second, wantErr: true},
		{name: "beyond the maximum", d: (protocol.MaxSelfDestructSeconds + 1) * time.Second, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := CreateRoom(ctxT(t), ts.hs.Client(), ts.URL+"/", tt.d, pub(testRoomKey))
			if tt.wantErr {
				var e *Error
				if err == nil || errors.As(err, &e) {
					t.Fatalf("CreateRoom = %+v, %v; want a local error, not the server's", r, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !protocol.ValidRoomID(r.RoomID) {
				t.Errorf("room id %q", r.RoomID)
			}
			switch {
			case tt.wantSecs == 0 && r.ExpiresAt != nil:
				t.Errorf("ExpiresAt = %d, want none", *r.ExpiresAt)
			case tt.wantSecs != 0 && (r.ExpiresAt == nil || *r.ExpiresAt-r.CreatedAt != tt.wantSecs*1000):
				t.Errorf("response %+v, want a %d s timer", r, tt.wantSecs)
			}
			info, err := GetRoom(ctxT(t), ts.hs.Client(), ts.URL, r.RoomID)
			if err != nil || info.RoomID != r.RoomID || info.Connected != 0 || info.CreatedAt != r.CreatedAt {
				t.Errorf("GetRoom = %+v, %v", info, err)
			}
		})
	}
}

func TestGetRoomErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	tests := []struct{ name, id, code string }{
		{"unknown", "V1StGXR8_Z5jdHi6B-myT", protocol.CodeRoomNotFound},
		{"malformed", "../../etc", protocol.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := GetRoom(ctxT(t), nil, ts.URL, tt.id); !IsCode(err, tt.code) {
				t.Errorf("GetRoom = %v, want %s", err, tt.code)
			}
		})
	}
}

func TestCreateRoomRateLimited(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *server.Config) { c.RateRooms = 2 })
	for range 2 {
		createRoom(t, ts.URL, 0)
	}
	_, err := CreateRoom(ctxT(t), nil, ts.URL, 0, pub(testRoomKey))
	var e *Error
	if !errors.As(err, &e) || e.Code != protocol.CodeRateLimited || e.RetryAfter <= 0 {
		t.Fatalf("third CreateRoom = %v, want RATE_LIMITED with RetryAfter", err)
	}
}

// TestHTTPUnexpectedResponses covers what a misconfigured reverse proxy or
// a hostile server can answer.
func TestHTTPUnexpectedResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		header map[string]string
		code   string // "" means: an error that is not an *Error
	}{
		{name: "proxy error page", status: http.StatusBadGateway, body: "<html>bad gateway</html>"},
		{name: "created but garbage", status: http.StatusCreated, body: "{"},
		{name: "created with a bad id", status: http.StatusCreated, body: `{"roomId":"../x","createdAt":1}`},
		{name: "coded error", status: http.StatusServiceUnavailable, body: `{"error":"SERVER_BUSY"}`, header: map[string]string{"Retry-After": "3"}, code: protocol.CodeServerBusy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(hs.Close)
			_, err := CreateRoom(ctxT(t), hs.Client(), hs.URL, 0, pub(testRoomKey))
			var e *Error
			switch {
			case err == nil:
				t.Fatal("CreateRoom succeeded")
			case tt.code == "" && errors.As(err, &e):
				t.Errorf("got *Error %v, want a plain error", err)
			case tt.code != "" && (!errors.As(err, &e) || e.Code != tt.code || e.RetryAfter != 3*time.Second):
				t.Errorf("got %v, want %s with RetryAfter 3s", err, tt.code)
			}
		})
	}
}
