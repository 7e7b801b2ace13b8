#!/usr/bin/env bash
# test_information.sh — what the control socket tells whom, and what client text can do to the log and the
# operator's terminal. On a daemon with access.allow_all = false and access.uids = [65533]:
#
#   refused_gets_only_refusal  uid 65534 sends ATTACH, STATUS, KERNEL_LOOKUP, KERNEL_LIST, CANCEL_ALL and
#                              garbage: each is answered by the refusal alone (-EACCES, "not allowed"), then
#                              the connection is closed;
#   refused_cli_learns_nothing `ringsched status` / `kernels` as uid 65534: the refusal, no figures, no kernels;
#   status_own_sessions_only   uid 65533 (allowed, not root) sees its own session in STATUS and not root's;
#                              root sees root's;
#   name_escaped_in_status     a session named "evil<LF>ringschedd[1]: FORGED<ESC>[2J": `ringsched status`
#                              prints it escaped (no ESC byte, no forged line);
#   name_escaped_in_log        the daemon's log line for that attach carries it escaped (no ESC, no line
#                              starting "ringschedd[1]: FORGED");
#   bad_requests_rate_limited  3000 connections sending garbage cost the log a few lines, and a later line
#                              counts the suppressed ones;
#   honest_beside_spam         a root client runs verified tasks with bounded latency during the spam;
#   after all of it            the daemon exits 0 on SIGTERM.
# Needs root and setpriv (the other uids); skips otherwise.
source "$(dirname "$0")/lib.sh"
rs_init information

CTL="$RS_ITEST/ctl_adversary"
rs_need_bin "$CTL"
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	rs_skip information "needs root and setpriv to play other uids"
	rs_finish
fi
REFUSED=(setpriv --reuid=65534 --regid=65534 --clear-groups)
ALLOWED=(setpriv --reuid=65533 --regid=65533 --clear-groups)
ESC=$'\e'

if ! rs_daemon_start "$(rs_config_gen 2 dedicated 'idle: { spin_us = 5; };' \
	'access: { allow_all = false; uids = [ 65533 ]; };')"; then
	rs_fail daemon_start "daemon did not start"
	rs_finish
fi
D=$RS_DPID
chmod 711 "$RS_TMP" "$(dirname "$RS_SOCK")" # the other uids must reach the socket

# ---- a refused peer
log="$RS_TMP/refused.log"
rs_run_logged "$log" 60 "${REFUSED[@]}" "$CTL" --socket "$RS_SOCK" refused
rc=$?
rs_check refused_gets_only_refusal "$(grep -m1 FAIL "$log")" test $rc -eq 0

st=$(timeout 30 "${REFUSED[@]}" "$RS_CLI_BIN" --socket "$RS_SOCK" status 2>&1)
st_rc=$?
ks=$(timeout 30 "${REFUSED[@]}" "$RS_CLI_BIN" --socket "$RS_SOCK" kernels 2>&1)
ks_rc=$?
rs_log "status as 65534: exit $st_rc: $st"
rs_log "kernels as 65534: exit $ks_rc: $ks"
if [ $st_rc -ne 0 ] && [ $ks_rc -ne 0 ] && grep -q "not allowed" <<<"$st" && grep -q "not allowed" <<<"$ks" &&
	! grep -qE "^(version|sessions|tasks_completed):" <<<"$st" && ! grep -qE "^(noop|spin|fill) " <<<"$ks"; then
	rs_pass refused_cli_learns_nothing
else
	rs_fail refused_cli_learns_nothing "status exit $st_rc, kernels exit $ks_rc"
fi

# ---- STATUS shows a non-root peer only its own sessions; root sees every session
rs_bg "$CTL" --socket "$RS_SOCK" hold --count 1 --name root-session --hold-ms 20000 >"$RS_TMP/root-hold.log" 2>&1
rpid=$RS_BG_LAST
if rs_wait_until 20 rs_file_has "$RS_TMP/root-hold.log" "1 sessions attached"; then
	log="$RS_TMP/own.log"
	rs_run_logged "$log" 60 "${ALLOWED[@]}" "$CTL" --socket "$RS_SOCK" own-status --name own-session
	own_rc=$?
	cli=$(timeout 30 "${ALLOWED[@]}" "$RS_CLI_BIN" --socket "$RS_SOCK" status 2>&1)
	root_view=$(rs_cli status 2>&1)
	if [ $own_rc -eq 0 ] && ! grep -q "root-session" "$log" && ! grep -q "root-session" <<<"$cli" &&
		grep -q 'name "root-session"' <<<"$root_view"; then
		rs_pass status_own_sessions_only
	else
		rs_fail status_own_sessions_only "own-status exit $own_rc; uid 65533's CLI: $(grep '^session' <<<"$cli" | tr '\n' ';')"
	fi
