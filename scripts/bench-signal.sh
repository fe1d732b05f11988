#!/usr/bin/env bash
# Load benchmark of parley-signal: builds parley-signal and
# parley-signal-load, starts the server on 127.0.0.1:0 with its per-IP
# limits and caps off (every connection comes from 127.0.0.1) and its
# metrics listener on another free port, holds ROOMS rooms (2 WebSockets each) open, prints the
# report (a table, then one JSON line) and stops the server.
#
# Then, in the same run, it measures two nodes sharing a redis-server
# (--redis), with each room's two participants on different nodes, and
# prints that report and a comparison with the one node in memory
# (joins/s, join → peer-joined p50/p99). REDIS=0 skips the second part.
#
# Usage: scripts/bench-signal.sh [extra parley-signal-load flags]
#   ROOMS=10000 (default) CONCURRENCY=64 HOLD=5s REDIS=1
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
REDIS=${REDIS:-1}

if [ "$REDIS" != 0 ] && ! command -v redis-server >/dev/null; then
  echo "redis-server not found: 'make deps' installs it (or REDIS=0 to skip the two-node run)" >&2
  exit 1
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
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

# start_signal NAME [flags...]: runs parley-signal, sets $addr (the
# server), $maddr (its metrics listener) and $pid.
start_signal() {
  local name=$1
  shift
  "$work/parley-signal" --addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 --rate-rooms 0 --rate-joins 0 \
    --max-conns-per-ip 0 --max-conns-per-48 0 --max-rooms-per-ip 0 --max-rooms-per-48 0 \
    --max-conns $((2 * ROOMS + 100)) --max-rooms $((ROOMS + 100)) "$@" \
    2>"$work/$name.log" &
  pid=$!
  pids+=("$pid")
  addr= maddr=
  for _ in $(seq 100); do
    addr=$(grep 'msg=listening' "$work/$name.log" | grep -o 'addr=127\.0\.0\.1:[0-9]*' | head -1 | cut -d= -f2 || true)
    maddr=$(grep 'msg=metrics' "$work/$name.log" | grep -o 'addr=127\.0\.0\.1:[0-9]*' | head -1 | cut -d= -f2 || true)
    [ -n "$addr" ] && [ -n "$maddr" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  if [ -z "$addr" ] || [ -z "$maddr" ]; then
    echo "parley-signal ($name) did not report its address" >&2
    cat "$work/$name.log" >&2
    exit 1
  fi
  echo "parley-signal ($name) listening on $addr, metrics on $maddr (pid $pid)" >&2
}

# stop PID: SIGTERM and wait; returns non-zero if it did not exit cleanly.
stop() {
  kill -TERM "$1"
  wait "$1" || { echo "process $1 exited with $?" >&2; return 1; }
}

# field NAME FILE: a number from the report's JSON line.
field() {
  tail -1 "$2" | grep -o "\"$1\":[0-9.e+-]*" | cut -d: -f2
}

status=0
start_signal memory
"$work/parley-signal-load" --server "http://$addr" --metrics "http://$maddr" --rooms "$ROOMS" \
  --concurrency "$CONCURRENCY" --hold "$HOLD" "$@" | tee "$work/memory.out" || status=$?
stop "$pid" || status=1

if [ "$REDIS" = 0 ] || [ "$status" != 0 ]; then
  exit "$status"
fi

# Two nodes sharing a private redis-server (no persistence, loopback only).
rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir "$work/redis"
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$work/redis" --loglevel warning >"$work/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 100); do
  redis-cli -p "$rport" ping >/dev/null 2>&1 && break
  sleep 0.1
done
echo "redis-server on 127.0.0.1:$rport (pid $redis_pid)" >&2
start_signal node1 --redis "redis://127.0.0.1:$rport/0"
addr1=$addr maddr1=$maddr pid1=$pid
start_signal node2 --redis "redis://127.0.0.1:$rport/0"
addr2=$addr maddr2=$maddr pid2=$pid
echo >&2
"$work/parley-signal-load" --server "http://$addr1,http://$addr2" --metrics "http://$maddr1,http://$maddr2" --rooms "$ROOMS" \
  --concurrency "$CONCURRENCY" --hold "$HOLD" "$@" | tee "$work/redis.out" || status=$?
stop "$pid1" || status=1
stop "$pid2" || status=1
[ "$status" = 0 ] || exit "$status"

echo
printf '%-34s %10s %12s %12s\n' "signaling load, same run" "joins/s" "p50 ms" "p99 ms"
for run in memory redis; do
  label="1 node, in memory"
  [ "$run" = redis ] && label="2 nodes + Redis (peers split)"
  printf '%-34s %10.0f %12.2f %12.2f\n' "$label" \
    "$(field joinsPerSecond "$work/$run.out")" "$(field latencyP50Ms "$work/$run.out")" "$(field latencyP99Ms "$work/$run.out")"
done
awk -v a="$(field joinsPerSecond "$work/redis.out")" -v b="$(field joinsPerSecond "$work/memory.out")" \
  -v c="$(field latencyP50Ms "$work/redis.out")" -v d="$(field latencyP50Ms "$work/memory.out")" \
  'BEGIN { printf "ratio 2 nodes + Redis / 1 node:    joins/s x%.2f   p50 x%.2f\n", a / b, c / d }'
exit "$status"
