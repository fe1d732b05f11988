package transfer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A folder travels as one offer: a manifest of the whole tree (folders,
// empty ones included, files with their sizes and executable bit, and how
// many symbolic links and special files were left out), accepted or
// declined once, then each file as a folder file offer that goes through
// the same chunks, SHA-256 check and resume as a single file.

// Bounds of a folder, on both sides. A sender refuses to offer a bigger
// tree (ErrFolderTooLarge); a receiver refuses a manifest beyond them
// (failBadFolder).
const (
	// MaxFolderEntries bounds the folders and files of one tree.
	MaxFolderEntries = 100_000
	// MaxFolderDepth bounds how deep a tree nests.
	MaxFolderDepth = 64
	// maxFolderPath bounds one relative path in the manifest, in bytes.
	maxFolderPath = 4096
	// maxManifestBytes bounds an encoded manifest (buffered whole by the
	// receiver before it decides).
	maxManifestBytes = 16 << 20
)

// Manifest entry kinds.
const (
	entryDir  byte = 1
	entryFile byte = 2
)

// entryExec marks an executable file (the only mode bit that travels).
const entryExec byte = 1

// manifestMagic starts an encoded manifest and carries its version.
const manifestMagic = "PFM1"

var (
	// ErrFolderTooLarge is returned by SendFolder for a tree beyond
	// MaxFolderEntries, MaxFolderDepth or the path length bound.
	ErrFolderTooLarge = errors.New("transfer: the folder is too large or too deep to send")
	// ErrBadFolder is reported on the receiving side when a folder offer
	// was refused because its manifest is malformed or unsafe (paths
	// outside the folder, names that collide, a file used as a folder,
	// beyond the bounds); Send returns ErrPeerRejectedFolder then.
	ErrBadFolder = fmt.Errorf("%w: unsafe or malformed folder", ErrProtocol)
	// ErrPeerRejectedFolder is returned by SendFolder when the receiver
	// refused the folder's manifest (see ErrBadFolder).
	ErrPeerRejectedFolder = fmt.Errorf("%w: the peer refused the folder's list of files", ErrDeclined)
	// ErrPeerNoFolders is returned by SendFolder when the peer did not
	// acknowledge the folder offer: its Parley predates folders.
	ErrPeerNoFolders = fmt.Errorf("%w: the peer's Parley cannot receive folders (update it)", ErrDeclined)
)

// manifestEntry is one folder or file of a tree. Path is relative,
// '/'-separated.
type manifestEntry struct {
	Kind byte
	Exec bool
	Size int64
	Path string
}

// manifest describes a tree: its top folder's name, its entries (every
// entry's parent folder comes before it) and what was left out.
type manifest struct {
	Name           string
	Entries        []manifestEntry
	SkippedLinks   uint32
	SkippedSpecial uint32
	files          int   // derived: file entries
	total          int64 // derived: sum of file sizes (saturating)
}

// encode returns the wire form: magic, name length u16, name, entry count
// u32, skipped links u32, skipped special files u32, then per entry kind
// u8, flags u8, size u64, path length u16, path.
func (m *manifest) encode() []byte {
	n := len(manifestMagic) + 2 + len(m.Name) + 12
	for _, e := range m.Entries {
		n += 12 + len(e.Path)
	}
	b := make([]byte, 0, n)
	b = append(b, manifestMagic...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Name)))
	b = append(b, m.Name...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Entries)))
	b = binary.BigEndian.AppendUint32(b, m.SkippedLinks)
	b = binary.BigEndian.AppendUint32(b, m.SkippedSpecial)
	for _, e := range m.Entries {
		var flags byte
		if e.Exec {
			flags |= entryExec
		}
		b = append(b, e.Kind, flags)
		b = binary.BigEndian.AppendUint64(b, uint64(e.Size))
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.Path)))
		b = append(b, e.Path...)
	}
	return b
}

