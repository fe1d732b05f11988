package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/parley-chat/parley/app/history"
	"github.com/parley-chat/parley/app/identity"
)

// cliEnv is what every command gets: the streams and the global options.
type cliEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	profile     string
	dataDir     string
	secretStore string
	logLevel    string
}

// globalFlags registers the global options on fs, so they are accepted
// before or after the command name. Values already parsed (before the
// command name) stay the defaults; env vars give the first defaults.
func (e *cliEnv) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&e.profile, "profile", keep(e.profile, envOr("PARLEY_PROFILE", "default")), "identity and history `name` (env PARLEY_PROFILE)")
	fs.StringVar(&e.dataDir, "data-dir", keep(e.dataDir, envOr("PARLEY_DATA_DIR", "")), "where history lives (env PARLEY_DATA_DIR; default "+defaultDataDir()+")")
	fs.StringVar(&e.secretStore, "secret-store", keep(e.secretStore, envOr("PARLEY_SECRET_STORE", "keyring")), "keyring (OS keyring) or file (a 0600 file in the data dir, for headless servers) (env PARLEY_SECRET_STORE)")
	fs.StringVar(&e.logLevel, "log-level", keep(e.logLevel, envOr("PARLEY_LOG_LEVEL", "warn")), "debug, info, warn or error (env PARLEY_LOG_LEVEL)")
}

// keep returns cur unless it is empty.
func keep(cur, def string) string {
	if cur != "" {
		return cur
	}
	return def
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// defaultDataDir follows the XDG base directory rules on Linux and the
// platform's config dir elsewhere.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "parley")
	}
	if runtime.GOOS == "linux" {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, ".local", "share", "parley")
		}
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "Parley")
	}
	return ".parley"
}

// profile is an opened profile: its identity and its history.
type profile struct {
	name    string
	id      *identity.Identity
	history *history.Store
	logger  *slog.Logger
}

func (e *cliEnv) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(e.logLevel)); err != nil {
		lvl = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: lvl}))
}

// openIdentity loads (or creates, on first use) the profile's identity.
func (e *cliEnv) openIdentity() (*identity.Identity, identity.SecretStore, string, error) {
	if err := identity.ValidateProfile(e.profile); err != nil {
		return nil, nil, "", usagef("--profile: %v", err)
	}
	dir := e.dataDir
	if dir == "" {
		dir = defaultDataDir()
	}
	kind := strings.ToLower(e.secretStore)
	if kind != "keyring" && kind != "file" {
		return nil, nil, "", usagef("--secret-store must be keyring or file, not %q", e.secretStore)
	}
	store, err := identity.OpenSecretStore(kind, dir)
	if err != nil {
		return nil, nil, "", err
	}
	id, err := identity.LoadOrCreate(store, e.profile)
	if err != nil {
		return nil, nil, "", err
	}
	return id, store, dir, nil
}

// open loads the identity and opens the history of the profile.
func (e *cliEnv) open() (*profile, error) {
	id, store, dir, err := e.openIdentity()
	if err != nil {
		return nil, err
	}
	key, err := identity.LoadOrCreateSecret(store, e.profile+"/history-key", 32)
	if err != nil {
		return nil, err
	}
	h, err := history.Open(filepath.Join(dir, e.profile, "history.db"), key)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	return &profile{name: e.profile, id: id, history: h, logger: e.logger()}, nil
}

func (p *profile) Close() error { return p.history.Close() }
