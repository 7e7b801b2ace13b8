#!/usr/bin/env bash
# demo.sh — `make demo` (bash tests/demo.sh BUILD_DIR): start ringschedd with its built-in default config on
# a private socket, run every verifying workload at its demo size (random-dag, then the five seed workloads),
# print one table row per workload, and stop the daemon with SIGTERM.
#
# Exit status: 0 when every workload ran and verified and the daemon exited 0; 1 otherwise. A random-dag
# that reports it is not implemented yet is shown as "n/a" and does not fail the demo. Every wait is
# bounded, and the EXIT trap kills the daemon (by pid) and removes the temporary directory whatever happens.
set -u

BUILD=${1:-build}
if [ ! -d "$BUILD" ]; then
	echo "usage: bash $0 BUILD_DIR" >&2
	exit 2
fi
BUILD=$(cd "$BUILD" && pwd)
DAEMON="$BUILD/ringschedd"
CLI="$BUILD/ringsched"

START_TIMEOUT_S=15     # daemon start until it answers `ringsched status`
STOP_TIMEOUT_S=20      # SIGTERM until the daemon has exited (it drains in-flight work first)
RUN_TIMEOUT_S=300      # one workload, verification included

WORKLOADS=(paged_attention_unroll paged_attention batch_paged_attention bgemm alternating_matmul_add)
RANDOM_DAG_ARGS=(--tasks 20000 --clients 2)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ringsched-demo.XXXXXX") || exit 1
dpid=""

cleanup() {
	local rc=$?
	if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
		echo "demo: killing daemon $dpid" >&2
		kill -KILL "$dpid" 2>/dev/null
		wait "$dpid" 2>/dev/null
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { date +%s%3N; }

# A child that has exited stays a zombie (kill -0 succeeds) until reaped: look at its state.
exited() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}

for f in "$DAEMON" "$CLI"; do
	if [ ! -x "$f" ]; then
		echo "demo: $f is missing (run make first)" >&2
		exit 1
	fi
done

sock="$tmp/rs.sock"
"$DAEMON" --no-config --socket "$sock" >"$tmp/daemon.log" 2>&1 &
dpid=$!
deadline=$(($(now_ms) + START_TIMEOUT_S * 1000))
until [ -S "$sock" ] && timeout 5 "$CLI" --socket "$sock" status >/dev/null 2>&1; do
	if exited "$dpid"; then
		wait "$dpid"
		echo "demo: ringschedd exited during start (status $?):" >&2
		sed 's/^/  /' "$tmp/daemon.log" >&2
		dpid=""
		exit 1
	fi
	if [ "$(now_ms)" -ge "$deadline" ]; then
		echo "demo: ringschedd did not answer on $sock within ${START_TIMEOUT_S}s:" >&2
		tail -n 20 "$tmp/daemon.log" | sed 's/^/  /' >&2
		exit 1
	fi
	sleep 0.05
done
export RINGSCHED_SOCKET="$sock"
echo "demo: ringschedd $dpid (built-in default config) on $sock"

rows=()
failed=0

# run_one NAME ARGS...: run `ringsched run NAME ARGS... --verify`, add a table row.
run_one() {
	local name=$1
	shift
	local log="$tmp/$name.log" rc line tasks wall rate busy verified
	echo "demo: ringsched run $name${*:+ $*} --verify"
	timeout -k 5 "$RUN_TIMEOUT_S" "$CLI" run "$name" "$@" --verify >"$log" 2>&1
	rc=$?
	sed 's/^/  | /' "$log"
	# workload NAME: tasks N, wall X s, Y tasks/s, kernel-busy Z%, verify ok|FAILED|skipped (...)
	line=$(grep -m1 "^workload $name: " "$log")
	if [ -n "$line" ]; then
		tasks=$(sed -E 's/.*: tasks ([0-9]+),.*/\1/' <<<"$line")
		wall=$(sed -E 's/.*, wall ([0-9.]+) s,.*/\1/' <<<"$line")
		rate=$(sed -E 's/.*, ([0-9.]+) tasks\/s,.*/\1/' <<<"$line")
		busy=$(sed -E 's/.*, kernel-busy ([0-9.]+%),.*/\1/' <<<"$line")
		verified=$(sed -E 's/.*, verify ([A-Za-z]+).*/\1/' <<<"$line")
	else
		tasks=-; wall=-; rate=-; busy=-; verified=-
	fi
	if [ "$name" = random-dag ] && [ $rc -ne 0 ] && grep -qi 'not implemented' "$log"; then
		verified="n/a (not implemented)"
	elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		verified="TIMEOUT (${RUN_TIMEOUT_S}s)"
		failed=1
	elif [ $rc -ne 0 ] || [ "$verified" != ok ]; then
		[ $rc -ne 0 ] && verified="${verified} (exit $rc)"
		failed=1
	fi
	rows+=("$(printf '| %-24s | %8s | %8s | %10s | %11s | %-12s |' "$name" "$tasks" "$wall" "$rate" "$busy" \
		"$verified")")
}

run_one random-dag "${RANDOM_DAG_ARGS[@]}"
for w in "${WORKLOADS[@]}"; do
	run_one "$w"
done

sched=$(timeout 5 "$CLI" status 2>/dev/null | awk -F': *' '$1 ~ /scheduler/ { print $2; exit }')

# Stop the daemon: SIGTERM, bounded wait, exit status 0 expected.
kill -TERM "$dpid"
deadline=$(($(now_ms) + STOP_TIMEOUT_S * 1000))
while ! exited "$dpid"; do
	if [ "$(now_ms)" -ge "$deadline" ]; then
		echo "demo: ringschedd did not exit within ${STOP_TIMEOUT_S}s of SIGTERM; killing it" >&2
		tail -n 20 "$tmp/daemon.log" | sed 's/^/  /' >&2
		kill -KILL "$dpid" 2>/dev/null
		failed=1
		break
	fi
	sleep 0.05
done
wait "$dpid"
dstatus=$?
dpid=""
stop_note="ringschedd stopped cleanly (exit 0)"
if [ $dstatus -ne 0 ]; then
	stop_note="ringschedd exited with status $dstatus after SIGTERM"
	tail -n 20 "$tmp/daemon.log" | sed 's/^/  /' >&2
	failed=1
fi

echo
echo "ringsched demo on $(nproc) CPUs${sched:+, scheduler threads: $sched}"
printf '| %-24s | %8s | %8s | %10s | %11s | %-12s |\n' workload tasks "wall s" "tasks/s" kernel-busy verified
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..26})" "$(printf -- '-%.0s' {1..10})" \
	"$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..13})" \
	"$(printf -- '-%.0s' {1..14})"
for r in "${rows[@]}"; do
	echo "$r"
done
echo "$stop_note"
if [ $failed -ne 0 ]; then
	echo "demo: FAILED"
	exit 1
fi
echo "demo: every workload verified"
exit 0
