package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/parley-chat/parley/signaling/room"
	"github.com/parley-chat/parley/signaling/server"
)

// sharedKeyer is a room store that can hand every node the same secret
// (the Redis store does).
type sharedKeyer interface {
	SharedKey(ctx context.Context, name string, n int) ([]byte, error)
}

const ticketKeyFile = "ticket.key"

// ticketKey returns the key that signs room tickets. Tickets let a
// restarted server bring rooms back, so the key must outlive the process:
// it lives in the shared store when there is one (every node needs the
// same key), else in --state-dir, else only in memory (with a warning).
func ticketKey(ctx context.Context, o options, store room.Store, log *slog.Logger) ([]byte, error) {
	if sk, ok := store.(sharedKeyer); ok {
		key, err := sk.SharedKey(ctx, "ticket", server.TicketKeySize)
		if err != nil {
			return nil, fmt.Errorf("room ticket key from the shared store: %w", err)
		}
		return key, nil
	}
	if o.stateDir == "" {
		log.Warn("no --state-dir: rooms will not survive a restart of this server")
		return nil, nil // the server draws a random one
	}
	return loadOrCreateKey(filepath.Join(o.stateDir, ticketKeyFile), server.TicketKeySize)
}

// loadOrCreateKey reads an n-byte key from path, creating it (0600, and its
// directory 0700) on first use. The file is written under a temporary
// name and linked into place, so concurrent starts agree on one key and a
// crash never leaves a short key behind.
func loadOrCreateKey(path string, n int) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) != n {
			return nil, fmt.Errorf("%s: %d bytes, want %d (delete it to make a new one; open rooms then end on restart)", path, len(key), n)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read room ticket key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--state-dir: %w", err)
	}
	key = make([]byte, n)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
	tmp, err := os.CreateTemp(dir, ticketKeyFile+".*")
	if err != nil {
		return nil, fmt.Errorf("--state-dir: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write room ticket key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write room ticket key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write room ticket key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won the race
			return loadOrCreateKey(path, n)
		}
		return nil, fmt.Errorf("write room ticket key: %w", err)
	}
	return key, nil
}
