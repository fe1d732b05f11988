#!/usr/bin/env bash
# Prints the .deb's Depends for the binary $1, computed by dpkg-shlibdeps
# from the libraries it links (with the minimum versions their symbols
# need). Fails when a linked library belongs to no installed package, so
# a new cgo dependency cannot ship undeclared.
set -euo pipefail
bin=${1:?usage: debdepends.sh BINARY}
command -v dpkg-shlibdeps >/dev/null || { echo "debdepends.sh: dpkg-shlibdeps missing (apt-get install dpkg-dev)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# dpkg-shlibdeps wants a source tree: a minimal debian/control and the
# binary where the package would install it.
mkdir -p "$tmp/debian/parley/usr/bin"
printf 'Source: parley\n\nPackage: parley\nArchitecture: any\n' >"$tmp/debian/control"
cp "$bin" "$tmp/debian/parley/usr/bin/parley"
out=$(cd "$tmp" && dpkg-shlibdeps -O -e debian/parley/usr/bin/parley 2>"$tmp/err") || { cat "$tmp/err" >&2; exit 1; }
grep -v "should already be installed in their package's directory" "$tmp/err" >&2 || true
deps=${out#shlibs:Depends=}
[ -n "$deps" ] && [ "$deps" != "$out" ] || { echo "debdepends.sh: no Depends computed: $out" >&2; exit 1; }
printf '%s\n' "$deps"
