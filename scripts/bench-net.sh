#!/usr/bin/env bash
# Parley vs croc over emulated real links between network namespaces
# (issue #20's table): builds parley-signal, parley-cli, the link emulator
# (scripts/linkem) and the bench driver (scripts/netbench), installs croc
# (CROC_VERSION) from the Go module proxy into a temporary directory, then
# runs scripts/netbench, which prints the table. Root only.
#
#   RUNS=2          rounds per link (Parley and croc alternate in each)
#   ROWS=lan,gbit,...   rows to run, comma-separated (default: all; see scripts/netbench)
#   SHARE=30s       length of the shared-link row
#   SCTP_TRACE=1    run Parley's sender on every file row with
#                   PION_LOG_TRACE=sctp and keep the logs (path printed)
#   TIMELINE=1      print the link's delivered MB/s (and queue drops) each
#                   second of every transfer
#   CALL_LOGS=DIR   run the call rows at log level debug and write each
#                   side's log (the sender's adaptation) to DIR
#   BASE=REV        also build parley-cli at git revision REV (e.g. main) as
#                   "parley-base", run in the same rounds: before and after
#                   alternate on the same link
#   TOOLS=...       what runs in each round (default: [parley-base,]parley,croc)
#
# Everything it creates (namespaces parley-bench-*, the TUN devices, the
# processes, the tcp_allowed_congestion_control change) is undone on exit,
# also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "bench-net needs root (network namespaces, /dev/net/tun, sysctl); run: sudo make bench-net" >&2
	exit 1
fi
for tool in ip chrt ss; do
	command -v "$tool" >/dev/null || { echo "bench-net: $tool is missing (apt: iproute2 util-linux)" >&2; exit 1; }
done
CROC_VERSION=${CROC_VERSION:-v10.7.0}
work=$(mktemp -d)
bench_pid=
cleanup() {
	if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
		kill -TERM "$bench_pid" 2>/dev/null || true
		wait "$bench_pid" 2>/dev/null || true
	fi
	# Namespaces of a bench that died without cleaning up (names carry its pid).
	for ns in $(ip netns list | awk '/^parley-bench-/{print $1}'); do
		owner=${ns#parley-bench-}; owner=${owner%%-*}
		kill -0 "$owner" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$work"
	git worktree prune 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building into $work ..."
CGO_ENABLED=0 go build -o "$work/parley-signal" ./signaling/cmd/parley-signal
go build -o "$work/parley-cli" ./app/cmd/parley-cli
go build -o "$work/linkem" ./scripts/linkem
go build -o "$work/netbench" ./scripts/netbench
tools=parley,croc
if [ -n "${BASE:-}" ]; then
	git worktree add -q --detach "$work/base-src" "$BASE"
	(cd "$work/base-src" && go build -o "$work/parley-cli-base" ./app/cmd/parley-cli)
	git worktree remove --force "$work/base-src"
	tools=parley-base,parley,croc
fi
# Outside the module: GOFLAGS=-mod=mod so the repo's settings cannot apply.
(cd "$work" && GOBIN="$work" GOFLAGS=-mod=mod go install "github.com/schollz/croc/v10@$CROC_VERSION")

trace=()
[ "${SCTP_TRACE:-0}" = 1 ] && trace=(-sctp-trace)
[ "${TIMELINE:-0}" = 1 ] && trace+=(-timeline)
[ -n "${CALL_LOGS:-}" ] && mkdir -p "$CALL_LOGS" && trace+=(-call-logs "$(realpath "$CALL_LOGS")")
"$work/netbench" -bin "$work" -runs "${RUNS:-2}" -rows "${ROWS:-lan,gbit,home,relayed,homeloss,longfat,share,call2m,call300k,callstep}" \
	-share "${SHARE:-30s}" -tools "${TOOLS:-$tools}" "${trace[@]}" &
bench_pid=$!
wait "$bench_pid"
