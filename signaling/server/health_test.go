package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/server/servertest"
)

// pingStore is the in-memory registry with a backend health check, as the
// Redis store has.
type pingStore struct {
	*room.Registry
	err error
}

func (p *pingStore) Ping(context.Context) error { return p.err }

func TestHealthzAsksTheSharedStore(t *testing.T) {
	st := &pingStore{Registry: room.NewRegistry(nil, room.Config{})}
	ts := servertest.New(t, servertest.Options{Store: st})
	get := func() (int, string) {
		resp, err := http.Get(ts.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != 200 || body != "ok\n" {
		t.Fatalf("healthy store: %d %q", code, body)
	}
	st.err = errors.New("connection refused")
	if code, body := get(); code != http.StatusServiceUnavailable || body != "room store unavailable\n" {
		t.Fatalf("store down: %d %q", code, body)
	}
}