// decodeManifest parses an untrusted manifest. It checks the structure
// and the bounds; validateManifest checks the paths.
func decodeManifest(b []byte) (*manifest, error) {
	bad := func(why string) (*manifest, error) {
		return nil, fmt.Errorf("%w: %s", ErrBadFolder, why)
	}
	if len(b) > maxManifestBytes {
		return bad("manifest too large")
	}
	if len(b) < len(manifestMagic)+2 || string(b[:len(manifestMagic)]) != manifestMagic {
		return bad("unknown manifest version")
	}
	b = b[len(manifestMagic):]
	nameLen := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if nameLen == 0 || nameLen > maxNameLen || len(b) < nameLen+12 {
		return bad("bad folder name length")
	}
	m := &manifest{Name: string(b[:nameLen])}
	b = b[nameLen:]
	count := binary.BigEndian.Uint32(b)
	m.SkippedLinks = binary.BigEndian.Uint32(b[4:])
	m.SkippedSpecial = binary.BigEndian.Uint32(b[8:])
	b = b[12:]
	if count > MaxFolderEntries {
		return bad("too many entries")
	}
	// Each entry takes at least 13 bytes: a count the bytes cannot hold
	// is refused before anything is allocated for it.
	if uint64(count)*13 > uint64(len(b)) {
		return bad("entry count beyond the manifest")
	}
	m.Entries = make([]manifestEntry, 0, count)
	for i := uint32(0); i < count; i++ {
		if len(b) < 12 {
			return bad("short entry")
		}
		e := manifestEntry{Kind: b[0], Exec: b[1]&entryExec != 0}
		if b[1]&^entryExec != 0 {
			return bad("unknown entry flags")
		}
		size := binary.BigEndian.Uint64(b[2:])
		pathLen := int(binary.BigEndian.Uint16(b[10:]))
		b = b[12:]
		if pathLen == 0 || pathLen > maxFolderPath || len(b) < pathLen {
			return bad("bad path length")
		}
		e.Path = string(b[:pathLen])
		b = b[pathLen:]
		switch e.Kind {
		case entryDir:
			if size != 0 || e.Exec {
				return bad("folder entry with a size or mode")
			}
		case entryFile:
			if size > 1<<62 {
				return bad("file size out of range")
			}
			e.Size = int64(size)
			m.files++
			m.total = satAdd(m.total, e.Size)
		default:
			return bad("unknown entry kind")
		}
		m.Entries = append(m.Entries, e)
	}
	if len(b) != 0 {
		return bad("trailing bytes")
	}
	return m, nil
}

// folderPlan is a validated manifest: where each entry goes below the
// top folder (sanitized, '/'-separated) in manifest order.
type folderPlan struct {
	m     *manifest
	name  string   // sanitized top folder name
	local []string // per entry: sanitized relative path
}

