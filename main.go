// Command parley is the Parley desktop app: the Wails window around the
// app.App facade. It parses the command line, restores the window, and
// hands everything else to package app.
package main

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"
	"github.com/wailsapp/wails/v2/pkg/runtime"

	"github.com/parley-chat/parley/app"
	"github.com/parley-chat/parley/app/profile"
	"github.com/parley-chat/parley/app/transfer"
	"github.com/parley-chat/parley/internal/buildinfo"
)

//go:embed build/appicon.png
var icon []byte

const usage = `Usage: parley [options] [room link]

Parley is a private peer-to-peer chat for two. A room link
(https://server/r/<id>#<secret> or parley://...) opens that room once
you confirm it in the window.

Options:
`

func main() {
	transfer.TuneGC() // the process's GC target, set by the program, not by a library
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "parley:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("parley", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o profile.Options
	fs.StringVar(&o.DataDir, "data-dir", "", "where history and settings live (env PARLEY_DATA_DIR; default "+profile.DefaultDataDir()+")")
	fs.StringVar(&o.Name, "profile", "", "identity and history `name` (env PARLEY_PROFILE; default "+profile.DefaultName+")")
	fs.StringVar(&o.SecretStore, "secret-store", "", "keyring (OS keyring, default) or file (a 0600 file in the data dir) (env PARLEY_SECRET_STORE)")
	logLevel := fs.String("log-level", envOr("PARLEY_LOG_LEVEL", "warn"), "debug, info, warn or error, to stderr (env PARLEY_LOG_LEVEL)")
	showVersion := fs.Bool("version", false, "print the version and the commit it was built from, then exit")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), "\nAlso: PARLEY_SERVER (server for new rooms until one is chosen).\n")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		// Before anything touches the display or the profile: packaging
		// tests run this where neither exists.
		fmt.Fprintln(stdout, buildinfo.Read())
		return nil
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("at most one room link, got %d arguments", fs.NArg())
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	cfg := app.EnvDefaults(app.Config{Profile: o, StartupLink: app.LinkArg(fs.Args()), Logger: log})
	dir := app.ProfileDir(cfg.Profile)
	cfg.Window0 = app.LoadWindowState(dir)
	followSystemTheme()

	a := app.New(cfg)
	lc := app.LifecycleOf(a)
	start := options.Normal
	if cfg.Window0.Maximised {
		start = options.Maximised
	}
	return wails.Run(&options.App{
		Title:            "Parley",
		Width:            cfg.Window0.Width,
		Height:           cfg.Window0.Height,
		MinWidth:         app.MinWidth,
		MinHeight:        app.MinHeight,
		WindowStartState: start,
		AssetServer:      &assetserver.Options{Assets: assets},
		OnStartup: func(ctx context.Context) {
			lc.Startup(ctx)
			// Dropped files reach Go as paths (DragAndDrop below); they
			// never pass through the page.
			runtime.OnFileDrop(ctx, lc.FileDrop)
		},
		OnDomReady:     lc.DomReady,
		OnBeforeClose:  lc.BeforeClose,
		OnShutdown:     lc.Shutdown,
		Bind:           []any{a},
		ErrorFormatter: func(err error) any { return err.Error() },
		SingleInstanceLock: &options.SingleInstanceLock{
			UniqueId:               instanceID(dir),
			OnSecondInstanceLaunch: func(d options.SecondInstanceData) { lc.SecondInstance(d.Args) },
		},
		DragAndDrop: &options.DragAndDrop{EnableFileDrop: true},
		Linux: &linux.Options{
			Icon:             icon,
			ProgramName:      "parley",
			WebviewGpuPolicy: linux.WebviewGpuPolicyOnDemand,
		},
	})
}

// instanceID is the single-instance lock's id: one window per profile
// folder, so two profiles (or a test's private data dir) can run side by side.
func instanceID(profileDir string) string {
	sum := sha256.Sum256([]byte(profileDir))
	return "parley_" + hex.EncodeToString(sum[:8])
}

// followSystemTheme makes the page's prefers-color-scheme follow a dark
// desktop: WebKitGTK reads it from the GTK theme, which GNOME's
// color-scheme setting does not change for GTK 3 apps.
func followSystemTheme() {
	if os.Getenv("GTK_THEME") != "" {
		return
	}
	if app.PrefersDark(gsetting("color-scheme"), gsetting("gtk-theme")) {
		os.Setenv("GTK_THEME", "Adwaita:dark")
	}
}

// gsetting reads one org.gnome.desktop.interface key, "" when unavailable.
func gsetting(key string) string {
	path, err := exec.LookPath("gsettings")
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "get", "org.gnome.desktop.interface", key).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
