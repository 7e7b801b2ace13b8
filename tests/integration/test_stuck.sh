#!/usr/bin/env bash
# test_stuck.sh — kernels that do not end (daemon/stuck.c): the per-task run-time limit, quarantine and
# replacement of the scheduler thread, per-session reclamation, a stop within the grace period, and the
# systemd watchdog. The kernel is the test probes' stall(ms) (sleeps ms, forever for 0; tests/plugins).
#
# A: one scheduler, folded wiring, quota.task_time_max_ms = 500, quota.max_stuck_threads = 1, sd_notify to
#    a test socket with WATCHDOG_USEC set:
#      ended_session       a stall(0) client gets -RS_EENDED naming quota.task_time_max_ms, and so does its
#                          next call; the log says the thread was quarantined and replaced;
#      honest_beside       a random-dag --verify client running across the quarantine matches its oracle;
#      honest_after        one started afterwards too (the replacement serves it: the only scheduler is stuck);
#      reclaim_others      five short sessions come and go while the stuck thread holds its session: their
#                          fds are freed (only the stuck session's stay);
#      no_replacement      a second stall(0): quarantined, not replaced (slots taken), every scheduler stuck;
#      stats_shows_quarantined  `ringsched stats --json` lists both threads as quarantined, in their kernels;
#      watchdog_withheld   WATCHDOG=1 pings arrive before that and none for 2 s after;
#      stop_in_grace       SIGTERM with two kernels that never return: exit 0 within the grace period.
# B: stall(1500) past a 500 ms limit: the quarantined thread returns, leaves and is joined (threads back to
#    their count), and the daemon stops cleanly (under ASan, LeakSanitizer then sees the ended session freed).
# C: limit off, stall(0), SIGTERM: the waiting client gets -RS_EDAEMON, the daemon exits within the grace.
# D: limit off, two schedulers, a 4 s stall: sessions that come and go meanwhile are freed before it ends
#    (quiescence per session, not global).
source "$(dirname "$0")/lib.sh"
rs_init stuck

SC="$RS_ITEST/stall_client"
RD="$RS_WL/random-dag"
rs_need_bin "$SC"
rs_need_bin "$RD"
rs_need_file "$RS_PROBES_SO"
GRACE=3000
SLACK=$(rs_scale 2500 6000)  # beyond the grace period: process exit, sanitizer reports, a loaded machine
HONEST=$(rs_scale 60 300)
PLUGIN="kernels: { plugins = [ \"$RS_PROBES_SO\" ]; };"
EENDED=-10013
EDAEMON=-10001

fds_at_most() { [ "$(rs_fd_count "$1")" -le "$2" ]; }
threads_are() { [ "$(rs_threads "$1")" -eq "$2" ]; }

# stop_within NAME: SIGTERM the daemon; PASS if it exits 0 within GRACE + SLACK ms.
stop_within() {
	local t0 ms
	t0=$(rs_now_ms)
	if rs_daemon_stop; then
		ms=$(($(rs_now_ms) - t0))
		rs_check "$1" "exit took ${ms} ms (grace ${GRACE} ms + ${SLACK} ms)" [ "$ms" -le $((GRACE + SLACK)) ]
		rs_log "stop took ${ms} ms"
	else
		rs_fail "$1" "$RS_DSTATUS"
	fi
}

# ---- A: quarantine, replacement, reclamation, watchdog, stop

NSOCK="$RS_TMP/notify.sock"
NLOG="$RS_TMP/notify.log"
rs_bg python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
f = open(sys.argv[2], "a", buffering=1)
while True:
    for line in s.recv(4096).decode(errors="replace").split("\n"):
        f.write("%d %s\n" % (int(time.time() * 1000), line))
' "$NSOCK" "$NLOG"
rs_wait_until 10 test -S "$NSOCK" || rs_log "notify socket did not appear"
export NOTIFY_SOCKET="$NSOCK" WATCHDOG_USEC=2000000
if ! rs_daemon_start "$(rs_config_gen 1 shared "$PLUGIN" \
	'quota: { spin_max_ns = 100000000L; task_time_max_ms = 500; max_stuck_threads = 1; watchdog_ms = 200; };' \
	"daemon: { shutdown_grace_ms = $GRACE; };")"; then
	rs_fail daemon_start "daemon did not start"
	rs_finish
fi
unset NOTIFY_SOCKET WATCHDOG_USEC
D=$RS_DPID

