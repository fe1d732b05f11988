package linkem

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// Link is what the control socket changes and reads: an Emulator, or a
// fake in tests.
type Link interface {
	Config() Config
	Set(Config) error
	Stats() (ab, ba Stats)
}

// maxControlLine bounds one command on the control socket.
const maxControlLine = 4096

// ServeControl answers commands on ln until ctx ends, one line each:
//
//	set rate=300k loss=1 ...   change the settings (see Parse); replies "ok SETTINGS"
//	config                     replies "ok SETTINGS"
//	stats                      replies one JSON object {"ab":{...},"ba":{...}}
//
// Errors reply "error TEXT". The socket is for the local user running the
// emulator (a unix socket in a private directory): it changes a test link,
// nothing else.
func ServeControl(ctx context.Context, ln net.Listener, link Link) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("linkem: control: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			done := context.AfterFunc(ctx, func() { c.Close() })
			defer done()
			sc := bufio.NewScanner(c)
			sc.Buffer(make([]byte, 0, 256), maxControlLine)
			for sc.Scan() {
				if _, err := fmt.Fprintln(c, answer(link, sc.Text())); err != nil {
					return
				}
			}
		}()
	}
}

// answer runs one control command.
func answer(link Link, line string) string {
	cmd, args, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch cmd {
	case "set":
		cfg, err := Parse(link.Config(), args)
		if err == nil {
			err = link.Set(cfg)
		}
		if err != nil {
			return "error " + err.Error()
		}
		return "ok " + link.Config().String()
	case "config":
		return "ok " + link.Config().String()
	case "stats":
		ab, ba := link.Stats()
		b, _ := json.Marshal(map[string]Stats{"ab": ab, "ba": ba})
		return string(b)
	}
	return fmt.Sprintf("error unknown command %q (set, config, stats)", cmd)
}

// Control sends one command to the control socket at path and returns the
// reply.
func Control(ctx context.Context, path, command string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return "", fmt.Errorf("linkem: control: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	}
	if _, err := fmt.Fprintln(c, command); err != nil {
		return "", fmt.Errorf("linkem: control: %w", err)
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	if !sc.Scan() {
		return "", fmt.Errorf("linkem: control: no reply: %w", errors.Join(sc.Err(), errors.New("connection closed")))
	}
	reply := sc.Text()
	if msg, ok := strings.CutPrefix(reply, "error "); ok {
		return "", fmt.Errorf("linkem: %s", msg)
	}
	return reply, nil
}
