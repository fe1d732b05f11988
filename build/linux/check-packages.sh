#!/usr/bin/env bash
# Checks the desktop packages `make package` built against the binary they
# carry: every library the binary links (readelf NEEDED) must be covered by
# a dependency of each package, under that distribution's own names.
#
#   build/linux/check-packages.sh BINARY DEB RPM ARCHPKG
#
# .deb: the Debian package owning each linked library (dpkg -S on this
# machine) is in Depends. .rpm (rpm -qpR) and Arch (.PKGINFO "depend"):
# the Fedora / Arch name for each library in the table below is required,
# and no Debian name leaked in. A library missing from the table fails the
# check, so a new cgo dependency is declared for every distribution.
set -euo pipefail
bin=${1:?usage: check-packages.sh BINARY DEB RPM ARCHPKG} deb=${2:?} rpm=${3:?} arch=${4:?}

# soname (without the version suffix)   Fedora package       Arch package
# Names looked up on the distributions' package indexes (Fedora 40+,
# Arch extra): WebKitGTK 4.1 is webkit2gtk4.1 / webkit2gtk-4.1; Fedora
# ships JavaScriptCore separately, Arch inside webkit2gtk-4.1.
table='
libc.so                       glibc                  glibc
libm.so                       glibc                  glibc
libglib-2.0.so                glib2                  glib2
libgio-2.0.so                 glib2                  glib2
libgobject-2.0.so             glib2                  glib2
libgtk-3.so                   gtk3                   gtk3
libgdk-3.so                   gtk3                   gtk3
libgdk_pixbuf-2.0.so          gdk-pixbuf2            gdk-pixbuf2
libsoup-3.0.so                libsoup3               libsoup3
libwebkit2gtk-4.1.so          webkit2gtk4.1          webkit2gtk-4.1
libjavascriptcoregtk-4.1.so   javascriptcoregtk4.1   webkit2gtk-4.1
libvpx.so                     libvpx                 libvpx
'

fail=0
bad() { echo "check-packages: $*" >&2; fail=1; }

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
mapfile -t needed < <(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ ${#needed[@]} -gt 0 ] || { echo "check-packages: $bin links no shared library?" >&2; exit 1; }

debdeps=$(dpkg-deb -f "$deb" Depends)
rpmreqs=$(rpm -qpR "$rpm" 2>/dev/null)
archdeps=$(tar --zstd -xOf "$arch" .PKGINFO | sed -n 's/^depend = //p')
has() { grep -qxF -- "$2" <<<"$1"; }
# Depends as one name per line, without versions or alternatives' bars.
debnames=$(tr ',|' '\n\n' <<<"$debdeps" | sed 's/(.*)//; s/:.*//; s/[[:space:]]//g' | sed '/^$/d')
rpmnames=$(sed 's/[[:space:]].*//' <<<"$rpmreqs")

for so in "${needed[@]}"; do
	# Only the binary's own architecture: a machine with cross toolchains
	# also has e.g. libc6-arm64-cross and libc6:arm64 shipping libc.so.6.
	owner=$(dpkg -S "*/$multiarch/$so" 2>/dev/null | sed -n 's/^\([^:,]*\).*/\1/p' | sort -u)
	[ -n "$owner" ] || bad "$so: no Debian package on this machine ships it"
	for p in $owner; do
		has "$debnames" "$p" || bad "$so: .deb Depends lacks $p (Depends: $debdeps)"
	done
	row=$(awk -v so="${so%.so.*}.so" '$1 == so {print $2, $3}' <<<"$table")
	if [ -z "$row" ]; then
		bad "$so: not in the Fedora/Arch table of build/linux/check-packages.sh; add its package names there and in build/nfpm.yaml"
		continue
	fi
	read -r fedora archname <<<"$row"
	has "$rpmnames" "$fedora" || bad "$so: .rpm Requires lacks $fedora"
	has "$archdeps" "$archname" || bad "$so: Arch depend lacks $archname"
done

# Debian names must not leak into the other distributions' metadata.
for n in $debnames; do
	has "$rpmnames" "$n" && bad ".rpm Requires has the Debian name $n"
	has "$archdeps" "$n" && bad "Arch depend has the Debian name $n"
done

# The same files in all three.
want='usr/bin/parley
usr/share/applications/parley.desktop
usr/share/icons/hicolor/256x256/apps/parley.png'
files_deb=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./||')
files_rpm=$(rpm -qpl "$rpm" 2>/dev/null | sed 's|^/||')
files_arch=$(tar --zstd -tf "$arch" | sed 's|^\./||')
while read -r f; do
	has "$files_deb" "$f" || bad ".deb lacks /$f"
	has "$files_rpm" "$f" || bad ".rpm lacks /$f"
	has "$files_arch" "$f" || bad "Arch package lacks /$f"
done <<<"$want"

[ $fail = 0 ] || exit 1
echo "check-packages: ${#needed[@]} linked libraries covered in .deb ($(wc -l <<<"$debnames") Depends), .rpm and Arch"
