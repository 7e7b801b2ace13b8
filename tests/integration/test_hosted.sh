#!/usr/bin/env bash
# test_hosted.sh — client-hosted kernels (rs_kernel_local) under core leases, against a real daemon.
#
#   oracle      random-dag --hosted-share: a mix of hosted and built-in tasks across dependencies, verified
#               bit-exactly, from 1 and 4 clients, on 1, 2 and 4 schedulers (folded and dedicated wiring);
#               once with every task hosted
#   api         hosted_check: a mixed chain against the float oracle and independent no-op tasks (time per
#               task of built-in and hosted printed, not checked), a hosted
#               failure's code and message in rs_task_error with its dependents cancelled, rs_cancel_all,
#               registration and argument errors, a task past the lease deadline failing with the reason
#   raw         a raw client writing the completion ring itself: a task nobody reports fails at the deadline
#               with the reason, also when every later one of the lease (more than a run ring's worth) is
#               reported; reports of never-leased, duplicate, other-lane seqs and garbage codes are
#               ignored or fail only its own task — all while an honest random-dag client runs beside it
#   fairness    one scheduler, a client of hosted spin tasks beside one of built-in spin tasks of the same
#               length: lease time is charged as the session's CPU time, so each gets a fair share (within
#               a factor of 3; without the charge the hosted one would never yield)
#   kill        a client killed with SIGKILL inside a hosted task (ringsched stats shows its lease first):
#               the lease ends at once (not at its 60 s grace) and the session is reclaimed; the daemon's one scheduler then serves a new client
#   readme      the README's hosted-kernel example program, cut out of the README, compiled against this tree
#               and run: it must print "ok: y = 2x"
#   cpus        4 clients of hosted spin tasks: sampling every compute thread of the daemon and the clients
#               never finds more wanting a CPU than schedulers + 1 (cpu_sampler.c: time on a CPU or
#               on a run queue per 200 ms window, /proc/PID/task/*/schedstat; the instantaneous count of state
#               R in /proc/PID/task/*/stat is printed beside it); a negative control: 4 processes with
#               private pools of schedulers + 1 spinning threads must fail the same sampler
source "$(dirname "$0")/lib.sh"
rs_init hosted

HC="$RS_ITEST/hosted_check"
CS="$RS_ITEST/cpu_sampler"
RD="$RS_WL/random-dag"
rs_need_bin "$HC"
rs_need_bin "$CS"
rs_need_bin "$RD"
TASKS=$(rs_scale 20000 2000)
RUN_TIMEOUT=$(rs_scale 240 900)
CHECK_TIMEOUT=$(rs_scale 60 300)

# run_rd TAG TIMEOUT ARGS...: a verified random-dag run; passes on exit 0 with the oracle's summary line.
run_rd() {
	local tag=$1 timeout=$2
	shift 2
	local log="$RS_TMP/$tag.log"
	rs_run_logged "$log" "$timeout" "$RD" --socket "$RS_SOCK" --verify "$@"
	local rc=$?
	if [ $rc -eq 0 ] && grep -q "all results match the oracle" "$log"; then
		rs_pass "$tag"
	else
		rs_fail "$tag" "exit $rc: $(grep -m1 -i 'mismatch\|fail' "$log" || tail -n 1 "$log")"
	fi
}

# run_hc TAG CHECK [ARGS]: one hosted_check check, bounded.
run_hc() {
	local tag=$1
	shift
	local log="$RS_TMP/$tag.log"
	rs_run_logged "$log" "$CHECK_TIMEOUT" "$HC" --socket "$RS_SOCK" "$@"
	local rc=$?
	case $rc in
	0) rs_pass "$tag" ;;
	77) rs_skip "$tag" "$(tail -n 1 "$log")" ;;
	124 | 137) rs_fail "$tag" "timed out after ${CHECK_TIMEOUT}s" ;;
	*) rs_fail "$tag" "exit $rc: $(grep -m1 'check failed' "$log" || tail -n 1 "$log")" ;;
	esac
}

# hosted_conf SCHEDULERS WIRING GRACE_MS: a config with the lease grace set (one threads group).
hosted_conf() {
	echo "threads: { schedulers = $1; wiring = \"$2\"; lease_grace_ms = $3; };"
	echo "idle: { spin_us = 5; };"
}

