package session

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/sigclient"
	"github.com/parley-chat/parley/signaling/protocol"
)

// TestErrorsAreTheSessionsOwn: what Join returns and Closed carries is a
// *session.Error, the server's codes passed on (the refusal still in its
// chain) and the session's own alike.
func TestErrorsAreTheSessionsOwn(t *testing.T) {
	srv := newServer(t)
	link := newRoom(t, srv)
	gone := link
	gone.RoomID = "AAAAAAAAAAAAAAAAAAAAA" // a well-formed id of no room
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := newParticipant(t)
	_, err := Join(ctx, Config{Link: gone, Identity: p.id, History: p.hist, LoopbackOnly: true})
	var e *Error
	var se *sigclient.Error
	if !errors.As(err, &e) || e.Code != protocol.CodeRoomNotFound || !errors.As(err, &se) {
		t.Fatalf("Join of no room: %#v", err)
	}

	other := link
	other.Secret = append([]byte(nil), link.Secret...)
	other.Secret[0] ^= 1
	s := join(t, link, p)
	leave(s)
	if _, err := Join(ctx, Config{Link: other, Identity: p.id, History: p.hist, LoopbackOnly: true}); !errors.As(err, &e) || e.Code != CodeLinkConflict {
		t.Fatalf("Join with another secret: %#v", err)
	}

	if c := coded(fmt.Errorf("join: %w", &sigclient.Error{Code: protocol.CodeRoomFull, Reason: "two"})); !errors.As(c, &e) || e.Error() != "ROOM_FULL: two" {
		t.Fatalf("coded: %#v", c)
	}
	if !IsCode(ErrPeerOffline, CodePeerOffline) || IsCode(errors.New("x"), CodePeerOffline) || AsError(nil) != nil {
		t.Fatal("IsCode / AsError")
	}
}
