#!/usr/bin/env bash
# test_multi_client.sh — several clients at once all verify: a random-dag run with 4
# client processes, a second random-dag process, and a client of long spin tasks, concurrently, against 2
# schedulers with a dedicated wiring thread and against 1 scheduler with shared wiring. Every one must
# exit 0 (the random-dags verified); the peak session count seen by `ringsched status` is printed.
source "$(dirname "$0")/lib.sh"
rs_init multi_client

LOAD="$RS_ITEST/load_client"
RD="$RS_WL/random-dag"
rs_need_bin "$LOAD"
rs_need_bin "$RD"
TASKS=$(rs_scale 10000 1500)
T=$(rs_scale 180 900)

for cfg in "2 dedicated" "1 shared"; do
	read -r sched wiring <<<"$cfg"
	tag="s${sched}_${wiring}"
	if ! rs_daemon_start "$(rs_config_gen "$sched" "$wiring" 'idle: { spin_us = 5; };')"; then
		rs_fail "daemon_start_$tag" "daemon did not start"
		continue
	fi
	rs_bg "$LOAD" --socket "$RS_SOCK" --kernel spin --chains 2 --tasks 40 --spin-ns 50000000 \
		--name long-spin >"$RS_TMP/spin-$tag.log" 2>&1
	p_spin=$RS_BG_LAST
	rs_bg "$RD" --socket "$RS_SOCK" --tasks "$TASKS" --clients 4 --seed 31 --verify \
		>"$RS_TMP/rd4-$tag.log" 2>&1
	p_rd4=$RS_BG_LAST
	rs_bg "$RS_CLI_BIN" --socket "$RS_SOCK" run random-dag --tasks "$TASKS" --clients 1 --seed 32 \
		--verify >"$RS_TMP/rd1-$tag.log" 2>&1
	p_rd1=$RS_BG_LAST
	peak=0
	deadline=$(($(rs_now_ms) + T * 1000))
	while { ! rs_exited "$p_rd4" || ! rs_exited "$p_rd1" || ! rs_exited "$p_spin"; } &&
		[ "$(rs_now_ms)" -lt "$deadline" ]; do
		n=$(rs_status_field sessions)
		if [ -n "$n" ] && [ "$n" -gt "$peak" ]; then
			peak=$n
		fi
		sleep 0.1
	done
	# rs_wait_bg kills (and reports 124 for) anything still running past the deadline
	rs_wait_bg "$p_spin" 1
	r_spin=$?
	rs_wait_bg "$p_rd4" 1
	r_rd4=$?
	rs_wait_bg "$p_rd1" 1
	r_rd1=$?
	for f in spin rd4 rd1; do
		sed "s/^/#   [$f] /" "$RS_TMP/$f-$tag.log"
	done
	rs_log "$tag: peak sessions seen by status: $peak (6 clients)"
	if [ $r_rd4 -eq 0 ] && grep -q "random-dag: 4 clients x $TASKS tasks: all results match the oracle" "$RS_TMP/rd4-$tag.log"; then
		rs_pass "random_dag_4_clients_$tag"
	else
		rs_fail "random_dag_4_clients_$tag" "exit $r_rd4: $(grep -m1 'FAILED\|differ\|failed' "$RS_TMP/rd4-$tag.log")"
	fi
	if [ $r_rd1 -eq 0 ] && grep -q "all results match the oracle" "$RS_TMP/rd1-$tag.log"; then
		rs_pass "random_dag_1_client_$tag"
	else
		rs_fail "random_dag_1_client_$tag" "exit $r_rd1: $(grep -m1 'FAILED\|differ\|failed' "$RS_TMP/rd1-$tag.log")"
	fi
	if [ $r_spin -eq 0 ]; then
		rs_pass "long_spin_client_$tag"
	else
		rs_fail "long_spin_client_$tag" "exit $r_spin: $(tail -n 1 "$RS_TMP/spin-$tag.log")"
	fi
	rs_check_stop "daemon_clean_exit_$tag"
done
rs_finish
