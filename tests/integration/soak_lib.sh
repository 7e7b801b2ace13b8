# soak_lib.sh — what test_soak.sh and test_kill_storm.sh share beyond lib.sh (sourced after it, not run):
# a clock and a liveness test that fork no process (both scripts poll many clients for a long time on a
# loaded machine, where lib.sh's date- and awk-based helpers would cost a fork per client per poll), and the
# verdict of one random-dag run read from its log.

# sk_tick: NOW_MS = the wall clock in milliseconds, from bash's own $EPOCHREALTIME (no fork).
sk_tick() {
	local t=${EPOCHREALTIME//[.,]/}
	NOW_MS=$((10#$t / 1000))
}

# sk_gone PID: true when PID has exited (zombie or reaped); read with the `read` builtin, no fork.
sk_gone() {
	local s
	{ read -r s <"/proc/$1/stat"; } 2>/dev/null || return 0
	s=${s##*) }
	s=${s%% *}
	[ "$s" = Z ] || [ "$s" = X ]
}

# sk_rd_verdict LOG RC CLIENTS: the verdict of one random-dag run of CLIENTS clients that exited with RC and
# wrote LOG (stdout and stderr). Sets
#   RD_VERDICT  ok    every client printed "matches the oracle" and the run exited 0
#               wrong the run exited 1 (RS_WL_EXIT_MISMATCH): an oracle comparison found differing elements
#               lost  anything else: a runtime error (a wait that failed or timed out, failed or cancelled
#                     tasks, a refused connection), a signal, or no verdict at all
#   RD_TASKS    tasks the clients say they submitted ("client I: N tasks" lines)
#   RD_DIFFER   elements reported differing from the oracle (summed over checkpoints)
#   RD_LOST     for "lost": submitted - completed from the failing wait's counters, at least 1 (a run that
#               died without counting its tasks counts once); else 0
#   RD_WHY      a one-line reason for the log, empty for "ok"
sk_rd_verdict() {
	local log=$1 rc=$2 clients=$3 matched submitted completed
	read -r RD_TASKS matched RD_DIFFER submitted completed < <(awk '
		/^random-dag: client [0-9]+: [0-9]+ tasks / { tasks += $4 }
		/: matches the oracle$/ { matched++ }
		/ elements differ from the oracle$/ { for (i = 1; i < NF; i++) if ($(i + 1) == "elements") differ += $i }
		/\(submitted [0-9]+, completed [0-9]+,/ {
			s = $0; sub(/.*\(submitted /, "", s); split(s, a, /[^0-9]+/); sub_ += a[1]
			s = $0; sub(/.*, completed /, "", s); split(s, b, /[^0-9]+/); done_ += b[1]
		}
		END { printf "%d %d %d %d %d\n", tasks, matched, differ, sub_, done_ }' "$log" 2>/dev/null)
	RD_LOST=0
	RD_WHY=""
	if [ "$rc" -eq 0 ] && [ "${matched:-0}" -eq "$clients" ]; then
		RD_VERDICT=ok
	elif [ "$rc" -eq 1 ]; then
		RD_VERDICT=wrong
		RD_WHY="${RD_DIFFER:-?} elements differ from the oracle"
	else
		RD_VERDICT=lost
		RD_LOST=$((${submitted:-0} - ${completed:-0}))
		[ "$RD_LOST" -ge 1 ] || RD_LOST=1
		RD_WHY="exit $rc: $(grep -m1 -E 'FAILED|rs_wait_all|failed|cannot|refused|signal' "$log" | tr -d '\n')"
	fi
}
