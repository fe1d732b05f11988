#!/bin/sh
# Refresh the desktop database (parley:// links) and the icon cache; both
# tools are optional, so failures are ignored.
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q /usr/share/applications || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t /usr/share/icons/hicolor || true
exit 0
