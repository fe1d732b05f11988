package e2e

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
)

// jsonEvent decodes one line of `receive --json` or `history --json`.
func jsonEvent(t *testing.T, who, line string) map[string]any {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatalf("%s printed %q, not a JSON object: %v", who, line, err)
	}
	return ev
}

// stop ends a receive with Ctrl-C, which is a normal way to stop it.
func stop(t *testing.T, p *proc) {
	t.Helper()
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(step); code != 0 {
		t.Fatalf("%s exited %d after Ctrl-C", p.Name(), code)
	}
}

// historyOf returns u's messages of the room from `history --json`, by id.
func historyOf(t *testing.T, u *user, link string) map[string]map[string]any {
	t.Helper()
	msgs := map[string]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(u.mustRun("history", link, "--json")), "\n") {
		m := jsonEvent(t, u.profile+" history", l)
		msgs[m["id"].(string)] = m
	}
	return msgs
}

// TestMessageOpsBothHistories: two parley-cli processes through a real
// parley-signal send, reply, edit, react and delete; the receiving side
// prints each as it happens, and both histories end with the edit (marked
// edited), the reaction and the tombstone, whose text is gone from both.
func TestMessageOpsBothHistories(t *testing.T) {
	t.Parallel()
	server := startSignal(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	link := strings.TrimSpace(alice.mustRun("create", "--server", server))

	// Send: the id is send's only stdout line; the receiver sees it too.
	recv := bob.start(nil, "receive", link, "--json", "--count", "1")
	hello := strings.TrimSpace(alice.mustRun("send", link, "--text", "hello bob"))
	if ev := jsonEvent(t, "bob", recv.Line(step)); ev["type"] != "message" || ev["id"] != hello || ev["text"] != "hello bob" || ev["from"] != "peer" {
		t.Fatalf("bob received %v; alice's send printed %q", ev, hello)
	}
	recv.Wait(step)

	// Reply.
	recv = alice.start(nil, "receive", link, "--json", "--count", "1")
	answer := strings.TrimSpace(bob.mustRun("send", link, "--reply", hello, "--text", "SECRET-ANSWER"))
	if ev := jsonEvent(t, "alice", recv.Line(step)); ev["type"] != "message" || ev["id"] != answer || ev["replyTo"] != hello || ev["text"] != "SECRET-ANSWER" {
		t.Fatalf("alice received %v", ev)
	}
	recv.Wait(step)

	// Edit (alice's own message), shown to bob as a readable line.
	recv = bob.start(nil, "receive", link)
	if out := alice.mustRun("send", link, "--edit", hello, "--text", "hello, bob"); out != "" {
		t.Fatalf("send --edit printed %q on stdout", out)
	}
	if got := recv.Line(step); got != "(edited) hello, bob" {
		t.Fatalf("bob printed %q for the edit", got)
	}
	stop(t, recv)

	// Reaction (bob's, to alice's message), as JSON.
	recv = alice.start(nil, "receive", link, "--json")
	bob.mustRun("send", link, "--react", hello, "👍")
	if ev := jsonEvent(t, "alice", recv.Line(step)); ev["type"] != "reaction" || ev["id"] != hello || ev["emoji"] != "👍" {
		t.Fatalf("alice received %v for the reaction", ev)
	}
	// Delete (bob's own answer).
	bob.mustRun("send", link, "--delete", answer)
	if ev := jsonEvent(t, "alice", recv.Line(step)); ev["type"] != "delete" || ev["id"] != answer {
		t.Fatalf("alice received %v for the delete", ev)
	}
	stop(t, recv)

	// Refusals, before waiting for the peer: bob cannot edit alice's
	// message, nobody can change a deleted one.
	for _, tc := range []struct {
		u    *user
		args []string
	}{
		{bob, []string{"--edit", hello, "--text", "bob was here"}},
		{alice, []string{"--react", answer, "👍"}},
		{bob, []string{"--edit", answer, "--text", "back"}},
	} {
		if _, errs, code := tc.u.run(append([]string{"send", link, "--wait", "20s"}, tc.args...)...); code != exitCannotChange || !strings.Contains(errs, "CANNOT_CHANGE") {
			t.Errorf("send %q: exit %d, stderr %s", tc.args, code, errs)
		}
	}

	for _, u := range []*user{alice, bob} {
		msgs := historyOf(t, u, link)
		if len(msgs) != 2 {
			t.Fatalf("%s's history has %d messages: %v", u.profile, len(msgs), msgs)
		}
		h, a := msgs[hello], msgs[answer]
		if h["text"] != "hello, bob" || h["edited"] != true || h["deleted"] != false {
			t.Errorf("%s's copy of the edited message: %v", u.profile, h)
		}
		if a["deleted"] != true || a["text"] != "" || a["replyTo"] != hello {
			t.Errorf("%s's tombstone: %v", u.profile, a)
		}
		plain := u.mustRun("history", link)
		if strings.Contains(plain, "SECRET-ANSWER") || !strings.Contains(plain, "edited") || !strings.Contains(plain, hello) || !strings.Contains(plain, "(deleted)") {
			t.Errorf("%s's history:\n%s", u.profile, plain)
		}
	}
	if r := historyOf(t, alice, link)[hello]["peerReaction"]; r != "👍" {
		t.Errorf("alice sees bob's reaction as %v", r)
	}
	if r := historyOf(t, bob, link)[hello]["myReaction"]; r != "👍" {
		t.Errorf("bob's own reaction is %v", r)
	}
}
