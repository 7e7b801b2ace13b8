#!/usr/bin/env bash
# test_adversarial.sh — the daemon treats the SQ region as hostile input (DESIGN §4
# rules 5-6).
#
#   malformed_descriptors   every kind of malformed descriptor fails its own task with a readable reason
#                           naming the problem, and a valid task right after runs (adversary malformed);
#   scribble_survived       while a random-dag client runs, other clients overwrite their whole SQ region
#                           (header, tail, ring, heaps, arena) with random bytes and disconnect: the daemon
#                           lives and the random-dag still verifies;
#   bogus_tail_survived     clients publish absurd tails (far ahead, behind the head, UINT64_MAX);
#   after all of it         `ringsched status` answers, the hostile sessions are gone, a new random-dag
#                           verifies, and the daemon exits 0 on SIGTERM.
source "$(dirname "$0")/lib.sh"
rs_init adversarial

ADV="$RS_ITEST/adversary"
RD="$RS_WL/random-dag"
rs_need_bin "$ADV"
rs_need_bin "$RD"
T=$(rs_scale 60 300)

if ! rs_daemon_start "$(rs_config_gen 2 dedicated 'idle: { spin_us = 5; };')"; then
	rs_fail daemon_start "daemon did not start"
	rs_finish
fi
D=$RS_DPID

log="$RS_TMP/malformed.log"
rs_run_logged "$log" "$T" "$ADV" --socket "$RS_SOCK" malformed
rc=$?
if [ $rc -eq 0 ]; then
	rs_pass malformed_descriptors
else
	rs_fail malformed_descriptors "exit $rc: $(grep -c 'FAIL' "$log") failed expectations (first: $(grep -m1 'FAIL' "$log"))"
fi
rs_alive "$D" || { rs_fail daemon_alive "the daemon died on malformed descriptors"; rs_daemon_log_tail; rs_finish; }

# Hostile clients while an honest one runs: a background loop scribbles (and every other round publishes
# bogus tails) until told to stop; the honest random-dag starts once the first region has been scribbled, so
# at least one scribbled session is alive while it runs.
stop="$RS_TMP/stop-hostile"
hostile_loop() {
	local i=0
	while [ ! -e "$stop" ] && [ "$i" -lt 200 ]; do
		i=$((i + 1))
		timeout "$T" "$ADV" --socket "$RS_SOCK" scribble --rounds 1 --seed "$((i * 7919))" >>"$RS_TMP/scribble.log" 2>&1 ||
			echo "scribble round $i: exit $?" >>"$RS_TMP/scribble.log"
		if [ $((i % 2)) -eq 0 ]; then
			timeout "$T" "$ADV" --socket "$RS_SOCK" bogus-tail >>"$RS_TMP/bogus.log" 2>&1 ||
				echo "bogus-tail: exit $?" >>"$RS_TMP/bogus.log"
		fi
	done
}
rs_bg hostile_loop
hpid=$RS_BG_LAST
if ! rs_wait_until 30 rs_file_has "$RS_TMP/scribble.log" "scribbled"; then
	rs_fail scribble_survived "the scribbling client never got going: $(tail -n 2 "$RS_TMP/scribble.log" 2>/dev/null)"
fi
rdlog="$RS_TMP/honest.log"
rs_run_logged "$rdlog" "$(rs_scale 180 900)" "$RD" --socket "$RS_SOCK" --tasks "$(rs_scale 200000 30000)" --clients 1 \
	--seed 21 --verify
rdrc=$?
rounds_during=$(grep -c "scribbled" "$RS_TMP/scribble.log")
touch "$stop"
rs_wait_bg "$hpid" "$((2 * T))"
sed 's/^/#   /' "$RS_TMP/scribble.log"
rs_log "$rounds_during scribble rounds had started (and scribbled) by the time the honest random-dag finished"
if ! rs_alive "$D"; then
	rs_fail scribble_survived "the daemon died"
	rs_daemon_log_tail
	rs_finish
fi
if [ "$rounds_during" -lt 1 ]; then
	rs_fail scribble_survived "no scribbled session overlapped the honest client"
elif [ $rdrc -eq 0 ] && grep -q "all results match the oracle" "$rdlog"; then
	rs_pass scribble_survived
else
	rs_fail scribble_survived "the concurrent random-dag failed (exit $rdrc): $(grep -m1 'FAILED\|differ\|failed' "$rdlog")"
fi

log="$RS_TMP/bogus-final.log"
rs_run_logged "$log" "$T" "$ADV" --socket "$RS_SOCK" bogus-tail
rc=$?
sed 's/^/#   /' "$RS_TMP/bogus.log" 2>/dev/null
if [ $rc -eq 0 ] && rs_alive "$D"; then
	rs_pass bogus_tail_survived
else
	rs_fail bogus_tail_survived "exit $rc, daemon alive: $(rs_alive "$D" && echo yes || echo no)"
fi

if rs_alive "$D" && rs_cli status >"$RS_TMP/status.txt" 2>&1; then
	rs_pass status_answers
else
	rs_fail status_answers "ringsched status failed: $(head -n 1 "$RS_TMP/status.txt")"
fi
if rs_wait_until 10 rs_sessions_are 0; then
	rs_pass hostile_sessions_reclaimed
else
	rs_fail hostile_sessions_reclaimed "sessions: $(rs_status_field sessions) after the hostile clients left"
fi
log="$RS_TMP/after.log"
if rs_run_logged "$log" "$(rs_scale 120 600)" "$RD" --socket "$RS_SOCK" --tasks "$(rs_scale 20000 2500)" --clients 2 \
	--seed 22 --verify && grep -q "all results match the oracle" "$log"; then
	rs_pass random_dag_after_attacks
else
	rs_fail random_dag_after_attacks "$(grep -m1 'FAILED\|differ\|failed\|cannot' "$log")"
fi
rs_check_stop daemon_clean_exit
rs_finish
