package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/parley-chat/parley/app/session"
	"github.com/parley-chat/parley/app/transfer"
)

// progressPrinter draws a one-line progress bar on stderr when stderr is a
// terminal; otherwise it prints one line per finished file, so logs of
// scripts stay readable.
type progressPrinter struct {
	w     io.Writer
	tty   bool
	drawn bool
	last  time.Time
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressPrinter{w: w, tty: tty}
}

// update shows a transfer as the session reports it: a bar while it
// runs (on a terminal), one line when it ends.
func (p *progressPrinter) update(pr session.Transfer) {
	verb := "receiving"
	if pr.Outgoing {
		verb = "sending"
	}
	if pr.State.Terminal() {
		p.clear()
		switch {
		case pr.Err != nil && pr.Folder:
			fmt.Fprintf(p.w, "%s %s/ failed after %d of %d files: %s\n", verb, oneLine(pr.Name), pr.FilesDone, pr.Files, failureText(pr.Err))
		case pr.Err != nil:
			fmt.Fprintf(p.w, "%s %s failed: %s\n", verb, oneLine(pr.Name), failureText(pr.Err))
		case pr.Folder:
			fmt.Fprintf(p.w, "%s %s/ done: %d files, %s verified, %d links or special files skipped\n", verb, oneLine(pr.Name), pr.Files, humanBytes(pr.Total), pr.Skipped)
		default:
			fmt.Fprintf(p.w, "%s %s done: %s verified\n", verb, oneLine(pr.Name), humanBytes(pr.Total))
		}
		return
	}
	if !p.tty || pr.State != session.TransferActive || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	frac := 0.0
	if pr.Total > 0 {
		frac = float64(pr.Bytes) / float64(pr.Total)
	}
	const width = 24
	filled := int(frac * width)
	bar := strings.Repeat("#", filled) + strings.Repeat("-", width-filled)
	eta := ""
	if pr.ETA > 0 {
		eta = " ETA " + pr.ETA.Round(time.Second).String()
	}
	name := truncate(oneLine(pr.Name), 30)
	if pr.Folder {
		name = fmt.Sprintf("%s/ %d/%d files", name, pr.FilesDone, pr.Files)
	}
	fmt.Fprintf(p.w, "\r\033[K%s %s [%s] %3.0f%% %s/s%s", verb, name, bar, frac*100, humanBytes(int64(pr.Rate)), eta)
	p.drawn = true
}

// failureText says why a transfer failed: for the refusals a person can
// act on, the stable code, what happened and what to do next.
func failureText(err error) string {
	switch {
	case errors.Is(err, transfer.ErrDiskFull):
		return fmt.Sprintf("DISK_FULL: not enough free disk space for this file (Parley keeps %s free). Free some space or use another --out folder, then ask for the file again.", humanBytes(transfer.KeepFreeBytes))
	case errors.Is(err, transfer.ErrReceiveLimit):
		return "RECEIVE_LIMIT: this room has received as much as it may in one session. Run receive again to receive more."
	case errors.Is(err, transfer.ErrNoDownloadFolder):
		return "DOWNLOAD_FOLDER_UNUSABLE: " + strings.TrimPrefix(err.Error(), "transfer: ") + ". Receive files with receive --out DIR, into a folder of your own that other users cannot write to."
	case errors.Is(err, transfer.ErrPeerNoFolders):
		return "PEER_NO_FOLDERS: the other side's Parley cannot receive folders. Ask them to update, or send the files one by one."
	case errors.Is(err, transfer.ErrPeerRejectedFolder):
		return "PEER_REFUSED_FOLDER: the other side refused the folder's list of files as unsafe."
	case errors.Is(err, transfer.ErrFolderTooLarge):
		return fmt.Sprintf("FOLDER_TOO_LARGE: a folder may hold at most %d files and folders, %d levels deep. Send it in parts.", transfer.MaxFolderEntries, transfer.MaxFolderDepth)
	case errors.Is(err, transfer.ErrPeerRefused):
		return "PEER_SAVE_FAILED: the other computer has no room for the file (its disk space or its limit for this room). Ask them to free some space, then send it again."
	}
	return err.Error()
}

// clear removes a drawn bar so a status line can be printed.
func (p *progressPrinter) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