hlog="$RS_TMP/honest-beside.log"
rs_bg timeout -k 5 "$HONEST" "$RD" --socket "$RS_SOCK" --tasks 3000 --clients 1 --seed 5 --verify >"$hlog" 2>&1
hpid=$RS_BG_LAST
slog="$RS_TMP/stall-a.log"
rs_bg timeout -k 5 60 "$SC" --socket "$RS_SOCK" --ms 0 --timeout-ms 30000 --hold-ms 600000 >"$slog" 2>&1
spid=$RS_BG_LAST
if rs_wait_until 30 grep -q '^stall: next=' "$slog"; then
	sed 's/^/#   /' "$slog"
	if grep -q "^stall: wait=$EENDED .*error=.*quota.task_time_max_ms" "$slog" &&
		grep -q "^stall: next=$EENDED .*quota.task_time_max_ms" "$slog"; then
		rs_pass ended_session
	else
		rs_fail ended_session "$(grep '^stall: wait' "$slog")"
	fi
else
	rs_fail ended_session "no answer within 30 s: $(tr '\n' ' ' <"$slog")"
fi
rs_check quarantine_logged "$(grep -m1 'quarantined' "$RS_DLOG")" \
	grep -q 'scheduler thread 0 is quarantined .*a new scheduler thread replaces it' "$RS_DLOG"
rs_wait_bg "$hpid" "$((HONEST + 10))"
hrc=$?
sed 's/^/#   /' "$hlog"
rs_check honest_beside "random-dag exit $hrc: $(grep -m1 'FAILED\|differ\|failed\|cannot' "$hlog")" \
	rs_file_has "$hlog" "all results match the oracle"
alog="$RS_TMP/honest-after.log"
rs_run_logged "$alog" "$HONEST" "$RD" --socket "$RS_SOCK" --tasks 2000 --clients 2 --seed 6 --verify
rs_check honest_after "exit $?: $(grep -m1 'FAILED\|differ\|failed\|cannot' "$alog")" \
	rs_file_has "$alog" "all results match the oracle"

# the stuck session's connection is closed and it is unlinked; its memory stays mapped for the kernel
rs_wait_until 10 rs_sessions_are 0
base=$(rs_fd_count "$D")
for i in 1 2 3 4 5; do
	timeout -k 5 "$HONEST" "$RD" --socket "$RS_SOCK" --tasks 100 --clients 1 --seed "$i" --verify \
		>"$RS_TMP/short-$i.log" 2>&1
done
if rs_wait_until 10 fds_at_most "$D" "$base"; then
	rs_pass reclaim_others
else
	rs_fail reclaim_others "daemon fds $(rs_fd_count "$D") after five short sessions, $base before"
fi