# ---- oracle: hosted and built-in tasks mixed across dependencies
seed=300
for cfg in "1 shared" "2 shared" "2 dedicated" "4 dedicated"; do
	read -r sched wiring <<<"$cfg"
	tag="s${sched}_${wiring}"
	if ! rs_daemon_start "$(rs_config_gen "$sched" "$wiring" 'idle: { spin_us = 5; };')"; then
		rs_fail "daemon_start_$tag" "daemon did not start"
		continue
	fi
	seed=$((seed + 1))
	run_rd "oracle_1_client_$tag" "$RUN_TIMEOUT" --tasks "$TASKS" --seed "$seed" --hosted-share 400
	seed=$((seed + 1))
	run_rd "oracle_4_clients_$tag" "$RUN_TIMEOUT" --tasks $((TASKS / 2)) --clients 4 --seed "$seed" --hosted-share 400
	if [ "$sched" = 2 ] && [ "$wiring" = shared ]; then
		run_rd "oracle_all_hosted_$tag" "$RUN_TIMEOUT" --tasks $((TASKS / 2)) --clients 2 --seed 399 \
			--hosted-share 1000
	fi
	rs_check_stop "daemon_clean_exit_$tag"
done

# ---- api: the honest client's view; a short lease grace so the deadline check is quick
for sched in 1 2; do
	tag="s${sched}"
	if ! rs_daemon_start "$(hosted_conf "$sched" shared 300)"; then
		rs_fail "daemon_start_api_$tag" "daemon did not start"
		continue
	fi
	for chk in mixed_chain failure cancel_all arguments deadline; do
		run_hc "${chk}_$tag" "$chk"
	done
	run_hc "independent_$tag" independent $(rs_scale 50000 5000)

	# ---- raw: a hostile client writing its completion ring, beside an honest one
	rs_bg "$RD" --socket "$RS_SOCK" --verify --tasks "$TASKS" --seed 77 --hosted-share 500 >"$RS_TMP/beside_$tag.log" 2>&1
	beside=$RS_BG_LAST
	run_hc "raw_never_report_$tag" raw_never_report
	run_hc "raw_forged_$tag" raw_forged
	rs_wait_bg "$beside" "$RUN_TIMEOUT"
	rc=$?
	if [ $rc -eq 0 ] && grep -q "all results match the oracle" "$RS_TMP/beside_$tag.log"; then
		rs_pass "honest_client_beside_raw_$tag"
	else
		rs_fail "honest_client_beside_raw_$tag" "exit $rc: $(tail -n 1 "$RS_TMP/beside_$tag.log")"
	fi
	rs_check "rejected_reports_logged_$tag" "the daemon log does not mention an ignored completion report" \
		rs_file_has "$RS_DLOG" "ignored a completion report"
	rs_check "deadline_logged_$tag" "the daemon log does not mention a lease that ended at its deadline" \
		rs_file_has "$RS_DLOG" "ended at its deadline"
	rs_check_stop "daemon_clean_exit_api_$tag"
done

# ---- raw: one report skipped among more than a run ring's worth, in one long lease
if rs_daemon_start "$(hosted_conf 1 shared 300 | sed 's/lease_grace_ms = 300;/lease_grace_ms = 300; lease_slice_us = 500000;/')"; then
	run_hc "raw_skip_one" raw_skip_one
	rs_check_stop "daemon_clean_exit_skip_one"
else
	rs_fail "daemon_start_skip_one" "daemon did not start"
fi

# ---- the run-time limit: a hosted task past it fails alone (the lease's grace is capped below the limit),
# it does not end the session nor quarantine a scheduler as a stuck built-in kernel would
if rs_daemon_start "$(hosted_conf 1 shared 60000)"$'\n''quota: { spin_max_ns = 100000000L; task_time_max_ms = 400; };'; then
	run_hc "deadline_under_task_time_max" deadline
	rs_check "no_quarantine_for_hosted_tasks" "a scheduler was quarantined for a hosted task" \
		bash -c "! grep -q quarantined '$RS_DLOG'"
	rs_check_stop "daemon_clean_exit_task_time_max"
else
	rs_fail "daemon_start_task_time_max" "daemon did not start"
fi

