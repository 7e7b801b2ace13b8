#!/usr/bin/env bash
# test_api.sh — task API semantics against a real daemon, through api_check:
# explicit dependencies (listed deps waited for, unlisted ones not, explicit on top of inferred), kernel
# failure propagation (rs_wait codes, rs_task_error's root cause, independent work unaffected, rs_wait_all's
# report-once), a 100 000-task cancellation chain, rs_cancel_all, a reader of 100 tile writers (client join
# tasks), and the rendezvous concurrency probes (disjoint tiles run together, overlapping ones never).
#
# Daemons: 2 schedulers (dedicated wiring) run every check; 4 schedulers rerun the concurrency-sensitive ones;
# 1 scheduler (shared wiring) runs the ones that do not need parallelism. A check that needs two scheduler
# threads reports SKIP on the 1-thread daemon. Every daemon loads the test probes plugin (fail, rendezvous:
# tests/plugins/probes.c) through its config. The fail probe's failures must reach the daemon's log, naming
# session, task, kernel and reason (task_failure_logged).
source "$(dirname "$0")/lib.sh"
rs_init api

API="$RS_ITEST/api_check"
rs_need_bin "$API"
rs_need_file "$RS_PROBES_SO"
CHAIN=$(rs_scale 100000 20000)
CHECK_TIMEOUT=$(rs_scale 60 300)

ALL=(explicit_waits_for_listed explicit_reads_after_listed explicit_ignores_unlisted explicit_plus_inferred
	failure_propagation wait_all_first_by_seq cancel_chain cancel_all many_producers rendezvous_disjoint
	rendezvous_overlap)
PARALLEL=(rendezvous_disjoint rendezvous_overlap explicit_ignores_unlisted many_producers explicit_waits_for_listed)
SERIAL=(explicit_waits_for_listed explicit_reads_after_listed failure_propagation wait_all_first_by_seq cancel_chain
	cancel_all many_producers)

run_checks() {
	local tag=$1
	shift
	local chk rc log
	for chk in "$@"; do
		log="$RS_TMP/$tag-$chk.log"
		if [ "$chk" = explicit_ignores_unlisted ] && [[ "$RS_SANITIZER" == *tsan* ]]; then
			# the check makes a task read bytes an unlisted task is writing, concurrently, on purpose:
			# ThreadSanitizer in the daemon's kernels reports exactly that race and stops the daemon
			rs_skip "${chk}_$tag" "races on tensor bytes by design; ThreadSanitizer would stop the daemon"
			continue
		fi
		rs_run_logged "$log" "$CHECK_TIMEOUT" "$API" --socket "$RS_SOCK" --chain "$CHAIN" "$chk"
		rc=$?
		case $rc in
		0) rs_pass "${chk}_$tag" ;;
		77) rs_skip "${chk}_$tag" "$(tail -n 1 "$log")" ;;
		124 | 137) rs_fail "${chk}_$tag" "timed out after ${CHECK_TIMEOUT}s" ;;
		*) rs_fail "${chk}_$tag" "exit $rc: $(grep -m1 'check failed' "$log" || tail -n 1 "$log")" ;;
		esac
		if ! rs_alive "$RS_DPID"; then
			rs_fail "daemon_alive_$tag" "the daemon died during $chk"
			return
		fi
	done
	if rs_cli status >/dev/null 2>&1; then
		rs_pass "status_answers_$tag"
	else
		rs_fail "status_answers_$tag" "ringsched status failed after the checks"
	fi
}

for cfg in "2 dedicated ALL" "4 dedicated PARALLEL" "1 shared SERIAL"; do
	read -r sched wiring set <<<"$cfg"
	tag="s${sched}_${wiring}"
	if ! rs_daemon_start "$(rs_config_gen "$sched" "$wiring" 'idle: { spin_us = 5; };' "$(rs_probes_conf)")"; then
		rs_fail "daemon_start_$tag" "daemon did not start"
		continue
	fi
	declare -n list=$set
	run_checks "$tag" "${list[@]}"
	unset -n list
	if [ "$tag" = s2_dedicated ]; then
		# failure_propagation ran the fail probe: the operator's log names session, task, kernel and reason
		if grep -qE "info: session [0-9]+ \(pid [0-9]+\): task [0-9]+ \(kernel fail\) failed: ." "$RS_DLOG"; then
			rs_pass task_failure_logged
		else
			rs_fail task_failure_logged "no failure line for the fail probe: $(grep -m2 'failed' "$RS_DLOG")"
		fi
	fi
	rs_check_stop "daemon_clean_exit_$tag"
done
rs_finish
