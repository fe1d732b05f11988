#!/usr/bin/env bash
# Load benchmark of parley-signal: builds parley-signal and
# parley-signal-load, starts the server on 127.0.0.1:0 with its per-IP
# limits off, holds ROOMS rooms (2 WebSockets each) open, prints the
# report (a table, then one JSON line) and stops the server.
#
# Usage: scripts/bench-signal.sh [extra parley-signal-load flags]
#   ROOMS=10000 (default) CONCURRENCY=64 HOLD=5s
#
# Each process needs one file descriptor per connection plus a few, so
# 10,000 rooms need `ulimit -n` above 20,000 in both. The script raises the
# soft limit as far as the hard limit allows; where the hard limit is too
# low (containers without CAP_SYS_RESOURCE), it lowers ROOMS to fit and
# says so.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOMS=${ROOMS:-10000}
CONCURRENCY=${CONCURRENCY:-64}
HOLD=${HOLD:-5s}

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "building parley-signal and parley-signal-load..." >&2
go build -o "$work/parley-signal" ./signaling/cmd/parley-signal
go build -o "$work/parley-signal-load" ./signaling/cmd/parley-signal-load

want=$((2 * ROOMS + 256))
ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
have=$(ulimit -n)
if [ "$have" != unlimited ] && [ "$have" -lt "$want" ]; then
  fit=$(((have - 256) / 2))
  echo "file descriptor limit is $have (hard $(ulimit -Hn)), $want needed for $ROOMS rooms: measuring $fit rooms instead" >&2
  echo "(raise it with 'ulimit -n $want' as root, or LimitNOFILE= in systemd)" >&2
  ROOMS=$fit
fi

"$work/parley-signal" --addr 127.0.0.1:0 --rate-rooms 0 --rate-joins 0 \
  --max-conns $((2 * ROOMS + 100)) --max-rooms $((ROOMS + 100)) \
  2>"$work/server.log" &
server_pid=$!

addr=
for _ in $(seq 100); do
  addr=$(grep -o 'addr=127\.0\.0\.1:[0-9]*' "$work/server.log" | head -1 | cut -d= -f2 || true)
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
if [ -z "$addr" ]; then
  echo "parley-signal did not report its address" >&2
  cat "$work/server.log" >&2
  exit 1
fi
echo "parley-signal listening on $addr (pid $server_pid)" >&2

status=0
"$work/parley-signal-load" --server "http://$addr" --rooms "$ROOMS" \
  --concurrency "$CONCURRENCY" --hold "$HOLD" "$@" || status=$?

kill -TERM "$server_pid"
wait "$server_pid" || { echo "parley-signal exited with $?" >&2; status=1; }
server_pid=
exit "$status"
