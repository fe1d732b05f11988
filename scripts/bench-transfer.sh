#!/usr/bin/env bash
# Whole-process file transfer benchmark: builds parley-signal and
# parley-cli, then sends SIZE bytes (default 1 GiB) of random data from one
# parley-cli process to another over loopback, and prints MB/s, MB per
# CPU-second, peak RSS per side and raw TCP loopback MB/s for the same bytes
# measured in the same run. With CROC=1 it also builds croc (CROC_VERSION,
# from the Go module proxy into the temporary directory; never vendored) and
# measures croc send → receive through a local croc relay on 127.0.0.1 on the
# same bytes, with the parley/croc ratio. It is opt-in because every croc
# process resolves its public relay's host name at start-up (a DNS query,
# no data), which a closed network may not welcome. If croc cannot be built,
# the table says so and the parley figures are still printed.
#
# Usage: SIZE=$((1<<30)) CROC=1 scripts/bench-transfer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-1073741824}
CROC_VERSION=${CROC_VERSION:-v10.7.0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
timeout 600 go build -o "$work/parley-signal" ./signaling/cmd/parley-signal
timeout 600 go build -o "$work/parley-cli" ./app/cmd/parley-cli

croc=(--croc "$work/croc")
if [ "${CROC:-0}" != 1 ]; then
	croc=(--croc-unavailable "not run (set CROC=1 to measure croc in the same run)")
# Outside the module: GOFLAGS=-mod=mod so the repo's settings cannot apply.
elif ! (cd "$work" && GOBIN="$work" GOFLAGS=-mod=mod timeout 300 \
	go install "github.com/schollz/croc/v10@$CROC_VERSION") >"$work/croc-build.log" 2>&1; then
	why="go install github.com/schollz/croc/v10@$CROC_VERSION failed: $(tail -n 3 "$work/croc-build.log" | tr '\n' ' ')"
	echo "bench-transfer: $why" >&2
	croc=(--croc-unavailable "$why")
fi

go run ./scripts/transferbench --signal "$work/parley-signal" --cli "$work/parley-cli" "${croc[@]}" --size "$SIZE"
