#!/usr/bin/env bash
# test_soak.sh — a sustained mixed load on one daemon: every result verified, nothing lost.
#
# For SOAK_SECONDS (default 30 here, 300 through `make soak`) CLIENTS slots (16; 4 in sanitizer builds) each
# run build/workloads/random-dag --verify back to back, one process and one session per run, a new seed every
# run, so sessions attach and detach all the time. The slots cycle through four graph profiles (matrix
# count, size, tile size, and for one a small ring and task window, so submission blocks on back-pressure).
# Beside them, one soak_interactive client submits single small tasks with a short think time and measures
# each round trip. When the time is up no new run starts; the running ones finish (bounded by HANG_S); then
# the daemon must exit 0 on SIGTERM. The last line is
#
#   soak: clients=C tasks=N wrong=W lost=L p50_us=X p99_us=Y
#
#   clients  the random-dag slots running at once (the interactive client comes on top)
#   tasks    tasks submitted: every random-dag run's own count plus the interactive client's
#   wrong    oracle mismatches: random-dag runs that exited with RS_WL_EXIT_MISMATCH (a bit-exact comparison
#            of every matrix element with the run's sequential oracle, at 2 checkpoints and the end, found a
#            difference), plus interactive tasks whose buffer was not the expected value after their wait
#   lost     completions that never came: for every random-dag run that ended any other way than verified
#            (an rs_wait_all that failed or timed out after HANG_S, failed or cancelled tasks, a refused
#            connection, a crash, a hang past the drain bound), the tasks it submitted minus those it saw
#            complete, at least 1 per such run; plus the interactive client's lost tasks (a failed submission
#            or an rs_wait without success within HANG_S), plus 1 if it did not report at all
#   p50/p99  nearest-rank percentiles of the interactive round trips (submit to the wait's return), in µs
#
# The script exits non-zero unless wrong = 0 and lost = 0, every slot verified at least one run, the
# interactive client completed tasks, and the daemon stayed up and exited 0. The percentiles are reported,
# never asserted: the only time bound is HANG_S, generous enough that only a hang reaches it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/soak_lib.sh"
rs_init soak

RD="$RS_WL/random-dag"
INTER="$RS_ITEST/soak_interactive"
rs_need_bin "$RD"
rs_need_bin "$INTER"

SOAK_SECONDS=${SOAK_SECONDS:-30}
SOAK_SEED=${SOAK_SEED:-1}
CLIENTS=$(rs_scale 16 4)
TASKS_PER_RUN=$(rs_scale 20000 5000)
HANG_S=$(rs_scale 60 240)
POLL_S=0.1
STATUS_EVERY_MS=5000

# The graph profiles the slots cycle through: random-dag flags beyond --tasks/--seed/--verify.
PROFILES=(
	"--matrices 4 --dim 64 --tiles 4"
	"--matrices 2 --dim 32 --tiles 2"
	"--matrices 3 --dim 96 --tiles 8 --ring-entries 64 --window 64"
	"--matrices 8 --dim 48 --tiles 3"
)

if ! rs_daemon_start "$(rs_config_gen 2 shared 'idle: { spin_us = 5; };')"; then
	rs_fail daemon_start "daemon did not start"
	rs_finish
fi
D=$RS_DPID
rs_log "soak: $CLIENTS random-dag slots x ${SOAK_SECONDS}s, $TASKS_PER_RUN tasks a run, seeds from $SOAK_SEED," \
	"hang bound ${HANG_S}s"

declare -a slot_pid slot_log slot_seed slot_runs slot_ok
runs=0
tasks=0
wrong=0
lost=0

