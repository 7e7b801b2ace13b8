#!/usr/bin/env bash
# test_conn_limits.sh — no peer can lock the others out of the control socket (found before: 320 idle
# connections from a uid the access policy refuses used to lock out every honest client and `ringsched
# status`). On a daemon with access.allow_all = false:
#
#   refused_flood_bounded      uid 65534 (refused) opens 400 idle connections: at most
#                              quota.max_connections_per_uid are accepted, the rest are refused with a reason
#                              naming the key, and after quota.handshake_timeout_ms none is still open;
#   honest_beside_flood        meanwhile a root client attaches and runs verified tasks with bounded latency,
#                              and `ringsched status` answers;
#   flood_warnings_limited     the 400 refusals cost the log a few lines, the rest counted as suppressed;
#   handshake_timeout          a connection of an allowed uid that never attaches is closed with a reason
#                              naming quota.handshake_timeout_ms;
#   refused_cli_told_why       `ringsched status` as the refused uid prints the refusal and its reason;
#   connection_quota_validated a config whose per-uid connection quota is below the session quota is refused;
#   after all of it            the daemon serves and exits 0 on SIGTERM.
# Needs root (the refused peer is another uid, through setpriv); skips otherwise.
source "$(dirname "$0")/lib.sh"
rs_init conn_limits

CTL="$RS_ITEST/ctl_adversary"
FLOOD="$RS_ITEST/conn_flood"
rs_need_bin "$CTL"
rs_need_bin "$FLOOD"
# ---- the limits' own configuration: a connection quota below the session quota it must carry is refused
printf 'quota: { max_connections_per_uid = 10; };\n' >"$RS_TMP/low.conf"
out=$("$RS_DAEMON_BIN" --check-config --config "$RS_TMP/low.conf" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q "quota.max_connections_per_uid (10) must be 0 (automatic) or at least" <<<"$out"; then
	rs_pass connection_quota_validated
else
	rs_fail connection_quota_validated "exit $rc: $out"
fi

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	rs_skip conn_limits "needs root and setpriv to play a second uid"
	rs_finish
fi
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
HANDSHAKE_MS=1500
PER_UID=$((64 + 16)) # quota.max_connections_per_uid = 0: max_sessions_per_uid (64) + 16

if ! rs_daemon_start "$(rs_config_gen 2 dedicated 'idle: { spin_us = 5; };' 'access: { allow_all = false; };' \
	"quota: { handshake_timeout_ms = $HANDSHAKE_MS; };")"; then
	rs_fail daemon_start "daemon did not start"
	rs_finish
fi
D=$RS_DPID
chmod 711 "$RS_TMP" "$(dirname "$RS_SOCK")" # the second uid must reach the socket

# ---- the refused uid floods idle connections; root keeps working beside it
flood_log="$RS_TMP/flood.log"
rs_bg "${NOBODY[@]}" "$FLOOD" --socket "$RS_SOCK" --count 400 --hold-ms $((HANDSHAKE_MS * 3)) >"$flood_log" 2>&1
fpid=$RS_BG_LAST
if ! rs_wait_until 20 rs_file_has "$RS_DLOG" "refusing a connection"; then
	rs_fail refused_flood_bounded "the flood never reached a limit: $(tail -n 3 "$RS_DLOG")"
fi
honest_log="$RS_TMP/honest.log"
t0=$(rs_now_ms)
rs_cli status >"$RS_TMP/status.txt" 2>&1
status_rc=$?
status_ms=$(($(rs_now_ms) - t0))
rs_run_logged "$honest_log" 120 "$CTL" --socket "$RS_SOCK" honest --tasks 300 --max-ms 5000
honest_rc=$?
rs_wait_bg "$fpid" 60
sed 's/^/#   /' "$flood_log"
held=$(sed -nE 's/.* ([0-9]+) still held open.*/\1/p' "$flood_log")
refused=$(sed -nE 's/.*, ([0-9]+) refused with a reason.*/\1/p' "$flood_log")
connected=$(sed -nE 's/^conn_flood: ([0-9]+) connected.*/\1/p' "$flood_log")
if [ "${held:-x}" = 0 ] && [ "${refused:-0}" -ge $((${connected:-400} - 5)) ] &&
	grep -q "quota.max_connections_per_uid = $PER_UID" "$RS_DLOG" && grep -q "quota.handshake_timeout_ms" "$flood_log"; then
	rs_pass refused_flood_bounded
else
	rs_fail refused_flood_bounded "held ${held:-?}, refused ${refused:-?} of ${connected:-?}; per-uid refusal logged: $(grep -c "max_connections_per_uid" "$RS_DLOG")"
fi
rs_log "ringsched status during the flood: exit $status_rc in ${status_ms} ms"
if [ $honest_rc -eq 0 ] && [ $status_rc -eq 0 ] && grep -q "^sessions: " "$RS_TMP/status.txt"; then
	rs_pass honest_beside_flood
else
	rs_fail honest_beside_flood "honest exit $honest_rc ($(tail -n 1 "$honest_log")), status exit $status_rc: $(head -n 1 "$RS_TMP/status.txt")"
fi
lines=$(grep -c "refusing a connection of pid [0-9]* uid 65534" "$RS_DLOG")
rs_log "$lines log lines for the refused uid's 400 connections"
if [ "$lines" -ge 1 ] && [ "$lines" -le 12 ] && grep -q "uid 65534.*similar messages suppressed" "$RS_DLOG"; then
	rs_pass flood_warnings_limited
else
	rs_fail flood_warnings_limited "$lines lines (want 1..12, one naming the suppressed)"
fi

# ---- an allowed uid's idle connection is closed at the handshake deadline
out=$(timeout 30 "$FLOOD" --socket "$RS_SOCK" --count 3 --hold-ms $((HANDSHAKE_MS * 3)) 2>&1)
rs_log "$out"
if grep -q " 0 still held open" <<<"$out" && grep -q "3 refused with a reason" <<<"$out" &&
	grep -q "quota.handshake_timeout_ms" <<<"$out"; then
	rs_pass handshake_timeout
else
	rs_fail handshake_timeout "$out"
fi

# ---- the refused uid's CLI hears why
out=$(timeout 30 "${NOBODY[@]}" "$RS_CLI_BIN" --socket "$RS_SOCK" status 2>&1)
rc=$?
rs_log "status as uid 65534: exit $rc: $out"
if [ $rc -ne 0 ] && grep -q "refused: uid 65534 gid 65534 is not allowed" <<<"$out" && ! grep -q "^version:" <<<"$out"; then
	rs_pass refused_cli_told_why
else
	rs_fail refused_cli_told_why "exit $rc: $out"
fi

if rs_alive "$D" && rs_cli status >/dev/null 2>&1; then rs_pass daemon_serves_after; else rs_fail daemon_serves_after "no status"; fi
rs_check_stop daemon_clean_exit
rs_finish