// validateManifest checks every path of an untrusted manifest before
// anything is written: relative, no empty, "." or ".." components, no NUL,
// at most MaxFolderDepth deep and maxFolderPath long, no path listed twice,
// and every entry's parent listed before it as a folder (so no path turns
// a file into a folder). Each component is sanitized (sanitizeComponent);
// names that then collide, compared without case as macOS and Windows do
// ("a:b" and "a_b", "README" and "readme"), get a deterministic new name
// ("a_b (1)"), in manifest order.
func validateManifest(m *manifest) (*folderPlan, error) {
	bad := func(i int, why string) (*folderPlan, error) {
		return nil, fmt.Errorf("%w: entry %d: %s", ErrBadFolder, i, why)
	}
	p := &folderPlan{m: m, name: SanitizeName(m.Name), local: make([]string, len(m.Entries))}
	kinds := make(map[string]byte, len(m.Entries)) // the peer's path -> kind
	dirs := make(map[string]string)                // the peer's folder path -> local path
	taken := make(map[string]bool, len(m.Entries)) // local paths, lower case
	next := make(map[string]int)                   // lower-case local path -> next rename number
	for i, e := range m.Entries {
		if len(e.Path) > maxFolderPath {
			return bad(i, "path too long")
		}
		if strings.ContainsRune(e.Path, 0) {
			return bad(i, "NUL in path")
		}
		// A drive ("C:") cannot survive: sanitizing turns ':' into '_'.
		if strings.HasPrefix(e.Path, "/") || strings.HasPrefix(e.Path, `\`) || filepath.IsAbs(e.Path) {
			return bad(i, "absolute path")
		}
		parts := strings.Split(e.Path, "/")
		if len(parts) > MaxFolderDepth {
			return bad(i, "too deep")
		}
		for _, c := range parts {
			switch c {
			case "":
				return bad(i, "empty path component")
			case ".", "..":
				return bad(i, "relative path component")
			}
		}
		if _, dup := kinds[e.Path]; dup {
			return bad(i, "listed twice")
		}
		parentLocal := ""
		if len(parts) > 1 {
			parent := e.Path[:strings.LastIndexByte(e.Path, '/')]
			if kinds[parent] != entryDir {
				return bad(i, "its parent is not a folder listed before it")
			}
			parentLocal = dirs[parent] + "/"
		}
		base := sanitizeComponent(parts[len(parts)-1])
		local := parentLocal + base
		key := strings.ToLower(local)
		if taken[key] {
			stem, ext := base, ""
			if e.Kind == entryFile {
				stem, ext = splitExt(base)
			}
			for n := max(next[key], 1); ; n++ {
				local = parentLocal + stem + " (" + strconv.Itoa(n) + ")" + ext
				if !taken[strings.ToLower(local)] {
					next[key] = n + 1
					break
				}
			}
		}
		taken[strings.ToLower(local)] = true
		kinds[e.Path] = e.Kind
		if e.Kind == entryDir {
			dirs[e.Path] = local
		}
		p.local[i] = local
	}
	return p, nil
}

// sanitizeComponent is SanitizeName for one element of a folder path; a
// single leading dot survives (".gitignore", ".config"), as hidden files
// are part of a tree. "." and ".." never get here.
func sanitizeComponent(c string) string {
	s := SanitizeName(c)
	if strings.HasPrefix(c, ".") && strings.TrimLeft(c, ". ") != "" && !isReserved(s) {
		return "." + s
	}
	return s
}

// walkFolder lists the tree at dir without following symbolic links
// (neither the ones inside nor below). Symbolic links are counted and
// left out, as are devices, sockets and pipes. It returns the manifest
// and, per entry, the path on this disk.
func walkFolder(ctx context.Context, dir string) (*manifest, []string, error) {
	st, err := os.Lstat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("transfer: folder: %w", err)
	}
	if !st.IsDir() {
		return nil, nil, errors.New("transfer: not a folder")
	}
	name := filepath.Base(filepath.Clean(dir))
	if len(name) > maxNameLen {
		name = shorten(name)
	}
	m := &manifest{Name: name}
	var src []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if path == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if len(rel) > maxFolderPath || strings.Count(rel, "/")+1 > MaxFolderDepth {
			return ErrFolderTooLarge
		}
		t := d.Type()
		switch {
		case t&fs.ModeSymlink != 0:
			m.SkippedLinks++
			return nil
		case d.IsDir():
			m.Entries = append(m.Entries, manifestEntry{Kind: entryDir, Path: rel})
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			m.Entries = append(m.Entries, manifestEntry{Kind: entryFile, Exec: info.Mode().Perm()&0o100 != 0, Size: info.Size(), Path: rel})
			m.files++
			m.total = satAdd(m.total, info.Size())
		default:
			m.SkippedSpecial++
			return nil
		}
		src = append(src, path)
		if len(m.Entries) > MaxFolderEntries {
			return ErrFolderTooLarge
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrFolderTooLarge) || ctx.Err() != nil {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("transfer: read folder: %w", err)
	}
	if len(m.encode()) > maxManifestBytes {
		return nil, nil, ErrFolderTooLarge
	}
	return m, src, nil
}
