package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley/app/session"
	"github.com/parley-chat/parley/app/thumb"
)

// Images: the facade side of docs/app-api.md "Images". An image file that
// was sent, or received and verified, gets a thumbnail made in Go
// (app/thumb: type from the bytes, bombs refused from the header) and
// sealed in the profile's history next to the room's messages, so clear,
// forget and destroy remove it. The webview only ever decodes images Go
// encoded itself (JPEG or PNG data URLs), never the peer's bytes.

// Codes of image previews (Transfer.ImageError) and of SendPastedImage.
const (
	CodeImageTooLarge   = "IMAGE_TOO_LARGE"
	CodeImageUnreadable = "IMAGE_UNREADABLE"
	CodeNotImage        = "NOT_AN_IMAGE"
)

// Image states (Transfer.Image).
const (
	ImageNone    = ""        // not an image (or not verified yet)
	ImagePending = "pending" // the thumbnail is being made
	ImageReady   = "ready"   // Thumbnail returns it
	ImageFailed  = "failed"  // no preview; ImageError says why
)

const (
	// thumbSide is the longest side of a thumbnail, in pixels.
	thumbSide    = 320
	thumbQuality = 82
	// viewSide is the longest side of the in-app full-size view: bigger
	// images are shown scaled; the original opens in the system viewer.
	viewSide    = 2048
	viewQuality = 90
	// MaxPasteBytes is the largest image SendPastedImage takes.
	MaxPasteBytes = 32 << 20
	// pasteDirName is the profile's folder of pasted images of this run.
	pasteDirName = "pasted"
)

// imageState serialises decoding: one image at a time, so the process's
// peak memory for previews is one thumb.Render's bound (thumb package doc).
type imageState struct {
	decode sync.Mutex

	// mu guards gen, a per-room count of thumbnail wipes: a thumbnail
	// made across a clear or forget is not stored.
	mu  sync.Mutex
	gen map[string]uint64
}

func (s *imageState) generation(roomID string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen[roomID]
}

// render decodes path one at a time with the app's limits; a render that
// waited while the app began closing is not started.
func (a *App) render(ctx context.Context, path string, side, quality int) (thumb.Result, error) {
	a.images.decode.Lock()
	defer a.images.decode.Unlock()
	if err := ctx.Err(); err != nil {
		return thumb.Result{}, err
	}
	return thumb.File(path, side, quality, thumb.DefaultLimits())
}

// imageError maps a thumb error to "CODE: detail".
func imageError(err error) string {
	switch {
	case errors.Is(err, thumb.ErrTooLarge):
		return CodeImageTooLarge + ": " + strings.TrimPrefix(err.Error(), thumb.ErrTooLarge.Error()+": ")
	case errors.Is(err, thumb.ErrNotImage):
		return CodeNotImage + ": the file is not a PNG, JPEG, GIF or WebP image"
	}
	return CodeImageUnreadable + ": the image is damaged or in a variant Parley cannot show"
}

// queueThumb makes the thumbnail of a verified file in the background.
func (a *App) queueThumb(roomID, id, path string) {
	if path == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || a.ctx == nil {
		return
	}
	ctx := a.ctx
	a.wg.Go(func() { a.makeThumb(ctx, roomID, id, path) })
}

// makeThumb sniffs path; for an image it makes, seals and stores the
// thumbnail and tells the UI (transfer:update with image set). A file
// that is not an image stays a plain file card, with no note.
func (a *App) makeThumb(ctx context.Context, roomID, id, path string) {
	if _, err := thumb.SniffFile(path); err != nil {
		return
	}
	gen := a.images.generation(roomID)
	a.setImage(roomID, id, ImagePending, "")
	res, err := a.render(ctx, path, thumbSide, thumbQuality)
	if ctx.Err() != nil {
		return // the app closes
	}
	if err != nil {
		msg := imageError(err)
		a.log.Info("no thumbnail", "room", session.LogID(roomID), "code", strings.SplitN(msg, ":", 2)[0])
		a.setImage(roomID, id, ImageFailed, msg)
		return
	}
	p, perr := a.ready()
	if perr == nil {
		// Checked and stored under images.mu: a wipe either comes after
		// (and deletes it) or before (and it is not stored).
		a.images.mu.Lock()
		if a.images.gen[roomID] != gen {
			perr = errors.New("the room's thumbnails were wiped meanwhile")
		} else {
			perr = p.History.PutThumb(roomID, id, res.Data)
		}
		a.images.mu.Unlock()
	}
	if perr != nil {
		// The room was cleared or forgotten meanwhile (the UI dropped its
		// cards: no event), or the app closes.
		a.log.Info("thumbnail not stored", "room", session.LogID(roomID), "err", perr)
		a.files.mu.Lock()
		if rf := a.files.rooms[roomID]; rf != nil && rf.byID[id] != nil {
			rf.byID[id].t.Image, rf.byID[id].t.ImageError = ImageNone, ""
		}
		a.files.mu.Unlock()
		return
	}
	a.setImage(roomID, id, ImageReady, "")
}

