#!/usr/bin/env bash
# Whole-process file transfer benchmark: builds parley-signal and
# parley-cli, then sends SIZE bytes (default 1 GiB) of random data from one
# parley-cli process to another over loopback, and prints MB/s, MB per
# CPU-second, peak RSS per side and raw TCP loopback MB/s for the same bytes
# measured in the same run.
#
# Usage: SIZE=$((1<<30)) scripts/bench-transfer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-1073741824}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/parley-signal" ./signaling/cmd/parley-signal
go build -o "$work/parley-cli" ./app/cmd/parley-cli
go run ./scripts/transferbench --signal "$work/parley-signal" --cli "$work/parley-cli" --size "$SIZE"
