#!/usr/bin/env bash
# test_workloads.sh — the five seed workloads (paged_attention_unroll, paged_attention,
# batch_paged_attention, bgemm, alternating_matmul_add) verify against their double-precision oracles on a
# real daemon: each at a small size with 1 and with 2 scheduler threads (one daemon per thread count,
# configured by a config file: threads.schedulers, idle.spin_us = 5), then two workloads at once from two
# client processes. Runs alternate between the standalone build/workloads/<name> programs (1 scheduler) and
# `ringsched run <name>` (2 schedulers). A run passes when it exits 0 and prints its report line with
# "verify ok". Sanitizer builds (RS_SANITIZER set) use smaller sizes. Whole script: well under 2 minutes on
# 2 cores in a normal build.
source "$(dirname "$0")/lib.sh"
rs_init workloads

RUN_TIMEOUT=$(rs_scale 120 600)

# Small sizes that still cover the shapes: several groups per query tile with a partial last group and a
# partial last block, several query tiles per sequence, sequences of very different lengths (a chunk whose
# sequences end at different blocks), k > 1 accumulations, uneven groups.
declare -A ARGS
ARGS[paged_attention_unroll]="--batch $(rs_scale 16 4) --heads 8 --q-tile 4 --head-dim 32 --block-size 16 \
--context $(rs_scale 2000 600) --min-context 1 --group 8 --kv-blocks 64"
ARGS[paged_attention]="--batch $(rs_scale 8 2) --heads 8 --q-tile 4 --head-dim 32 --block-size 16 \
--context $(rs_scale 2048 512) --min-context 1 --kv-blocks 64"
ARGS[batch_paged_attention]="--batch $(rs_scale 40 12) --heads 8 --q-tile 4 --head-dim 32 --block-size 16 \
--context $(rs_scale 1024 256) --min-context 1 --group 8 --kv-blocks 64"
ARGS[bgemm]="--groups $(rs_scale 64 16) --grid-k 3 --tile 32"
ARGS[alternating_matmul_add]="--batch $(rs_scale 200 40) --m 2 --n 3 --matmul-batch 2 --add-batch 3 --tile 16"
WORKLOADS=(paged_attention_unroll paged_attention batch_paged_attention bgemm alternating_matmul_add)

for w in "${WORKLOADS[@]}"; do
	rs_need_bin "$RS_WL/$w"
done

# check_run NAME LOG RC WORKLOAD: PASS/FAIL from a finished run's exit status and report line.
check_run() {
	local name=$1 log=$2 rc=$3 w=$4
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		rs_fail "$name" "timed out after ${RUN_TIMEOUT}s"
	elif [ "$rc" -ne 0 ]; then
		rs_fail "$name" "exit $rc: $(grep -m1 -i 'fail\|error\|differ\|cannot' "$log")"
	elif ! grep -q "^workload $w: tasks [0-9]*, .* verify ok (max rel err " "$log"; then
		rs_fail "$name" "no 'verify ok' report line"
	else
		rs_log "$name: $(grep -m1 "^workload $w: " "$log")"
		rs_pass "$name"
	fi
}

for sched in 1 2; do
	conf="threads: { schedulers = $sched; };
idle: { spin_us = 5; };"
	if ! rs_daemon_start "$conf"; then
		rs_fail "daemon_start_s$sched" "daemon did not start"
		continue
	fi
	for w in "${WORKLOADS[@]}"; do
		name="${w}_s${sched}"
		log="$RS_TMP/$name.log"
		if [ "$sched" -eq 1 ]; then
			runner=("$RS_WL/$w" --socket "$RS_SOCK")
		else
			runner=("$RS_CLI_BIN" --socket "$RS_SOCK" run "$w")
		fi
		# shellcheck disable=SC2086 # ARGS holds whitespace-separated flags
		rs_run_logged "$log" "$RUN_TIMEOUT" "${runner[@]}" ${ARGS[$w]} --seed $((sched * 7)) --verify
		check_run "$name" "$log" $? "$w"
	done

	if [ "$sched" -eq 2 ]; then
		# Two client processes at once, each its own session: attention chains next to independent gemms,
		# then the fine-grained case next to the throughput case.
		for pair in "paged_attention_unroll bgemm" "paged_attention alternating_matmul_add"; do
			read -r wa wb <<<"$pair"
			la="$RS_TMP/concurrent_$wa.log"
			lb="$RS_TMP/concurrent_$wb.log"
			# shellcheck disable=SC2086
			rs_bg timeout -k 5 "$RUN_TIMEOUT" "$RS_WL/$wa" --socket "$RS_SOCK" ${ARGS[$wa]} --seed 11 --verify \
				>"$la" 2>&1
			pa=$RS_BG_LAST
			# shellcheck disable=SC2086
			rs_bg timeout -k 5 "$RUN_TIMEOUT" "$RS_WL/$wb" --socket "$RS_SOCK" ${ARGS[$wb]} --seed 12 --verify \
				>"$lb" 2>&1
			pb=$RS_BG_LAST
			rs_wait_bg "$pa" $((RUN_TIMEOUT + 10))
			ra=$?
			rs_wait_bg "$pb" $((RUN_TIMEOUT + 10))
			rb=$?
			sed 's/^/#   /' "$la" "$lb"
			check_run "concurrent_${wa}_with_${wb}" "$la" "$ra" "$wa"
			check_run "concurrent_${wb}_with_${wa}" "$lb" "$rb" "$wb"
		done
	fi

	if ! rs_alive "$RS_DPID"; then
		rs_fail "daemon_alive_s$sched" "the daemon died during the runs"
	fi
	rs_check_stop "daemon_clean_exit_s$sched"
done

rs_finish