// setImage updates a transfer's image state and tells the UI.
func (a *App) setImage(roomID, id, state, msg string) {
	a.files.mu.Lock()
	rf := a.files.rooms[roomID]
	var e *transferEntry
	if rf != nil {
		e = rf.byID[id]
	}
	if e == nil {
		a.files.mu.Unlock()
		return
	}
	e.t.Image, e.t.ImageError = state, msg
	t := e.t
	a.files.mu.Unlock()
	a.emitTransfer(t)
}

// forgetImages is called before the room's thumbnails are deleted
// (clear, forget): thumbnails being made are not stored, and the image
// state of the room's transfers is reset, so a card listed again by
// Transfers is a plain file card. No event: the UI dropped those cards.
func (a *App) forgetImages(roomID string) {
	a.images.mu.Lock()
	if a.images.gen == nil {
		a.images.gen = map[string]uint64{}
	}
	a.images.gen[roomID]++
	a.images.mu.Unlock()
	a.files.mu.Lock()
	defer a.files.mu.Unlock()
	if rf := a.files.rooms[roomID]; rf != nil {
		for _, e := range rf.list {
			e.t.Image, e.t.ImageError = ImageNone, ""
		}
	}
}

// dataURL returns b (JPEG or PNG made by app/thumb) as a data: URL.
func dataURL(b []byte) string {
	mime := "image/png"
	if f, _ := thumb.Sniff(b); f == thumb.JPEG {
		mime = "image/jpeg"
	}
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b)
}

// Thumbnail returns the thumbnail of the room's transfer id as a data:
// URL (JPEG or PNG, at most 320 pixels a side), from the sealed cache.
func (a *App) Thumbnail(roomID, id string) (string, error) {
	p, err := a.ready()
	if err != nil {
		return "", err
	}
	b, ok, err := p.History.Thumb(roomID, id)
	if err != nil {
		return "", toAPI(err)
	}
	if !ok {
		return "", apiErrorf(CodeBadRequest, "no thumbnail for this file")
	}
	return dataURL(b), nil
}

// ImageView is an image scaled for the in-app viewer.
type ImageView struct {
	DataURL string `json:"dataUrl"` // JPEG or PNG, at most 2048 pixels a side
	Width   int    `json:"width"`   // of DataURL
	Height  int    `json:"height"`
	// SourceWidth and SourceHeight are the file's own dimensions.
	SourceWidth  int    `json:"sourceWidth"`
	SourceHeight int    `json:"sourceHeight"`
	Name         string `json:"name"`
}

