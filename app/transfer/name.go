package transfer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxSafeName caps a sanitized name in bytes, leaving room below the usual
// 255-byte file name limit for the ".part" and sidecar affixes.
const maxSafeName = 200

// maxKeptExt is the longest extension kept when a name is shortened.
const maxKeptExt = 16

// SanitizeName turns a file name sent by the peer into one that is safe to
// create inside the download folder on Linux, macOS and Windows: it keeps
// only the last path element (for both / and \), replaces control,
// format (bidi override) and Windows-forbidden characters and invalid
// UTF-8 with '_', trims leading dots and spaces and trailing dots and
// spaces (so ".." and hidden names cannot appear), prefixes Windows
// reserved device names (CON, NUL, COM1, LPT9.txt, ...) with '_', caps the
// length at 200 bytes keeping the extension, and returns "file" for
// anything left empty.
func SanitizeName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ToValidUTF8(name, "_")
	name = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20, r == 0x7f, unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r),
			strings.ContainsRune(`<>:"|?*`, r):
			return '_'
		}
		return r
	}, name)
	name = trimName(name)
	if len(name) > maxSafeName {
		name = shorten(name)
	}
	if isReserved(name) {
		name = "_" + name
	}
	if name == "" {
		return "file"
	}
	return name
}

// trimName removes leading dots and spaces and trailing dots and spaces
// (Windows drops trailing ones silently, leading dots hide files and make
// "." and "..").
func trimName(s string) string {
	s = strings.TrimLeft(s, ". ")
	return strings.TrimRight(s, ". ")
}

// shorten cuts name to maxSafeName bytes on a rune boundary, keeping a
// short extension.
func shorten(name string) string {
	ext := ""
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= maxKeptExt {
		name, ext = name[:i], name[i:]
	}
	limit := maxSafeName - len(ext)
	for len(name) > limit {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return trimName(name) + ext
}

// isReserved reports whether name is a Windows device name, alone or with
// an extension ("nul", "COM1.txt", "lpt9.tar.gz"), ignoring case and
// trailing spaces before the dot.
func isReserved(name string) bool {
	stem := name
	if i := strings.IndexByte(stem, '.'); i >= 0 {
		stem = stem[:i]
	}
	stem = strings.ToUpper(strings.TrimRight(stem, " "))
	switch stem {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	if len(stem) == 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) {
		return stem[3] >= '1' && stem[3] <= '9'
	}
	// COM¹ etc. are reserved too on recent Windows.
	if strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT") {
		switch stem[3:] {
		case "¹", "²", "³":
			return true
		}
	}
	return false
}
