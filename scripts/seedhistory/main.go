// Command seedhistory fills a profile's history with a long conversation in
// one room, for make bench-history's run on the real backend: it stores the
// room of LINK (from `parley-cli create`) under NAME with N messages, a
// thousand or so per transaction (history.AddMessages).
//
//	seedhistory -data-dir DIR -secret-store file -link LINK -messages 100000 [-name "Long history"]
//
// The messages alternate sides and look like ordinary chat; the newest has
// the id long-<N-1> so a benchmark knows what to wait for.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/profile"
	"github.com/parley-chat/parley/app/session"
)

func main() {
	var o profile.Options
	flag.StringVar(&o.DataDir, "data-dir", "", "the profile's data directory")
	flag.StringVar(&o.Name, "profile", "", "profile name (default: the app's)")
	flag.StringVar(&o.SecretStore, "secret-store", "", "keyring or file")
	link := flag.String("link", "", "the room link (parley-cli create)")
	n := flag.Int("messages", 100_000, "how many messages")
	name := flag.String("name", "Long history", "the room's local name")
	flag.Parse()
	if err := run(o, *link, *name, *n); err != nil {
		fmt.Fprintln(os.Stderr, "seedhistory:", err)
		os.Exit(1)
	}
}

func run(o profile.Options, rawLink, name string, n int) error {
	l, err := session.ParseLink(rawLink)
	if err != nil {
		return err
	}
	p, err := profile.Open(o)
	if err != nil {
		return err
	}
	defer p.Close()
	now := time.Now()
	start := now.Add(-time.Duration(n) * time.Minute)
	if err := p.History.PutRoom(history.Room{
		ID: l.RoomID, Server: l.Server, Link: l.String(), Name: name, CreatedAt: start, LastActive: start,
	}); err != nil {
		return err
	}
	key := history.RoomKey(l.Server, l.RoomID)
	lines := []string{"Did you see the **build** finish?", "Yes, all green.", "Lunch at one?", "Sure, the usual place.", "Here is the `config` I meant."}
	msgs := make([]history.Message, n)
	for i := range msgs {
		out := i%2 == 0
		st := history.State("")
		if out {
			st = history.StateDelivered
		}
		msgs[i] = history.Message{
			ID: fmt.Sprintf("long-%d", i), RoomKey: key, Outgoing: out, State: st,
			Text: fmt.Sprintf("%s (%d)", lines[i%len(lines)], i), SentAt: start.Add(time.Duration(i) * time.Minute),
		}
	}
	t0 := time.Now()
	for chunk := range slices.Chunk(msgs, 2000) {
		if _, err := p.History.AddMessages(chunk); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "seedhistory: %d messages in %s\n", n, time.Since(t0).Round(time.Millisecond))
	return nil
}