// ViewImage decodes the image of a finished transfer (the verified file
// received, or the file sent) and returns it scaled to fit 2048 × 2048
// for the in-app viewer. The original opens with OpenFile.
func (a *App) ViewImage(roomID, id string) (ImageView, error) {
	if _, err := a.ready(); err != nil {
		return ImageView{}, err
	}
	a.files.mu.Lock()
	var t Transfer
	found := false
	if rf := a.files.rooms[roomID]; rf != nil {
		if e := rf.byID[id]; e != nil {
			t, found = e.t, true
		}
	}
	a.files.mu.Unlock()
	if !found || t.State != StateDone || t.Path == "" {
		return ImageView{}, apiErrorf(CodeBadRequest, "no finished image with this id")
	}
	res, err := a.render(a.context(), t.Path, viewSide, viewQuality)
	if errors.Is(err, context.Canceled) {
		return ImageView{}, apiErrorf(CodeInternal, "the app is shutting down")
	}
	if err != nil {
		if errors.Is(err, thumb.ErrUnreadable) {
			if _, serr := os.Stat(t.Path); serr != nil {
				return ImageView{}, apiErrorf(CodeFileUnreadable, "the file is no longer there")
			}
		}
		msg := imageError(err)
		code, detail, _ := strings.Cut(msg, ": ")
		return ImageView{}, &Error{Code: code, Detail: detail}
	}
	sw, sh := res.Source.Width, res.Source.Height
	if res.Source.Orientation >= 5 { // shown turned a quarter
		sw, sh = sh, sw
	}
	return ImageView{
		DataURL: dataURL(res.Data), Width: res.Width, Height: res.Height,
		SourceWidth: sw, SourceHeight: sh, Name: t.Name,
	}, nil
}

// pasteDir is the profile's folder of pasted images: private, and emptied
// when the app starts and closes (a pasted image lives as long as its
// transfer may need it, this run).
func (a *App) pasteDir() string { return filepath.Join(a.dir, pasteDirName) }

// SendPastedImage sends an image pasted into the composer: data is the
// image file's bytes in standard base64 (at most MaxPasteBytes decoded).
// The type is read from the bytes (PNG, JPEG, GIF or WebP; else
// NOT_AN_IMAGE); it is written to a private file named
// pasted-YYYYMMDD-HHMMSS.<ext> in the profile and queued like a dropped
// file.
func (a *App) SendPastedImage(roomID, data string) (Transfer, error) {
	if _, err := a.ready(); err != nil {
		return Transfer{}, err
	}
	if _, ok := a.openSession(roomID); !ok {
		return Transfer{}, apiErrorf(session.CodePeerOffline, "the room is not open")
	}
	if len(data) > base64.StdEncoding.EncodedLen(MaxPasteBytes) {
		return Transfer{}, apiErrorf(CodeImageTooLarge, "a pasted image may be up to %d MiB; send bigger images as files", MaxPasteBytes>>20)
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return Transfer{}, apiErrorf(CodeBadRequest, "the pasted data is not base64")
	}
	if len(b) > MaxPasteBytes {
		return Transfer{}, apiErrorf(CodeImageTooLarge, "a pasted image may be up to %d MiB; send bigger images as files", MaxPasteBytes>>20)
	}
	f, ok := thumb.Sniff(b)
	if !ok {
		return Transfer{}, apiErrorf(CodeNotImage, "the clipboard holds no PNG, JPEG, GIF or WebP image")
	}
	ext := map[thumb.Format]string{thumb.PNG: ".png", thumb.JPEG: ".jpg", thumb.GIF: ".gif", thumb.WebP: ".webp"}[f]
	path, err := writePasted(a.pasteDir(), time.Now(), ext, b)
	if err != nil {
		a.log.Warn("pasted image not written", "err", err)
		return Transfer{}, apiErrorf(CodeInternal, "the pasted image could not be saved for sending")
	}
	ts, err := a.SendFiles(roomID, []string{path})
	if err != nil {
		_ = os.Remove(path)
		return Transfer{}, err
	}
	return ts[0], nil
}

// writePasted writes b to a new file pasted-<time><ext> (-2, -3… when
// taken) in dir, created 0700; the file is 0600.
func writePasted(dir string, now time.Time, ext string, b []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", err
	}
	stem := "pasted-" + now.Format("20060102-150405")
	for i := 1; i < 100; i++ {
		name := stem + ext
		if i > 1 {
			name = fmt.Sprintf("%s-%d%s", stem, i, ext)
		}
		p := filepath.Join(dir, name)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, werr := f.Write(b)
		cerr := f.Close()
		if err := errors.Join(werr, cerr); err != nil {
			_ = os.Remove(p)
			return "", err
		}
		return p, nil
	}
	return "", errors.New("too many pasted images this second")
}

// removePasted deletes the pasted images of a past or ending run.
func (a *App) removePasted() {
	if err := os.RemoveAll(a.pasteDir()); err != nil {
		a.log.Warn("pasted images not removed", "err", err)
	}
}