# ---- fairness: lease time counts as CPU time
if rs_daemon_start "$(hosted_conf 1 shared 1000)"; then
	SHARE_S=$(rs_scale 3 6)
	rs_bg "$HC" --socket "$RS_SOCK" share hosted 2 "$SHARE_S" >"$RS_TMP/share_hosted.log" 2>&1
	ph=$RS_BG_LAST
	rs_bg "$HC" --socket "$RS_SOCK" share builtin 2 "$SHARE_S" >"$RS_TMP/share_builtin.log" 2>&1
	pb=$RS_BG_LAST
	rs_wait_bg "$ph" "$CHECK_TIMEOUT"
	rh=$?
	rs_wait_bg "$pb" "$CHECK_TIMEOUT"
	rb=$?
	nh=$(awk '/^completed/ { print $2 }' "$RS_TMP/share_hosted.log")
	nb=$(awk '/^completed/ { print $2 }' "$RS_TMP/share_builtin.log")
	rs_log "one scheduler, 2 ms spin tasks: hosted client completed ${nh:-?}, built-in client ${nb:-?}"
	if [ $rh = 0 ] && [ $rb = 0 ] && [ -n "$nh" ] && [ -n "$nb" ] && [ "$nh" -gt 0 ] && [ "$nb" -gt 0 ] &&
		[ $((nh * 3)) -ge "$nb" ] && [ $((nb * 3)) -ge "$nh" ]; then
		rs_pass "lease_time_is_fair_cpu_time"
	else
		rs_fail "lease_time_is_fair_cpu_time" "hosted $nh vs built-in $nb completed (exit $rh, $rb)"
	fi
	rs_check_stop "daemon_clean_exit_fairness"
else
	rs_fail "daemon_start_fairness" "daemon did not start"
fi

# ---- kill: SIGKILL inside a hosted task ends the lease at once; one scheduler, a grace of a minute
if rs_daemon_start "$(hosted_conf 1 shared 60000)"; then
	out="$RS_TMP/kill_target.out"
	rs_bg "$HC" --socket "$RS_SOCK" kill_target >"$out" 2>&1
	victim=$RS_BG_LAST
	if rs_wait_until "$CHECK_TIMEOUT" rs_file_has "$out" "in-kernel"; then
		rs_pass "kill_target_leased"
		# ringsched stats shows the lease: the session was lent one, its task runs, no report was rejected
		stats=$(timeout 30 "$RS_CLI_BIN" --socket "$RS_SOCK" stats --json 2>&1)
		if python3 -c "import json,sys; S=json.loads(sys.argv[1])['sessions']
sys.exit(not (len(S) == 1 and S[0]['leases'] >= 1 and S[0]['running'] == 1 and S[0]['reports_rejected'] == 0))" \
			"$stats" 2>/dev/null; then
			rs_pass "stats_show_the_lease"
		else
			rs_fail "stats_show_the_lease" "ringsched stats --json: $stats"
		fi
		sleep 0.2
		t0=$(rs_now_ms)
		kill -KILL "$victim" 2>/dev/null
		wait "$victim" 2>/dev/null
		if rs_wait_until 10 rs_sessions_are 0; then
			rs_pass "killed_client_session_reclaimed"
			rs_log "session reclaimed $(($(rs_now_ms) - t0)) ms after SIGKILL (the lease's grace is 60 s)"
		else
			rs_fail "killed_client_session_reclaimed" "sessions still $(rs_status_field sessions) after 10 s"
		fi
		# the daemon's only scheduler must be out of the lease to serve this one in time
		run_rd "served_after_kill" 60 --tasks $((TASKS / 4)) --seed 500 --hosted-share 500
	else
		rs_fail "kill_target_leased" "the hosted task never started: $(tail -n 1 "$out")"
		rs_kill_pid "$victim"
	fi
	rs_check_stop "daemon_clean_exit_kill"
else
	rs_fail "daemon_start_kill" "daemon did not start"
fi

