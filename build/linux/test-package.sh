#!/usr/bin/env bash
# make test-package: the .deb installed as a new user would, on a clean
# Debian 12 root (debootstrap --variant=minbase: no build packages, no
# desktop), then used there:
#
#   1. apt-get install ./parley_*.deb pulls in everything the binary needs
#      (ldd finds every library; `parley --version` runs) before anything
#      else is installed;
#   2. under Xvfb (installed after step 1) the window opens, stays up, and a
#      screenshot shows the UI drawn from the backend's answers (not blank,
#      not the "Starting…" placeholder);
#   3. xdg-mime names parley.desktop as the parley:// handler;
#   4. apt-get purge leaves none of the package's files, and no "parley" in
#      the desktop database or icon cache.
#
#   build/linux/test-package.sh build/bin/parley_0.1.0_amd64.deb
#
# Needs root (debootstrap, chroot, mounts) and Debian's mirror. The fresh
# root is cached as a tarball in $PARLEY_CI_CACHE (default
# /var/cache/parley-ci, outside the checkout), and the .debs apt downloads
# into it are kept in $PARLEY_CI_CACHE/apt-archives, so a second run
# neither bootstraps nor downloads again. SHOT=path saves the screenshot.
set -euo pipefail

deb=$(realpath "${1:?usage: test-package.sh PARLEY.deb}")
[ "$(id -u)" = 0 ] || { echo "test-package needs root (debootstrap, chroot): sudo make test-package" >&2; exit 1; }
cache=${PARLEY_CI_CACHE:-/var/cache/parley-ci}
suite=bookworm
# The Debian mirror apt already uses on this machine.
mirror=$(sed -n 's/^URIs:[[:space:]]*\(http[^[:space:]]*\/debian\)[[:space:]]*$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
tarball=$cache/$suite-minbase.tar.zst
start=$SECONDS
log() { printf '[test-package %3ds] %s\n' $((SECONDS - start)) "$*"; }

work=$(mktemp -d /var/tmp/parley-test-package.XXXXXX)
root=$work/root
cleanup() {
	# Stop anything left inside the root, then unmount and delete it.
	for p in $(ls -l /proc/*/root 2>/dev/null | awk -v r="$root" '$NF == r {split($(NF-2), a, "/"); print a[3]}'); do
		kill "$p" 2>/dev/null || true
	done
	for m in dev/shm dev/pts dev proc sys var/cache/apt/archives; do
		mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"
	done
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$cache/apt-archives/partial" "$root"
if [ -f "$tarball" ]; then
	log "clean root from the cache ($tarball)"
	tar --zstd -C "$root" -xpf "$tarball"
else
	log "debootstrap --variant=minbase $suite from $mirror"
	debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -20 "$work/debootstrap.log"; exit 1; }
	rm -rf "$root/var/cache/apt/archives/"*.deb
	tar --zstd -C "$root" -cpf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
	log "cached the clean root as $tarball ($(du -h "$tarball" | cut -f1))"
fi
mount --bind /dev "$root/dev"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
mount -t tmpfs tmpfs "$root/dev/shm"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
# dpkg without fsync: the root is thrown away, and syncing every file of
# WebKit and GTK took minutes on a loaded machine.
mkdir -p "$root/etc/dpkg/dpkg.cfg.d" && echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/test-unsafe-io"

log "apt-get update"
in_root apt-get update -q >"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log"; exit 1; }

# 1. Install exactly as a user would; nothing else is on the root yet.
log "apt-get install ./$(basename "$deb")"
in_root apt-get install -y -q "./tmp/$(basename "$deb")" >"$work/install.log" 2>&1 || { tail -30 "$work/install.log"; exit 1; }
in_root dpkg -L parley >"$work/parley.files"
if in_root ldd /usr/bin/parley | grep -q 'not found'; then
	in_root ldd /usr/bin/parley | grep 'not found' >&2
	echo "FAIL: the installed binary links libraries its Depends did not bring" >&2
	exit 1
fi
version=$(in_root parley --version)
log "parley --version: $version"
[[ $version =~ ^parley\ [^[:space:]]+\ \(commit\ [0-9a-f]{12}(-dirty)?, ]] || { echo "FAIL: unexpected --version output" >&2; exit 1; }

# 2. The window, under Xvfb. The test's own tools come only now.
log "installing the test's tools (xvfb, xwd, xwininfo, xdg-utils)"
in_root apt-get install -y -q --no-install-recommends xvfb xauth x11-apps x11-utils xdg-utils desktop-file-utils >>"$work/install.log" 2>&1 || { tail -30 "$work/install.log"; exit 1; }
cat >"$root/tmp/window.sh" <<'INNER'
#!/bin/sh
# Runs inside the root: Xvfb, then parley with a throwaway profile; waits
# until the window shows more than a blank page, then saves a screenshot.
set -eu
export DISPLAY=:77 HOME=/tmp/home XDG_RUNTIME_DIR=/tmp/run
mkdir -p -m 0700 "$HOME" "$XDG_RUNTIME_DIR"
Xvfb :77 -screen 0 1280x800x24 -nolisten tcp >/tmp/xvfb.log 2>&1 &
xvfb=$!
i=0; until xwininfo -root >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 100 ] || { echo "Xvfb did not start" >&2; exit 1; }; sleep 0.1; done
parley --secret-store file --data-dir /tmp/home/data >/tmp/parley.log 2>&1 &
app=$!
# Poll for a drawn page: the window exists and a screenshot has enough
# colours (the host decides, see min_colours); 90 s deadline for a cold start.
i=0
while :; do
	if ! kill -0 $app 2>/dev/null; then echo "parley exited early:" >&2; cat /tmp/parley.log >&2; exit 1; fi
	if xwininfo -root -tree | grep -q '"Parley"'; then
		xwd -root -silent >/tmp/shot.xwd
		echo shot
		# The host counts the colours and answers through this file.
		until [ -f /tmp/verdict ]; do sleep 0.2; done
		v=$(cat /tmp/verdict); rm -f /tmp/verdict
		[ "$v" = ok ] && break
	fi
	i=$((i+1)); [ $i -lt 450 ] || { echo "no drawn window within 90 s" >&2; cat /tmp/parley.log >&2; exit 1; }
	sleep 0.2
done
# Still up a few seconds later.
sleep 3
kill -0 $app || { echo "parley died after drawing" >&2; cat /tmp/parley.log >&2; exit 1; }
kill $app; wait $app 2>/dev/null || true
kill $xvfb; wait $xvfb 2>/dev/null || true
echo done
INNER
chmod +x "$root/tmp/window.sh"
log "starting the window under Xvfb"
# The UI drawn by the Go backend's answers: the first-run view has ~800
# colours; the page's own "Starting…" placeholder (before Go answers) ~130,
# a blank webview 1-2. So 400 means the backend and the page both work.
min_colours=400
colours=0
while read -r line; do
	case $line in
	shot)
		colours=$(/usr/bin/convert "xwd:$root/tmp/shot.xwd" -format %k info: 2>/dev/null || echo 0)
		if [ "$colours" -ge "$min_colours" ]; then echo ok >"$root/tmp/verdict"; else echo again >"$root/tmp/verdict"; fi
		;;
	done) ;;
	*) echo "$line" ;;
	esac
done < <(in_root /tmp/window.sh)
[ "$colours" -ge "$min_colours" ] || { echo "FAIL: the window stayed blank or on its placeholder ($colours colours)" >&2; exit 1; }
if [ -n "${SHOT:-}" ]; then /usr/bin/convert "xwd:$root/tmp/shot.xwd" "$SHOT"; fi
log "window drawn ($colours colours in the screenshot) and still running 3 s later"

# 3. parley:// links open Parley.
handler=$(in_root sh -c 'HOME=/tmp/home xdg-mime query default x-scheme-handler/parley')
log "xdg-mime query default x-scheme-handler/parley: $handler"
[ "$handler" = parley.desktop ] || { echo "FAIL: parley:// handler is '$handler', want parley.desktop" >&2; exit 1; }

# 4. Removal leaves nothing behind.
log "apt-get purge parley"
in_root apt-get purge -y -q parley >>"$work/install.log" 2>&1 || { tail -30 "$work/install.log"; exit 1; }
left=""
while read -r f; do
	[ -e "$root$f" ] || [ -L "$root$f" ] || continue
	[ -d "$root$f" ] && [ ! -L "$root$f" ] && continue # shared directories stay
	left="$left $f"
done <"$work/parley.files"
[ -z "$left" ] || { echo "FAIL: left behind after purge:$left" >&2; exit 1; }
if in_root grep -rls parley /usr/share/applications /usr/share/icons/hicolor /etc >"$work/grep.out"; then
	echo "FAIL: still naming parley after purge:" >&2; cat "$work/grep.out" >&2; exit 1
fi
strays=$(in_root find / -xdev -iname '*parley*' -not -path '/tmp/*' -not -path '/var/cache/apt/*' -not -path '/proc/*')
[ -z "$strays" ] || { echo "FAIL: files named parley after purge: $strays" >&2; exit 1; }
log "purged: none of its $(wc -l <"$work/parley.files") paths left, no parley in the desktop database or icon cache"
log "PASS"
