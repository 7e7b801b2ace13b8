#!/usr/bin/env bash
# test_random_dag.sh — the random-dag workload verifies bit-exactly against its sequential oracle across the
# daemon's thread configurations.
#
# Matrix: scheduler threads 1, 2, 4 x wiring "shared", "dedicated" x 1 and 4 concurrent client processes —
# every combination, one daemon per (schedulers, wiring), both client counts against it. Each client submits
# 50 000 tasks (>= 20 000 required; sanitizer builds: 2 500). Runs alternate between the CLI (`ringsched run
# random-dag`) and the standalone build/workloads/random-dag. A run passes when it exits 0, prints the summary line
# "all results match the oracle" and one "matches the oracle" line per client. Two more daemons run the seeds'
# mechanisms switched off (payloads built at dispatch; wiring on the submit path; locked fan-out lists with
# reference counts instead of wireless readiness), the baselines make bench measures: they must compute the
# same results.
source "$(dirname "$0")/lib.sh"
rs_init random_dag

TASKS=$(rs_scale 50000 2500)
RUN_TIMEOUT=$(rs_scale 180 600)
RD="$RS_WL/random-dag"
rs_need_bin "$RD"

seed=100
# schedulers, wiring, tag suffix, extra config
combos=()
for sched in 1 2 4; do
	for wiring in shared dedicated; do
		combos+=("$sched|$wiring||")
	done
done
combos+=("2|shared|_payload_at_dispatch|mechanisms: { prebuilt_payload = false; };")
combos+=("2|shared|_inline_wiring|mechanisms: { deferred_wiring = false; };")
combos+=("4|shared|_fanout_readiness|mechanisms: { wireless_readiness = false; };")
for combo in "${combos[@]}"; do
	IFS='|' read -r sched wiring_name suffix extra <<<"$combo"
	wiring=$wiring_name$suffix
	{
		conf=$(rs_config_gen "$sched" "$wiring_name" "idle: { spin_us = 5; }; $extra")
		if ! rs_daemon_start "$conf"; then
			rs_fail "daemon_start_${sched}_${wiring}" "daemon did not start"
			continue
		fi
		for clients in 1 4; do
			seed=$((seed + 1))
			name="random_dag_s${sched}_${wiring}_c${clients}"
			if [ $(((seed + sched) % 2)) -eq 0 ]; then
				runner=("$RS_CLI_BIN" --socket "$RS_SOCK" run random-dag)
			else
				runner=("$RD" --socket "$RS_SOCK")
			fi
			log="$RS_TMP/$name.log"
			t0=$(rs_now_ms)
			rs_run_logged "$log" "$RUN_TIMEOUT" "${runner[@]}" --tasks "$TASKS" --clients "$clients" \
				--seed "$seed" --verify
			rc=$?
			ms=$(($(rs_now_ms) - t0))
			matched=$(grep -c ': matches the oracle$' "$log")
			if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
				rs_fail "$name" "timed out after ${RUN_TIMEOUT}s (${runner[0]##*/})"
			elif [ $rc -ne 0 ]; then
				rs_fail "$name" "exit $rc after ${ms} ms: $(grep -m1 'FAILED\|differ\|error\|failed' "$log")"
			elif ! grep -q "^random-dag: $clients clients x $TASKS tasks: all results match the oracle$" "$log"; then
				rs_fail "$name" "no 'all results match the oracle' summary"
			elif [ "$matched" -ne "$clients" ]; then
				rs_fail "$name" "$matched of $clients clients reported a match"
			elif ! grep -q '^workload random-dag: ' "$log"; then
				rs_fail "$name" "no rs_wl_report line"
			else
				rs_log "$name: $clients x $TASKS tasks verified in ${ms} ms: $(grep -m1 '^workload random-dag: ' "$log")"
				rs_pass "$name"
			fi
		done
		if ! rs_alive "$RS_DPID"; then
			rs_fail "daemon_alive_${sched}_${wiring}" "the daemon died during the runs"
		fi
		rs_check_stop "daemon_clean_exit_${sched}_${wiring}"
	}
done
rs_finish