rs_bg timeout -k 5 60 "$SC" --socket "$RS_SOCK" --ms 0 --timeout-ms 30000 >"$RS_TMP/stall-a2.log" 2>&1
if rs_wait_until 30 rs_file_has "$RS_DLOG" "every scheduler thread is stuck"; then
	stuck_ms=$(rs_now_ms)
	rs_check no_replacement "$(grep -m1 'quarantined.*not replaced' "$RS_DLOG")" \
		grep -q 'scheduler thread [0-9]* is quarantined .*not replaced: quota.max_stuck_threads' "$RS_DLOG"
	# what an operator sees: both scheduler threads quarantined, each still in its kernel
	q=$(rs_cli stats --json 2>/dev/null | python3 -c 'import json, sys
print(sum(1 for t in json.load(sys.stdin)["threads"] if t["role"] == "quarantined" and t["running_ns"]))')
	rs_check stats_shows_quarantined "stats --json lists ${q:-no} quarantined threads running a kernel" \
		test "${q:-0}" -eq 2
	sleep 2.5
	before=$(awk -v t="$stuck_ms" '$1 < t - 500 && $2 == "WATCHDOG=1"' "$NLOG" | wc -l)
	after=$(awk -v t="$stuck_ms" '$1 > t + 300 && $2 == "WATCHDOG=1"' "$NLOG" | wc -l)
	rs_log "WATCHDOG=1 pings: $before before every scheduler was stuck, $after from 0.3 s after"
	rs_check watchdog_withheld "$before pings before, $after after" test "$before" -ge 1 -a "$after" -eq 0
else
	rs_fail no_replacement "the daemon never said every scheduler is stuck"
	rs_daemon_log_tail
fi
stop_within stop_in_grace
rs_check stop_logged "$(grep -m1 'did not stop' "$RS_DLOG")" \
	grep -q 'did not stop within .*exiting without it' "$RS_DLOG"
rs_kill_pid "$spid"

# ---- B: a quarantined thread whose kernel returns leaves and is joined

if ! rs_daemon_start "$(rs_config_gen 1 shared "$PLUGIN" \
	'quota: { spin_max_ns = 100000000L; task_time_max_ms = 500; };' "daemon: { shutdown_grace_ms = $GRACE; };")"; then
	rs_fail daemon_start_b "daemon did not start"
	rs_finish
fi
D=$RS_DPID
threads0=$(rs_threads "$D")
rs_run_logged "$RS_TMP/stall-b.log" 60 "$SC" --socket "$RS_SOCK" --ms 1500 --timeout-ms 30000
rs_check ended_session_b "$(grep '^stall: wait' "$RS_TMP/stall-b.log")" \
	grep -q "^stall: wait=$EENDED" "$RS_TMP/stall-b.log"
if rs_wait_until 20 rs_file_has "$RS_DLOG" "returned from its kernel"; then
	rs_check thread_left "threads $(rs_threads "$D"), $threads0 before" \
		rs_wait_until 10 threads_are "$D" "$threads0"
else
	rs_fail thread_left "no 'returned from its kernel' in the log"
fi
rs_run_logged "$RS_TMP/honest-b.log" "$HONEST" "$RD" --socket "$RS_SOCK" --tasks 1000 --clients 1 --seed 7 --verify
rs_check honest_b "random-dag exit $?" rs_file_has "$RS_TMP/honest-b.log" "all results match the oracle"
stop_within clean_stop_b

# ---- C: the limit off, a kernel that never ends, SIGTERM: clients get -RS_EDAEMON

if ! rs_daemon_start "$(rs_config_gen 1 shared "$PLUGIN" 'quota: { task_time_max_ms = 0; };' \
	"daemon: { shutdown_grace_ms = $GRACE; };")"; then
	rs_fail daemon_start_c "daemon did not start"
	rs_finish
fi
clog="$RS_TMP/stall-c.log"
rs_bg timeout -k 5 60 "$SC" --socket "$RS_SOCK" --ms 0 --timeout-ms 60000 >"$clog" 2>&1
cpid=$RS_BG_LAST
rs_wait_until 10 rs_file_has "$clog" "submitted task"
sleep 0.5
stop_within stop_in_grace_c
rs_wait_bg "$cpid" 20
sed 's/^/#   /' "$clog"
rs_check client_edaemon "$(grep '^stall: wait' "$clog")" grep -q "^stall: wait=$EDAEMON" "$clog"

# ---- D: a long kernel of one session does not hold up freeing the others

if ! rs_daemon_start "$(rs_config_gen 2 shared "$PLUGIN" 'quota: { task_time_max_ms = 0; };')"; then
	rs_fail daemon_start_d "daemon did not start"
	rs_finish
fi
D=$RS_DPID
dlog="$RS_TMP/stall-d.log"
rs_bg timeout -k 5 60 "$SC" --socket "$RS_SOCK" --ms "$(rs_scale 4000 8000)" --timeout-ms 60000 >"$dlog" 2>&1
dpid=$RS_BG_LAST
rs_wait_until 10 rs_file_has "$dlog" "submitted task"
sleep 0.3
base=$(rs_fd_count "$D")
for i in 1 2 3; do
	timeout -k 5 "$HONEST" "$RD" --socket "$RS_SOCK" --tasks 100 --clients 1 --seed "$i" --verify \
		>"$RS_TMP/short-d-$i.log" 2>&1
done
if rs_wait_until 2 fds_at_most "$D" "$base" && ! rs_exited "$dpid"; then
	rs_pass reclaim_during_long_kernel
else
	rs_fail reclaim_during_long_kernel "fds $(rs_fd_count "$D") (base $base); long kernel still running: \
$(rs_exited "$dpid" && echo no || echo yes)"
fi
rs_wait_bg "$dpid" 30
rs_check long_kernel_ok "$(grep '^stall: wait' "$dlog")" grep -q '^stall: wait=0 ' "$dlog"
rs_check_stop clean_stop_d

rs_finish