# ---- cpus: 4 clients of hosted spin tasks never run more compute threads than the daemon's schedulers + 1
# 20 ms tasks: a lease hand-off (every task, for tasks longer than the slice) has for a moment one thread more
# runnable than CPUs leased (the woken side preempts the waker on its way to sleep); at 20 ms they weigh
# little in a window even when other processes make every wait for a CPU longer
SPIN_TASKS=$(rs_scale 60 20)
SPIN_MS=20
for sched in 1 2; do
	tag="s${sched}"
	if ! rs_daemon_start "$(rs_config_gen "$sched" shared 'idle: { spin_us = 5; };')"; then
		rs_fail "daemon_start_cpus_$tag" "daemon did not start"
		continue
	fi
	pids=()
	hold="$RS_TMP/hold_$tag"
	for i in 1 2 3 4; do
		rs_bg "$HC" --socket "$RS_SOCK" spin "$SPIN_TASKS" "$SPIN_MS" "$hold" >"$RS_TMP/spin_${tag}_$i.log" 2>&1
		pids+=("$RS_BG_LAST")
	done
	sleep 0.2
	# longer than the spinning lasts (4 x SPIN_TASKS x SPIN_MS ms of work on $sched CPUs): the clients keep
	# their sessions until the sampling is over, so no teardown is sampled
	sample_ms=$((4 * SPIN_TASKS * SPIN_MS / sched * 3 / 2))
	log="$RS_TMP/sample_$tag.log"
	rs_run_logged "$log" "$CHECK_TIMEOUT" "$CS" sample $((sched + 1)) "$sample_ms" "$RS_DPID" "${pids[@]}"
	rc=$?
	rs_check "compute_threads_at_most_schedulers_plus_1_$tag" "exit $rc: $(head -n 1 "$log")" [ $rc = 0 ]
	touch "$hold"
	ok=1
	for pid in "${pids[@]}"; do
		rs_wait_bg "$pid" "$RUN_TIMEOUT" || ok=0
	done
	rs_check "spin_clients_done_$tag" "a spin client failed" [ $ok = 1 ]
	rs_check_stop "daemon_clean_exit_cpus_$tag"
done

# ---- readme: the example program of the README's "Writing a kernel" section, exactly as printed there
TREE=$(cd "$(dirname "$0")/../.." && pwd)
src="$RS_TMP/readme/scale.c"
mkdir -p "$RS_TMP/readme/inc/ringsched"
awk '/^\/\* scale\.c: cc scale\.c/ { on = 1 } on && /^```$/ { exit } on { print }' "$TREE/README.md" >"$src"
for h in client/ringsched.h kernels/rs_kernel.h shm/rs_abi.h; do
	ln -sf "$TREE/$h" "$RS_TMP/readme/inc/ringsched/"
done
# the library of this build: a sanitizer build's objects need that sanitizer's runtime (clang's, as make asan/tsan)
case "$RS_SANITIZER" in
asan) EXCC="clang -fsanitize=address,undefined" ;;
tsan) EXCC="clang -fsanitize=thread" ;;
*) EXCC=cc ;;
esac
if [ ! -s "$src" ]; then
	rs_fail readme_example "no scale.c example in the README"
elif ! $EXCC -std=c11 -Wall -Werror -I"$RS_TMP/readme/inc" -o "$RS_TMP/readme/scale" "$src" \
	"$RS_BUILD/libringsched.a" -lm -pthread >"$RS_TMP/readme/cc.log" 2>&1; then
	rs_fail readme_example "it does not compile: $(head -n 3 "$RS_TMP/readme/cc.log")"
elif ! rs_daemon_start "$(rs_config_gen 2 shared)"; then
	rs_fail readme_example "daemon did not start"
else
	out=$(timeout "$CHECK_TIMEOUT" "$RS_TMP/readme/scale" 2>&1)
	rs_check readme_example "it printed: $out" test "$out" = "ok: y = 2x"
	rs_check_stop daemon_clean_exit_readme
fi

# the negative control: 4 private pools of 2 spinning threads each oversubscribe the machine, and the same
# sampler must say so (a sampler that cannot fail would prove nothing)
pids=()
for i in 1 2 3 4; do
	rs_bg "$CS" pool 2 2000
	pids+=("$RS_BG_LAST")
done
sleep 0.2
log="$RS_TMP/pool_sample.log"
rs_run_logged "$log" "$CHECK_TIMEOUT" "$CS" sample 3 1000 "${pids[@]}"
rc=$?
rs_check "sampler_sees_private_pools_oversubscribe" "the sampler passed 4 pools of 2 spinning threads (exit $rc)" \
	[ $rc = 1 ]
for pid in "${pids[@]}"; do
	rs_wait_bg "$pid" 30 >/dev/null
done
rs_finish