else
	rs_fail status_own_sessions_only "the root session did not attach: $(cat "$RS_TMP/root-hold.log")"
fi
rs_kill_pid "$rpid"

# ---- a hostile session name: escaped in `ringsched status` and in the log
evil=$'evil\nringschedd[1]: FORGED\e[2J'
rs_bg "$CTL" --socket "$RS_SOCK" hold --count 1 --name "$evil" --hold-ms 20000 >"$RS_TMP/evil-hold.log" 2>&1
epid=$RS_BG_LAST
if rs_wait_until 20 rs_file_has "$RS_TMP/evil-hold.log" "1 sessions attached"; then
	rs_cli status >"$RS_TMP/evil-status.txt" 2>&1
	sed 's/^/#   /' "$RS_TMP/evil-status.txt" | cat -v
	if ! grep -q "$ESC" "$RS_TMP/evil-status.txt" && ! grep -q "^ringschedd\[1\]: FORGED" "$RS_TMP/evil-status.txt" &&
		grep -qF 'name "evil\x0aringschedd[1]: FORGED\x1b[2J"' "$RS_TMP/evil-status.txt"; then
		rs_pass name_escaped_in_status
	else
		rs_fail name_escaped_in_status "see the status output above"
	fi
	rs_log "attach line: $(grep "attached" "$RS_DLOG" | grep -F FORGED | cat -v)"
	if ! grep -q "$ESC" "$RS_DLOG" && ! grep -q "^ringschedd\[1\]: FORGED" "$RS_DLOG" &&
		grep -qF '"evil\x0aringschedd[1]: FORGED\x1b[2J"' "$RS_DLOG"; then
		rs_pass name_escaped_in_log
	else
		rs_fail name_escaped_in_log "the log holds the raw name or lacks the escaped one"
	fi
else
	rs_fail name_escaped_in_status "the session did not attach: $(cat "$RS_TMP/evil-hold.log")"
fi
rs_kill_pid "$epid"

# ---- 3000 connections of garbage: a few warnings; an honest client beside them
rs_bg "$CTL" --socket "$RS_SOCK" spam --count 3000 >"$RS_TMP/spam.log" 2>&1
spid=$RS_BG_LAST
t0=$(rs_now_ms)
log="$RS_TMP/honest.log"
rs_run_logged "$log" 120 "$CTL" --socket "$RS_SOCK" honest --tasks 300 --max-ms 5000
honest_rc=$?
rs_wait_bg "$spid" 300
spam_rc=$?
sleep 1.2 # past the rate limit's period: the next warning reports what was suppressed
timeout 30 "$CTL" --socket "$RS_SOCK" spam --count 1 >/dev/null 2>&1
spam_s=$((($(rs_now_ms) - t0) / 1000 + 1))
lines=$(grep -c "sent a malformed control message" "$RS_DLOG")
rs_log "$(cat "$RS_TMP/spam.log"); $lines warning lines in ${spam_s} s"
grep "sent a malformed control message" "$RS_DLOG" | tail -n 2 | sed 's/^/#   /'
if [ $spam_rc -eq 0 ] && [ "$lines" -ge 1 ] && [ "$lines" -le $((spam_s + 2)) ] &&
	grep "sent a malformed control message" "$RS_DLOG" | tail -n 1 | grep -q "similar messages suppressed"; then
	rs_pass bad_requests_rate_limited
else
	rs_fail bad_requests_rate_limited "spam exit $spam_rc, $lines lines in ${spam_s} s"
fi
rs_check honest_beside_spam "$(tail -n 1 "$log")" test $honest_rc -eq 0

rs_alive "$D" || rs_fail daemon_alive "the daemon died"
rs_check_stop daemon_clean_exit
rs_finish
