#!/usr/bin/env bash
# test_stats.sh — `ringsched stats`, `ringsched top` and the workloads' progress line, against a known
# workload on a daemon with profiling on.
#
#   stats_json_counts      a session that ran N spin tasks: completed == wired == submitted == N, nothing
#                          failed, cancelled, queued or ready; latency recorded for all N with 0 < p50 <= p99;
#                          its kernel time at least N x the spin time, busy share and tasks/s above 0
#   stats_json_threads     the scheduler threads' completed counts and latency counts sum to at least N, each
#                          thread's p50 <= p99, and the dedicated wiring thread is listed with its role and
#                          wired at least N tasks (the schedulers none)
#   stats_table_row        the table has the session's row (name, DONE = N) with latencies, not "-"
#   top_two_frames_plain   `top -n 2` with stdout not a terminal: two plain frames (no escapes), the second
#                          with rates over the last interval, exit 0
#   top_tty_redraws        on a terminal (script -qc) each frame clears and redraws the screen
#   top_quits_on_q         on a terminal, q ends top within a few seconds
#   top_sigterm_restores   SIGTERM ends top and the terminal is back in canonical mode with echo
#   progress_quiet_pipe    a workload whose stderr is a file prints no progress text
#   progress_on_tty        the same workload on a terminal (script -qc) shows "tasks completed" progress
source "$(dirname "$0")/lib.sh"
rs_init stats

CLI="$RS_CLI_BIN"
SC="$RS_ITEST/stats_client"
rs_need_bin "$SC"
if ! command -v python3 >/dev/null; then rs_skip all "python3 is needed to read the JSON"; rs_finish; fi
N=$(rs_scale 2000 500)
SPIN_NS=20000
ESC=$'\e'
HAVE_SCRIPT=0
command -v script >/dev/null && command -v stty >/dev/null && HAVE_SCRIPT=1

if ! rs_daemon_start "$(rs_config_gen 2 dedicated 'profiling: { enabled = true; };' \
	'daemon: { stats_interval_s = 1; };')"; then
	rs_fail daemon_start "see log"
	rs_finish
fi

rs_bg "$SC" --socket "$RS_SOCK" --tasks "$N" --spin-ns "$SPIN_NS" --name stats-probe --hold-ms 60000 \
	>"$RS_TMP/client.log" 2>&1
cpid=$RS_BG_LAST
if ! rs_wait_until 120 rs_file_has "$RS_TMP/client.log" "$N tasks done"; then
	rs_fail stats_client "did not finish: $(cat "$RS_TMP/client.log")"
	rs_finish
fi

rs_cli stats --json >"$RS_TMP/stats.json" 2>&1
rs_log "stats: $(head -c 1500 "$RS_TMP/stats.json" | tr '\n' ' ')"
# pycheck NAME EXPR: EXPR (python, over d = the stats JSON) holds.
pycheck() {
	if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); N=$N; S=[s for s in d['sessions'] if s['name'] == 'stats-probe']
T=[t for t in d['threads'] if 'scheduler' in t['role'] or 'sched' in t['role']]
sys.exit(0 if ($2) else 1)" "$RS_TMP/stats.json" 2>"$RS_TMP/py.err"; then
		rs_pass "$1"
	else
		rs_fail "$1" "$2 does not hold $(cat "$RS_TMP/py.err")"
	fi
}
pycheck stats_json_counts "d['profiling'] >= 1 and len(S) == 1 and S[0]['completed'] == N and S[0]['wired'] == N and
	S[0]['submitted'] == N and S[0]['failed'] == 0 and S[0]['cancelled'] == 0 and S[0]['sq_pending'] == 0 and
	S[0]['ready'] == 0 and S[0]['ready_high'] == 0 and S[0]['running'] == 0 and S[0]['latency_count'] == N and
	0 < S[0]['p50_ns'] <= S[0]['p99_ns'] and S[0]['kernel_ns'] >= N * $SPIN_NS and S[0]['busy_share'] > 0 and
	S[0]['tasks_per_s'] > 0 and S[0]['leases'] == 0 and S[0]['ready_hosted'] == 0 and S[0]['reports_rejected'] == 0"
pycheck stats_json_threads "len(T) == 2 and sum(t['completed'] for t in T) >= N and
	sum(t['latency_count'] for t in T) >= N and all(t['p50_ns'] is None or t['p50_ns'] <= t['p99_ns'] for t in T) and
	[t['role'] for t in d['threads']].count('wiring') == 1 and sum(t['busy_ns'] for t in T) >= N * $SPIN_NS and
	[t['wired'] for t in d['threads'] if t['role'] == 'wiring'][0] >= N and all(t['wired'] == 0 for t in T)"

out=$(rs_cli stats 2>&1)
row=$(grep -E '^[0-9]+ +[0-9]+ +stats-probe ' <<<"$out")
# columns: SESSION PID NAME WIRED SQ READY RUN LEASES DONE FAILED CANCEL BUSY TASKS/S P50 P99
if [ -n "$row" ] && [ "$(awk '{ print $4, $8, $9, $10, $11 }' <<<"$row")" = "$N 0 $N 0 0" ] &&
	[ "$(awk '{ print $14 }' <<<"$row")" != "-" ] && [ "$(awk '{ print $15 }' <<<"$row")" != "-" ]; then
	rs_pass stats_table_row
else
	rs_fail stats_table_row "row '$row' in: $out"
fi

