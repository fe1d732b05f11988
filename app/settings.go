package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/parley-chat/parley/app/profile"
	"github.com/parley-chat/parley/app/transfer"
)

// File names inside a profile's folder.
const (
	settingsFile = "settings.json"
	windowFile   = "window.json"
)

// DefaultAutoAcceptMaxBytes is the size up to which incoming files are
// accepted without asking, until the user changes it.
const DefaultAutoAcceptMaxBytes = transfer.DefaultAutoAcceptMax

// ProfileDir is the folder of the profile o names: <data dir>/<name>, with
// the same defaults as app/profile.
func ProfileDir(o profile.Options) string {
	name, dir := o.Name, o.DataDir
	if name == "" {
		name = profile.DefaultName
	}
	if dir == "" {
		dir = profile.DefaultDataDir()
	}
	return filepath.Join(dir, name)
}

// storedSettings is settings.json: what the user chose, nothing derived.
type storedSettings struct {
	// Server is the signaling server for new rooms; ServerChosen says the
	// user picked it (so the first-run screen is not shown again).
	Server             string `json:"server"`
	ServerChosen       bool   `json:"serverChosen"`
	AutoAcceptMaxBytes int64  `json:"autoAcceptMaxBytes"`
	// RelayOnly connects rooms only through the server's TURN relay, so
	// the peer never learns this computer's addresses.
	RelayOnly bool `json:"relayOnly,omitempty"`
	// CallMic, CallCamera and CallSpeaker are the devices calls use, by
	// id; "" is the system default.
	CallMic     string `json:"callMic,omitempty"`
	CallCamera  string `json:"callCamera,omitempty"`
	CallSpeaker string `json:"callSpeaker,omitempty"`
}

// loadSettings reads settings.json; a missing file gives the defaults.
func loadSettings(dir string) (storedSettings, error) {
	s := storedSettings{AutoAcceptMaxBytes: DefaultAutoAcceptMaxBytes}
	if err := readJSON(filepath.Join(dir, settingsFile), &s); err != nil {
		return storedSettings{AutoAcceptMaxBytes: DefaultAutoAcceptMaxBytes}, err
	}
	return s, nil
}

func saveSettings(dir string, s storedSettings) error {
	return writeJSON(filepath.Join(dir, settingsFile), s)
}

// WindowState is the window's size and position, remembered across runs
// in window.json.
type WindowState struct {
	Width     int  `json:"width"`
	Height    int  `json:"height"`
	X         int  `json:"x"`
	Y         int  `json:"y"`
	Maximised bool `json:"maximised"`
	// Placed says X and Y were recorded (a fresh window is centred).
	Placed bool `json:"placed"`
}

// Default window size, and the smallest the layout supports.
const (
	DefaultWidth  = 960
	DefaultHeight = 680
	MinWidth      = 480
	MinHeight     = 400
)

// LoadWindowState reads the profile's window.json. A missing or damaged
// file, or absurd values, give the default size, centred.
func LoadWindowState(profileDir string) WindowState {
	def := WindowState{Width: DefaultWidth, Height: DefaultHeight}
	var w WindowState
	if err := readJSON(filepath.Join(profileDir, windowFile), &w); err != nil {
		return def
	}
	if w.Width < MinWidth || w.Height < MinHeight || w.Width > 16384 || w.Height > 16384 {
		w.Width, w.Height = def.Width, def.Height
	}
	if w.X < -16384 || w.Y < -16384 || w.X > 32768 || w.Y > 32768 {
		w.X, w.Y, w.Placed = 0, 0, false
	}
	return w
}

// SaveWindowState writes the profile's window.json atomically.
func SaveWindowState(profileDir string, w WindowState) error {
	return writeJSON(filepath.Join(profileDir, windowFile), w)
}

// readJSON decodes path into v; a missing file leaves v untouched.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	return nil
}

// writeJSON writes v to path atomically: a temporary file in the same
// folder, synced, then renamed over the old one, so a crash leaves either
// the old or the new file, never half of one.
func writeJSON(path string, v any) (err error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
