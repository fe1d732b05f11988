package main

import (
	"flag"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/parley-chat/parley/app/identity"
	prof "github.com/parley-chat/parley/app/profile"
)

// cliEnv is what every command gets: the streams and the global options.
type cliEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	profile     string
	dataDir     string
	secretStore string
	logLevel    string
	relayOnly   bool
}

// globalFlags registers the global options on fs, so they are accepted
// before or after the command name. Values already parsed (before the
// command name) stay the defaults; env vars give the first defaults.
func (e *cliEnv) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&e.profile, "profile", keep(e.profile, envOr("PARLEY_PROFILE", "default")), "identity and history `name` (env PARLEY_PROFILE)")
	fs.StringVar(&e.dataDir, "data-dir", keep(e.dataDir, envOr("PARLEY_DATA_DIR", "")), "where history lives (env PARLEY_DATA_DIR; default "+prof.DefaultDataDir()+")")
	fs.StringVar(&e.secretStore, "secret-store", keep(e.secretStore, envOr("PARLEY_SECRET_STORE", "keyring")), "keyring (OS keyring) or file (a 0600 file in the data dir, for headless servers) (env PARLEY_SECRET_STORE)")
	fs.StringVar(&e.logLevel, "log-level", keep(e.logLevel, envOr("PARLEY_LOG_LEVEL", "warn")), "debug, info, warn or error (env PARLEY_LOG_LEVEL)")
	fs.BoolVar(&e.relayOnly, "relay-only", e.relayOnly || envOr("PARLEY_RELAY_ONLY", "") == "1", "connect only through the server's TURN relay (hides your IP address from the peer) (env PARLEY_RELAY_ONLY=1)")
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

// profile is an opened profile plus the logger commands use.
type profile struct {
	*prof.Profile
	logger *slog.Logger
}

func (e *cliEnv) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(e.logLevel)); err != nil {
		lvl = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: lvl}))
}

func (e *cliEnv) options() prof.Options {
	return prof.Options{Name: e.profile, DataDir: e.dataDir, SecretStore: e.secretStore}
}

// openIdentity loads (or creates, on first use) the profile's identity.
func (e *cliEnv) openIdentity() (*identity.Identity, error) {
	if err := identity.ValidateProfile(e.profile); err != nil {
		return nil, usagef("--profile: %v", err)
	}
	if k := strings.ToLower(e.secretStore); k != identity.KindKeyring && k != identity.KindFile {
		return nil, usagef("--secret-store must be keyring or file, not %q", e.secretStore)
	}
	id, _, _, err := prof.OpenIdentity(e.options())
	return id, err
}

// open loads the identity and opens the history of the profile.
func (e *cliEnv) open() (*profile, error) {
	if _, err := e.openIdentity(); err != nil {
		return nil, err
	}
	p, err := prof.Open(e.options())
	if err != nil {
		return nil, err
	}
	return &profile{Profile: p, logger: e.logger()}, nil
}