# ---- top
timeout 30 "$CLI" --socket "$RS_SOCK" top -n 2 -d 0.2 >"$RS_TMP/top.txt" 2>&1
rc=$?
frames=$(grep -c '^ringschedd: up' "$RS_TMP/top.txt")
if [ $rc -eq 0 ] && [ "$frames" -eq 2 ] && ! grep -q "$ESC" "$RS_TMP/top.txt" &&
	[ "$(grep -c 'stats-probe' "$RS_TMP/top.txt")" -eq 2 ] && grep '^ringschedd: up' "$RS_TMP/top.txt" | tail -1 |
	grep -q "over the last interval"; then
	rs_pass top_two_frames_plain
else
	rs_fail top_two_frames_plain "rc $rc, $frames frames: $(cat -v "$RS_TMP/top.txt" | head -20)"
fi

if [ $HAVE_SCRIPT -eq 1 ]; then
	timeout 30 script -qc "'$CLI' --socket '$RS_SOCK' top -n 2 -d 0.2" /dev/null </dev/null >"$RS_TMP/top-tty.txt" 2>&1
	clears=$(grep -o $'\e\\[2J' "$RS_TMP/top-tty.txt" | wc -l)
	if [ "$clears" -eq 2 ] && [ "$(grep -c '^ringschedd: up' "$RS_TMP/top-tty.txt")" -eq 0 ] &&
		[ "$(grep -o 'ringschedd: up' "$RS_TMP/top-tty.txt" | wc -l)" -eq 2 ]; then
		rs_pass top_tty_redraws
	else
		rs_fail top_tty_redraws "$clears clears: $(cat -v "$RS_TMP/top-tty.txt" | head -10)"
	fi

	# q is typed 1 s after the start; top must be gone well before the input ends 8 s later
	(sleep 1; printf q; sleep 8) | timeout 30 script -qc "t0=\$(date +%s%3N); '$CLI' --socket '$RS_SOCK' top -d 0.2;
		echo top-exit=\$? after-ms=\$((\$(date +%s%3N) - t0))" /dev/null >"$RS_TMP/top-q.txt" 2>&1
	ms=$(grep -o 'after-ms=[0-9]*' "$RS_TMP/top-q.txt" | cut -d= -f2)
	if grep -q "top-exit=0" "$RS_TMP/top-q.txt" && [ -n "$ms" ] && [ "$ms" -lt 7000 ]; then
		rs_pass top_quits_on_q
	else
		rs_fail top_quits_on_q "after ${ms:-?} ms: $(cat -v "$RS_TMP/top-q.txt" | tail -5)"
	fi

	timeout 30 script -qc "'$CLI' --socket '$RS_SOCK' top -d 0.2 </dev/tty & p=\$!; sleep 1; kill -TERM \$p; wait \$p;
		echo top-exit=\$?; stty -a" /dev/null </dev/null >"$RS_TMP/top-term.txt" 2>&1
	if grep -q "top-exit=0" "$RS_TMP/top-term.txt" && grep -Eq '(^| )icanon( |$)' "$RS_TMP/top-term.txt" &&
		grep -Eq '(^| )echo( |$)' "$RS_TMP/top-term.txt"; then
		rs_pass top_sigterm_restores
	else
		rs_fail top_sigterm_restores "$(cat -v "$RS_TMP/top-term.txt" | tail -8)"
	fi
else
	rs_skip top_tty_redraws "script(1) or stty is not installed"
	rs_skip top_quits_on_q "script(1) or stty is not installed"
	rs_skip top_sigterm_restores "script(1) or stty is not installed"
fi
rs_kill_pid "$cpid"

# ---- the workloads' progress line: a run long enough for it (its first line comes after half a second; this
# run takes about 3 s here, in either build, so a faster machine still shows several)
WL=(paged_attention --batch "$(rs_scale 1024 512)")
timeout 300 "$CLI" --socket "$RS_SOCK" run "${WL[@]}" >"$RS_TMP/wl.out" 2>"$RS_TMP/wl.err"
rc=$?
if [ $rc -eq 0 ] && grep -q "^workload paged_attention: " "$RS_TMP/wl.out" &&
	! grep -q "tasks completed" "$RS_TMP/wl.out" "$RS_TMP/wl.err" && [ ! -s "$RS_TMP/wl.err" ]; then
	rs_pass progress_quiet_pipe
else
	rs_fail progress_quiet_pipe "rc $rc; stderr: $(cat -v "$RS_TMP/wl.err" | head -5)"
fi
if [ $HAVE_SCRIPT -eq 1 ]; then
	timeout 300 script -qc "'$CLI' --socket '$RS_SOCK' run ${WL[*]}" /dev/null </dev/null >"$RS_TMP/wl-tty.txt" 2>&1
	if grep -Eq 'paged_attention: [0-9]+ / [0-9]+ tasks completed, [0-9]+ tasks/s' "$RS_TMP/wl-tty.txt" &&
		grep -q "workload paged_attention: " "$RS_TMP/wl-tty.txt"; then
		rs_pass progress_on_tty
	else
		rs_fail progress_on_tty "$(cat -v "$RS_TMP/wl-tty.txt" | head -5)"
	fi
else
	rs_skip progress_on_tty "script(1) is not installed"
fi

# the periodic line in the daemon's log (info level, every daemon.stats_interval_s while tasks complete)
if rs_wait_until 10 grep -Eq 'stats: [0-9]+ sessions?, [0-9]+ tasks/s over [0-9]+ s, schedulers [0-9]+% busy' "$RS_DLOG"; then
	rs_pass stats_line_logged
	rs_log "$(grep -m1 'stats: ' "$RS_DLOG")"
else
	rs_fail stats_line_logged "no periodic stats line in the daemon log"
fi

rs_daemon_stop
rs_finish
