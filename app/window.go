package app

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// Window is what the facade needs from the desktop window. The Wails
// implementation only works inside a running window (runtime calls panic
// without its context), so tests supply their own.
type Window interface {
	// Emit pushes an event to the UI.
	Emit(name string, payload any)
	// SetClipboard puts text on the system clipboard.
	SetClipboard(text string) error
	// OpenURL opens an http(s) address in the system browser.
	OpenURL(url string)
	// Raise shows, unminimises and focuses the window.
	Raise()
}

// wailsWindow is the Window of a running Wails app.
type wailsWindow struct{ ctx context.Context }

func (w wailsWindow) Emit(name string, payload any) { runtime.EventsEmit(w.ctx, name, payload) }
func (w wailsWindow) SetClipboard(text string) error {
	return runtime.ClipboardSetText(w.ctx, text)
}
func (w wailsWindow) OpenURL(url string) { runtime.BrowserOpenURL(w.ctx, url) }
func (w wailsWindow) Raise() {
	runtime.WindowUnminimise(w.ctx)
	runtime.WindowShow(w.ctx)
}

// PickFiles opens the native multi-file dialog; no paths when canceled.
func (w wailsWindow) PickFiles(title string) ([]string, error) {
	return runtime.OpenMultipleFilesDialog(w.ctx, runtime.OpenDialogOptions{Title: title})
}

// noWindow is used before the window exists: events go nowhere.
type noWindow struct{}

func (noWindow) Emit(string, any) {}
func (noWindow) SetClipboard(string) error {
	return apiErrorf(CodeInternal, "the window is not open yet")
}
func (noWindow) OpenURL(string) {}
func (noWindow) Raise()         {}

// focusScript reports the window's focus to Go as app:focus events: Wails
// v2 has no focus API, and notifications should only appear while the
// user looks elsewhere.
const focusScript = `(function(){
  const send = (f) => window.runtime && window.runtime.EventsEmit('` + eventFocus + `', f);
  window.addEventListener('focus', () => send(true));
  window.addEventListener('blur', () => send(false));
  send(document.hasFocus());
})();`

// Lifecycle is what main.go hands to wails.Run (OnStartup, OnDomReady,
// OnBeforeClose, OnShutdown, SingleInstanceLock). It is a separate type
// so that these methods are not bound to JavaScript like App's.
type Lifecycle struct{ a *App }

// LifecycleOf returns a's window lifecycle hooks.
func LifecycleOf(a *App) Lifecycle { return Lifecycle{a} }

// Startup is OnStartup: it wires the Wails runtime and opens the profile.
// SIGTERM and SIGINT (logout, Ctrl+C in a terminal) quit like closing the
// window, so rooms are left politely and the window state is saved.
func (l Lifecycle) Startup(ctx context.Context) {
	l.a.start(ctx, wailsWindow{ctx})
	sig, stop := signal.NotifyContext(l.a.context(), syscall.SIGTERM, os.Interrupt)
	l.a.wg.Go(func() {
		defer stop()
		<-sig.Done()
		if l.a.context().Err() == nil {
			l.a.log.Info("signal received; quitting")
			runtime.Quit(ctx) // asynchronous: runs OnBeforeClose, then OnShutdown
		}
	})
}

// DomReady is OnDomReady: it starts focus tracking and restores the
// remembered window position.
func (l Lifecycle) DomReady(ctx context.Context) {
	l.a.focusOnce.Do(func() { // DOM ready fires again on every reload
		runtime.EventsOn(ctx, eventFocus, func(data ...any) {
			if len(data) > 0 {
				if f, ok := data[0].(bool); ok {
					l.a.setFocused(f)
				}
			}
		})
	})
	runtime.WindowExecJS(ctx, focusScript)
	if w := l.a.cfg.Window0; w.Placed && !w.Maximised {
		runtime.WindowSetPosition(ctx, w.X, w.Y)
	}
}

// BeforeClose is OnBeforeClose: it records the window's size and position
// while the window still exists. It never prevents closing.
func (l Lifecycle) BeforeClose(ctx context.Context) bool {
	w := WindowState{Maximised: runtime.WindowIsMaximised(ctx), Placed: true}
	w.Width, w.Height = runtime.WindowGetSize(ctx)
	w.X, w.Y = runtime.WindowGetPosition(ctx)
	if w.Maximised {
		prev := l.a.cfg.Window0
		w.Width, w.Height, w.X, w.Y, w.Placed = prev.Width, prev.Height, prev.X, prev.Y, prev.Placed
	}
	l.a.mu.Lock()
	l.a.winState = &w
	l.a.mu.Unlock()
	return false
}

// Shutdown is OnShutdown: it leaves every room politely, stops the LAN
// server, saves the window state and closes the profile.
func (l Lifecycle) Shutdown(context.Context) {
	if err := l.a.close(); err != nil {
		l.a.log.Warn("shutdown", "err", err)
	}
}

// FileDrop is the runtime.OnFileDrop callback: the dropped files are sent
// into the room in view (App.SetActiveRoom).
func (l Lifecycle) FileDrop(_, _ int, paths []string) {
	l.a.dropFiles(paths)
}

// SecondInstance handles another launch of the app (for example a
// parley:// link opened from a browser): the link is forwarded to the UI
// and the window raised.
func (l Lifecycle) SecondInstance(args []string) {
	l.a.secondInstance(args)
}
