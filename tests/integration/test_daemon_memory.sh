#!/usr/bin/env bash
# test_daemon_memory.sh — the daemon memory a session takes is counted against a quota (found before:
# 64 sessions of one uid with task_window = 32768 and a tiny segment took 2.7 GB of daemon-private memory).
#
#   per_uid_quota_refuses      uid 65534 attaches task_window = 32768 sessions until refused: the refusal is
#                              -EDQUOT naming quota.max_daemon_bytes_per_uid and the session's size, and
#                              comes exactly when the next session would pass the quota;
#   estimate_matches_rss       the daemon's RSS grew by about what the log says those sessions take
#                              (0.5x .. 1.5x; skipped in sanitizer builds, whose allocator differs);
#   honest_beside_hog          a root client runs verified tasks with bounded latency meanwhile;
#   total_quota_refuses        with the first uid's sessions held, uid 65533 is refused by quota.max_daemon_bytes
#                              once all sessions together would pass it;
#   memory_returns             after the hogs leave, their sessions are reclaimed and new ones attach;
#   after all of it            the daemon exits 0 on SIGTERM.
# Needs root and setpriv (other uids); skips otherwise.
source "$(dirname "$0")/lib.sh"
rs_init daemon_memory

CTL="$RS_ITEST/ctl_adversary"
rs_need_bin "$CTL"
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	rs_skip daemon_memory "needs root and setpriv to play other uids"
	rs_finish
fi
HOG=(setpriv --reuid=65534 --regid=65534 --clear-groups)
HOG2=(setpriv --reuid=65533 --regid=65533 --clear-groups)
PER_UID_MIB=256
TOTAL_MIB=384
EDQUOT=-122
HOLD_MS=$(rs_scale 15000 40000)

if ! rs_daemon_start "$(rs_config_gen 2 dedicated 'idle: { spin_us = 5; };' \
	"quota: { max_daemon_bytes_per_uid = \"${PER_UID_MIB}M\"; max_daemon_bytes = \"${TOTAL_MIB}M\"; };")"; then
	rs_fail daemon_start "daemon did not start"
	rs_finish
fi
D=$RS_DPID
chmod 711 "$RS_TMP" "$(dirname "$RS_SOCK")" # the other uids must reach the socket
rss0=$(rs_proc_kb "$D" VmRSS)

hog_log="$RS_TMP/hog.log"
rs_bg "${HOG[@]}" "$CTL" --socket "$RS_SOCK" hold --count 64 --window 32768 --name hog --hold-ms "$HOLD_MS" \
	--expect-refusal quota.max_daemon_bytes_per_uid --expect-status $EDQUOT >"$hog_log" 2>&1
hpid=$RS_BG_LAST
if ! rs_wait_until 60 rs_file_has "$hog_log" "sessions attached"; then
	rs_fail per_uid_quota_refuses "the hog never finished attaching: $(tail -n 2 "$hog_log")"
	rs_finish
fi
sleep 0.5
rss1=$(rs_proc_kb "$D" VmRSS)
sed 's/^/#   /' "$hog_log"
held=$(sed -nE 's/^hold: ([0-9]+) sessions attached.*/\1/p' "$hog_log")
per_kib=$(grep "uid 65534 \"hog\", window 32768" "$RS_DLOG" | head -n 1 | sed -nE 's/.* ([0-9]+) KiB daemon memory.*/\1/p')
rs_log "uid 65534: $held sessions of ${per_kib:-?} KiB daemon memory each; RSS ${rss0} -> ${rss1} kB"
quota_kib=$((PER_UID_MIB * 1024))
if [ -n "$held" ] && [ -n "$per_kib" ] && [ "$held" -ge 1 ] && [ $((held * per_kib)) -le $quota_kib ] &&
	[ $(((held + 1) * per_kib)) -gt $quota_kib ] && grep -q "refused: .*status $EDQUOT" "$hog_log" &&
	grep -q "takes $per_kib KiB of daemon memory" "$hog_log"; then
	rs_pass per_uid_quota_refuses
else
	rs_fail per_uid_quota_refuses "held ${held:-?} sessions of ${per_kib:-?} KiB against ${quota_kib} KiB"
fi
if [ -n "$RS_SANITIZER" ]; then
	rs_skip estimate_matches_rss "the sanitizer's allocator changes RSS"
elif [ -n "$held" ] && [ -n "$per_kib" ]; then
	grew=$((rss1 - rss0))
	want=$((held * per_kib))
	rs_log "RSS grew by $grew kB for an estimate of $want kB"
	if [ $((grew * 2)) -ge "$want" ] && [ $((grew * 2)) -le $((want * 3)) ]; then
		rs_pass estimate_matches_rss
	else
		rs_fail estimate_matches_rss "RSS grew by $grew kB, the quota counted $want kB"
	fi
fi

# root is another uid: the hog's quota does not touch it
log="$RS_TMP/honest.log"
rs_run_logged "$log" 120 "$CTL" --socket "$RS_SOCK" honest --tasks 300 --max-ms 5000
rc=$?
rs_check honest_beside_hog "$(tail -n 1 "$log")" test $rc -eq 0

# the total quota: a second uid fits only what is left of max_daemon_bytes (16 MiB of slack: the honest
# session may still wait for reclamation)
log="$RS_TMP/hog2.log"
rs_run_logged "$log" 120 "${HOG2[@]}" "$CTL" --socket "$RS_SOCK" hold --count 64 --window 32768 --name hog2 \
	--expect-refusal "quota.max_daemon_bytes =" --expect-status $EDQUOT
hog2_rc=$?
held2=$(sed -nE 's/^hold: ([0-9]+) sessions attached.*/\1/p' "$log")
total_kib=$((TOTAL_MIB * 1024))
if [ $hog2_rc -eq 0 ] && [ -n "$held2" ] && [ -n "$per_kib" ] && [ $(((held + held2) * per_kib)) -le $total_kib ] &&
	[ $(((held + held2 + 1) * per_kib + 16384)) -gt $total_kib ]; then
	rs_pass total_quota_refuses
else
	rs_fail total_quota_refuses "exit $hog2_rc, uid 65533 held ${held2:-?} beside ${held:-?}"
fi

rs_wait_bg "$hpid" 120
hrc=$?
[ $hrc -eq 0 ] || rs_fail per_uid_quota_expectations "the hog's own checks failed (exit $hrc)"

if rs_wait_until 30 rs_sessions_are 0; then
	log="$RS_TMP/again.log"
	rs_run_logged "$log" 120 "${HOG[@]}" "$CTL" --socket "$RS_SOCK" hold --count 2 --window 32768 --name again
	rc=$?
	rs_check memory_returns "$(tail -n 1 "$log")" test $rc -eq 0
else
	rs_fail memory_returns "sessions: $(rs_status_field sessions) after the hogs left"
fi

rs_alive "$D" || rs_fail daemon_alive "the daemon died"
rs_check_stop daemon_clean_exit
rs_finish
