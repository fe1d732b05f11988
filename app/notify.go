package app

import (
	"context"
	"os/exec"
	"sync"
	"time"
)

// notifyTimeout bounds one notify-send run; a hung notification daemon
// must not pile up processes.
const notifyTimeout = 5 * time.Second

// commandNotifier shows desktop notifications with notify-send (Wails v2
// has no notification API on Linux). It never blocks the caller and does
// nothing when notify-send is not installed.
type commandNotifier struct {
	path string
	ctx  context.Context
	wg   *sync.WaitGroup
}

// newCommandNotifier finds notify-send; runs are tied to ctx and counted
// in wg so the app can wait for them on shutdown.
func newCommandNotifier(ctx context.Context, wg *sync.WaitGroup) func(title, body string) {
	path, err := exec.LookPath("notify-send")
	if err != nil {
		return func(string, string) {}
	}
	n := commandNotifier{path: path, ctx: ctx, wg: wg}
	return n.notify
}

func (n commandNotifier) notify(title, body string) {
	n.wg.Go(func() {
		ctx, cancel := context.WithTimeout(n.ctx, notifyTimeout)
		defer cancel()
		_ = exec.CommandContext(ctx, n.path, "--app-name=Parley", "--icon=parley", "--", title, body).Run()
	})
}
