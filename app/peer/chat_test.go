package peer_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/app/chat"
)

type inbox struct {
	got       chan chat.Message
	delivered chan string
}

func (i inbox) Receive(m chat.Message) error { i.got <- m; return nil }
func (i inbox) Delivered(id string)          { i.delivered <- id }
func (inbox) Typing()                        {}
func (inbox) Read(string)                    {}

// TestChatOverVerifiedStream runs the real chat protocol over the verified
// data channel stream, with a maximal message that spans several SCTP
// messages.
func TestChatOverVerifiedStream(t *testing.T) {
	t.Parallel()
	_, ra, rb := verifiedPair(t)

	ia := inbox{got: make(chan chat.Message, 4), delivered: make(chan string, 4)}
	ib := inbox{got: make(chan chat.Message, 4), delivered: make(chan string, 4)}
	ca, cb := chat.NewConn(ra, ia, nil), chat.NewConn(rb, ib, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, c := range []*chat.Conn{ca, cb} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Run(ctx) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })

	text := strings.Repeat("ü", chat.MaxTextBytes/2)
	m, err := ca.Send(text)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ib.got:
		if got.ID != m.ID || got.Text != text {
			t.Fatal("message changed in transit")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("message not received")
	}
	select {
	case id := <-ia.delivered:
		if id != m.ID {
			t.Fatalf("ack for %s, want %s", id, m.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery ack")
	}
}
