package app

import "strings"

// PrefersDark reports whether the desktop asks for a dark look, from the
// GNOME color-scheme setting ("'prefer-dark'") or the GTK theme name
// ("Adwaita-dark", "Adwaita:dark"). WebKitGTK derives the page's
// prefers-color-scheme from the GTK theme only, so main.go sets
// GTK_THEME=Adwaita:dark when this is true and GTK_THEME is unset.
func PrefersDark(colorScheme, gtkTheme string) bool {
	cs := strings.Trim(strings.TrimSpace(colorScheme), `'"`)
	if cs == "prefer-dark" {
		return true
	}
	if cs == "prefer-light" {
		return false
	}
	t := strings.ToLower(strings.Trim(strings.TrimSpace(gtkTheme), `'"`))
	return strings.HasSuffix(t, "-dark") || strings.HasSuffix(t, ":dark")
}