# start_run SLOT: the slot's next random-dag run in the background.
start_run() {
	local s=$1 seed=$((SOAK_SEED + runs))
	runs=$((runs + 1))
	slot_seed[$s]=$seed
	slot_log[$s]="$RS_TMP/slot$s.log"
	# shellcheck disable=SC2086 # the profile is a list of flags
	rs_bg "$RD" --socket "$RS_SOCK" --tasks "$TASKS_PER_RUN" --seed "$seed" --verify \
		--wait-ms $((HANG_S * 1000)) ${PROFILES[$((s % ${#PROFILES[@]}))]} >"${slot_log[$s]}" 2>&1
	slot_pid[$s]=$RS_BG_LAST
}

# finish_run SLOT: reap the slot's finished (or just killed) run and account for it.
finish_run() {
	local s=$1 rc
	wait "${slot_pid[$s]}" 2>/dev/null
	rc=$?
	slot_pid[$s]=""
	sk_rd_verdict "${slot_log[$s]}" "$rc" 1
	tasks=$((tasks + ${RD_TASKS:-0}))
	slot_runs[$s]=$((${slot_runs[$s]:-0} + 1))
	case $RD_VERDICT in
	ok) slot_ok[$s]=$((${slot_ok[$s]:-0} + 1)) ;;
	wrong) wrong=$((wrong + 1)) ;;
	lost) lost=$((lost + RD_LOST)) ;;
	esac
	if [ "$RD_VERDICT" != ok ]; then
		rs_log "slot $s, seed ${slot_seed[$s]} (${PROFILES[$((s % ${#PROFILES[@]}))]}): $RD_VERDICT: $RD_WHY"
		tail -n 20 "${slot_log[$s]}" | sed 's/^/#   /'
	fi
}

sk_tick
start_ms=$NOW_MS
end_ms=$((start_ms + SOAK_SECONDS * 1000))
rs_bg "$INTER" --socket "$RS_SOCK" --seconds "$SOAK_SECONDS" --hang-ms $((HANG_S * 1000)) --think-us 2000 \
	>"$RS_TMP/interactive.log" 2>&1
ipid=$RS_BG_LAST
for ((s = 0; s < CLIENTS; s++)); do
	start_run "$s"
done

daemon_died=0
peak_sessions=0
next_status_ms=$((start_ms + STATUS_EVERY_MS))
drain_deadline_ms=0
while :; do
	sk_tick
	if [ "$daemon_died" -eq 0 ] && sk_gone "$D"; then
		# no new runs; the running ones end with -RS_EDAEMON and count what they lost
		daemon_died=1
		drain_deadline_ms=$((NOW_MS + HANG_S * 1000))
		rs_log "the daemon died after $runs runs: draining (bound ${HANG_S}s)"
	fi
	if [ "$NOW_MS" -ge "$end_ms" ] && [ "$drain_deadline_ms" -eq 0 ]; then
		drain_deadline_ms=$((NOW_MS + HANG_S * 1000))
		rs_log "time is up after $runs runs: draining (bound ${HANG_S}s)"
	fi
	busy=0
	for ((s = 0; s < CLIENTS; s++)); do
		[ -n "${slot_pid[$s]:-}" ] || continue
		if sk_gone "${slot_pid[$s]}"; then
			finish_run "$s"
			[ "$drain_deadline_ms" -eq 0 ] && start_run "$s"
		fi
		[ -n "${slot_pid[$s]:-}" ] && busy=$((busy + 1))
	done
	sk_gone "$ipid" || busy=$((busy + 1))
	[ "$busy" -eq 0 ] && break
	if [ "$drain_deadline_ms" -gt 0 ] && [ "$NOW_MS" -ge "$drain_deadline_ms" ]; then
		rs_log "drain bound reached with $busy clients still running: killing them (they count as lost)"
		for ((s = 0; s < CLIENTS; s++)); do
			if [ -n "${slot_pid[$s]:-}" ]; then
				kill -KILL "${slot_pid[$s]}" 2>/dev/null
				finish_run "$s"
			fi
		done
		sk_gone "$ipid" || kill -KILL "$ipid" 2>/dev/null
		break
	fi
	if [ "$NOW_MS" -ge "$next_status_ms" ] && [ "$daemon_died" -eq 0 ]; then
		n=$(rs_status_field sessions)
		[ -n "$n" ] && [ "$n" -gt "$peak_sessions" ] && peak_sessions=$n
		rs_log "t=$(((NOW_MS - start_ms) / 1000))s: sessions ${n:-?}, runs $runs, tasks $tasks so far," \
			"wrong $wrong, lost $lost; daemon fds $(rs_fd_count "$D"), threads $(rs_threads "$D")," \
			"VmRSS $(rs_proc_kb "$D" VmRSS) kB"
		next_status_ms=$((NOW_MS + STATUS_EVERY_MS))
	fi
	sleep "$POLL_S"
done

wait "$ipid" 2>/dev/null
irc=$?
sed 's/^/#   [interactive] /' "$RS_TMP/interactive.log"
iline=$(grep '^interactive: tasks=' "$RS_TMP/interactive.log" | tail -n 1)
itasks=$(sed -nE 's/.* tasks=([0-9]+).*/\1/p' <<<"$iline")
iwrong=$(sed -nE 's/.* wrong=([0-9]+).*/\1/p' <<<"$iline")
ilost=$(sed -nE 's/.* lost=([0-9]+).*/\1/p' <<<"$iline")
p50=$(sed -nE 's/.* p50_us=([0-9]+).*/\1/p' <<<"$iline")
p99=$(sed -nE 's/.* p99_us=([0-9]+).*/\1/p' <<<"$iline")
if [ -z "$iline" ]; then
	rs_log "the interactive client (exit $irc) printed no result line"
	ilost=1
fi
tasks=$((tasks + ${itasks:-0}))
wrong=$((wrong + ${iwrong:-0}))
lost=$((lost + ${ilost:-0}))

sk_tick
rs_log "soak: $runs random-dag runs in $(((NOW_MS - start_ms) / 1000)) s, peak sessions seen $peak_sessions," \
	"interactive: $iline (exit $irc)"
if [ "$daemon_died" -eq 1 ]; then
	rs_fail daemon_alive "the daemon died during the soak"
	rs_daemon_log_tail
else
	rs_pass daemon_alive
fi
rs_check no_wrong_results "$wrong oracle mismatches (the failing runs and seeds are logged above)" [ "$wrong" -eq 0 ]
rs_check no_lost_tasks "$lost tasks or clients lost" [ "$lost" -eq 0 ]
unverified=""
for ((s = 0; s < CLIENTS; s++)); do
	[ "${slot_ok[$s]:-0}" -ge 1 ] || unverified+=" $s"
done
rs_check every_slot_verified "slots with no verified run:$unverified" [ -z "$unverified" ]
rs_check interactive_client "exit $irc, ${itasks:-0} tasks" test "$irc" -eq 0 -a "${itasks:-0}" -gt 0
[ "$daemon_died" -eq 1 ] || rs_check_stop daemon_clean_exit

echo "# $RS_NAME: $RS_NPASS passed, $RS_NFAIL failed"
echo "soak: clients=$CLIENTS tasks=$tasks wrong=$wrong lost=$lost p50_us=${p50:-0} p99_us=${p99:-0}"
[ "$RS_NFAIL" -eq 0 ]
