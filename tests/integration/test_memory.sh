#!/usr/bin/env bash
# test_memory.sh — scratch heaps and back-pressure.
#
#   - a scope pinning more scratch than its heap gets -RS_EDEADLK at once (a single oversized rs_scratch,
#     and an open scope's live scratch plus a new request), and the session goes on working;
#   - a client blocked on heap space (scopes that each take most of the heap) completes with right values;
#   - tiny windows (session task_window 16, ring_entries 8, a 16 KiB heap per depth) still run a large
#     random-dag correctly: ring, window and heap back-pressure on every few tasks.
source "$(dirname "$0")/lib.sh"
rs_init memory

MEM="$RS_ITEST/mem_check"
RD="$RS_WL/random-dag"
rs_need_bin "$MEM"
rs_need_bin "$RD"
CHECK_TIMEOUT=$(rs_scale 60 300)
TASKS=$(rs_scale 20000 2500)

if rs_daemon_start "$(rs_config_gen 2 dedicated 'idle: { spin_us = 5; };')"; then
	for chk in scratch_oversized scratch_dynamic heap_blocked; do
		log="$RS_TMP/$chk.log"
		rs_run_logged "$log" "$CHECK_TIMEOUT" "$MEM" --socket "$RS_SOCK" "$chk"
		rc=$?
		case $rc in
		0) rs_pass "$chk" ;;
		77) rs_skip "$chk" "$(tail -n 1 "$log")" ;;
		124 | 137) rs_fail "$chk" "timed out after ${CHECK_TIMEOUT}s (a hang)" ;;
		*) rs_fail "$chk" "exit $rc: $(grep -m1 'check failed' "$log" || tail -n 1 "$log")" ;;
		esac
	done
	rs_check_stop daemon_clean_exit_checks
else
	rs_fail daemon_start "daemon did not start"
fi

# Tiny windows: every dimension of back-pressure at once.
tiny='session: { task_window = 16; ring_entries = 8; heap_bytes = 16384; heap_depths = 2; };'
for cfg in "2 dedicated" "1 shared"; do
	read -r sched wiring <<<"$cfg"
	name="tiny_windows_random_dag_s${sched}_${wiring}"
	if ! rs_daemon_start "$(rs_config_gen "$sched" "$wiring" 'idle: { spin_us = 5; };' "$tiny")"; then
		rs_fail "$name" "daemon did not start with the tiny-window config"
		continue
	fi
	log="$RS_TMP/$name.log"
	t0=$(rs_now_ms)
	rs_run_logged "$log" "$(rs_scale 240 900)" "$RD" --socket "$RS_SOCK" --tasks "$TASKS" --clients 2 --seed 7 --verify
	rc=$?
	ms=$(($(rs_now_ms) - t0))
	if [ $rc -eq 0 ] && grep -q "all results match the oracle" "$log"; then
		rs_log "$name: 2 x $TASKS tasks verified in ${ms} ms"
		rs_pass "$name"
	elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		rs_fail "$name" "timed out (a hang under back-pressure)"
	else
		rs_fail "$name" "exit $rc: $(grep -m1 'FAILED\|differ\|failed' "$log")"
	fi
	rs_check_stop "daemon_clean_exit_$name"
done
rs_finish
