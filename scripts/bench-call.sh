#!/usr/bin/env bash
# Whole-process call benchmark: builds bin/parley-signal and bin/parley-cli
# when they are missing or older than their sources, then runs two
# parley-cli processes in a synthetic video call (30 fps colour bars with a
# stamped frame number and capture time, plus a 440 Hz sine, each way) at
# 640x480 and 1280x720 over loopback through one parley-signal. It prints,
# per side, decoded fps, frames decoded/received, glass-to-glass latency
# p50/p95, CPU % and peak RSS, and compares the CPU with VP8 encode+decode
# of the same frames alone (libvpx in one process, same run). The goals
# (>= 29 fps, latency p50 < 150 ms) are PASS/FAIL columns; a miss is
# reported, not an error. Then the screen sharing rows: one parley-cli
# shares a 1920x1080 Xvfb screen (call --video screen) with the other, a
# still screen and one repainted whole a few times a second: the sharer's
# CPU (capture, conversion, VP8) and the viewer's decoded fps; and a still
# screen with the sharer's test camera beside it as a tile (--camera
# testsrc): the viewer's fps of the screen and of the tile. A table, then
# one JSON line.
#
# Usage: scripts/bench-call.sh [--sizes 640x480,1280x720|none] [--screen 1920x1080|none] [--duration 10s]
set -euo pipefail
cd "$(dirname "$0")/.."

# stale BIN PKG: true when BIN is missing or older than go.mod, go.sum or
# any file in the module's packages that PKG is built from.
stale() {
	local bin=$1 pkg=$2
	[ -x "$bin" ] || return 0
	if [ go.mod -nt "$bin" ] || [ go.sum -nt "$bin" ]; then
		return 0
	fi
	local dirs
	dirs=$(go list -deps -f '{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}' "$pkg")
	# shellcheck disable=SC2086 # one directory a word
	[ -n "$(find $dirs -maxdepth 1 -type f -newer "$bin" -print -quit)" ]
}

mkdir -p bin
if stale bin/parley-signal ./signaling/cmd/parley-signal; then
	echo "bench-call: building bin/parley-signal..." >&2
	CGO_ENABLED=0 timeout 600 go build -trimpath -o bin/parley-signal ./signaling/cmd/parley-signal
fi
# parley-cli needs cgo: VP8 through libvpx (libvpx-dev; `make deps`).
if stale bin/parley-cli ./app/cmd/parley-cli; then
	echo "bench-call: building bin/parley-cli..." >&2
	CGO_ENABLED=1 timeout 600 go build -trimpath -o bin/parley-cli ./app/cmd/parley-cli
fi

go run ./scripts/callbench --signal bin/parley-signal --cli bin/parley-cli "$@"
