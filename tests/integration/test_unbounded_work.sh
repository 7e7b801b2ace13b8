#!/usr/bin/env bash
# test_unbounded_work.sh — no descriptor holds a scheduler thread unboundedly (bounded work
# per task, kernels/rs_kernel.h). One daemon with ONE scheduler (a stuck kernel would stall every session)
# and quota.spin_max_ns = 1 ms, the test probes plugin loaded for rendezvous. For each case of `adversary
# unbounded` (a raw client writing the descriptor into its SQ region itself: batch_matmul t = 2^63 on empty
# views, qk_matmul on stride-0 block tables, gemm on aliased views, spin and rendezvous for 10 s):
#
#   unbounded_<case>        the bad task fails within 5 s, rs_task_error names the bound, a valid task right
#                           after runs (several rounds of it);
#   honest_beside_<case>    a random-dag --verify client started beside it matches its oracle within a bound
#                           (with one scheduler, a kernel that held its thread would stall it);
#   alive_<case>            the daemon lives and `ringsched status` answers.
#
# Then a spin and a rendezvous of exactly 1 ms still run (at_quota), and the daemon exits 0 on SIGTERM.
source "$(dirname "$0")/lib.sh"
rs_init unbounded_work

ADV="$RS_ITEST/adversary"
RD="$RS_WL/random-dag"
rs_need_bin "$ADV"
rs_need_bin "$RD"
rs_need_file "$RS_PROBES_SO"
T=$(rs_scale 60 300)        # one adversary run (its own waits are bounded by 5 s each)
HONEST=$(rs_scale 60 300)   # the honest client, generous
ROUNDS=$(rs_scale 10 3)

if ! rs_daemon_start "$(rs_config_gen 1 dedicated "kernels: { plugins = [ \"$RS_PROBES_SO\" ]; };" \
	'quota: { spin_max_ns = 1000000L; };')"; then
	rs_fail daemon_start "daemon did not start"
	rs_finish
fi
D=$RS_DPID

CASES="batch-empty batch-empty-huge qk-stride0-huge qk-stride0-reuse gemm-aliased gemm-aliased-huge spin rendezvous"
for c in $CASES; do
	hlog="$RS_TMP/honest-$c.log"
	t0=$(rs_now_ms)
	rs_bg timeout -k 5 "$HONEST" "$RD" --socket "$RS_SOCK" --tasks 2000 --clients 1 --seed 31 --verify \
		>"$hlog" 2>&1
	hpid=$RS_BG_LAST
	log="$RS_TMP/adv-$c.log"
	rs_run_logged "$log" "$T" "$ADV" --socket "$RS_SOCK" unbounded --case "$c" --repeat "$ROUNDS"
	rc=$?
	if [ $rc -eq 0 ]; then
		rs_pass "unbounded_$c"
	else
		rs_fail "unbounded_$c" "exit $rc: $(grep -c 'FAIL' "$log") failed expectations (first: $(grep -m1 'FAIL' "$log"))"
	fi
	rs_wait_bg "$hpid" "$((HONEST + 10))"
	hrc=$?
	hms=$(($(rs_now_ms) - t0))
	sed 's/^/#   /' "$hlog"
	if [ $hrc -eq 0 ] && grep -q "all results match the oracle" "$hlog"; then
		rs_pass "honest_beside_$c"
		rs_log "honest client beside $c done ${hms} ms after it started"
	else
		rs_fail "honest_beside_$c" \
			"random-dag exit $hrc after ${hms} ms: $(grep -m1 'FAILED\|differ\|failed\|cannot' "$hlog")"
	fi
	if rs_alive "$D" && rs_cli status >"$RS_TMP/status.txt" 2>&1; then
		rs_pass "alive_$c"
	else
		rs_fail "alive_$c" "daemon alive: $(rs_alive "$D" && echo yes || echo no); status: $(head -n 1 "$RS_TMP/status.txt")"
		rs_daemon_log_tail
		rs_finish
	fi
done

# The controls (a spin and a rendezvous of exactly the quota run) are part of those two cases' runs; say so.
for c in spin rendezvous; do
	if grep -q "control: $c for exactly quota.spin_max_ns.*rs_wait = 0 " "$RS_TMP/adv-$c.log"; then
		rs_pass "at_quota_$c"
	else
		rs_fail "at_quota_$c" "$(grep -m1 "control: $c" "$RS_TMP/adv-$c.log")"
	fi
done
if rs_wait_until 10 rs_sessions_are 0; then
	rs_pass sessions_reclaimed
else
	rs_fail sessions_reclaimed "sessions: $(rs_status_field sessions) after the clients left"
fi
rs_check_stop daemon_clean_exit
rs_finish
