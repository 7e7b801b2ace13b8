#!/usr/bin/env bash
# test_idle.sh — an idle daemon uses ~0 % CPU (DESIGN §3, §7 "every hot loop spins for
# idle.spin_us and then sleeps").
#
# For the default thread configuration and for 4 schedulers + a dedicated wiring thread: run a burst of work
# (no-op chains and a random-dag), let the spin phase pass, then measure the daemon's utime+stime over
# WINDOW_S seconds from /proc/PID/stat (clock ticks, `getconf CLK_TCK`): it must be under 1 % of one CPU.
# Measured again while a client is connected but not submitting.
source "$(dirname "$0")/lib.sh"
rs_init idle

LOAD="$RS_ITEST/load_client"
RD="$RS_WL/random-dag"
rs_need_bin "$LOAD"
rs_need_bin "$RD"
TICKS=$(getconf CLK_TCK)
WINDOW_S=2
MAX_PCT=1.0
SETTLE_S=0.5  # well past any idle.spin_us

# cpu_pct NAME: measure the daemon's CPU share over WINDOW_S and record PASS/FAIL NAME.
cpu_pct() {
	local name=$1 t0 t1 pct
	t0=$(rs_cpu_ticks "$RS_DPID")
	sleep "$WINDOW_S"
	t1=$(rs_cpu_ticks "$RS_DPID")
	if [ -z "$t0" ] || [ -z "$t1" ]; then
		rs_fail "$name" "could not read /proc/$RS_DPID/stat"
		return
	fi
	pct=$(awk -v d=$((t1 - t0)) -v hz="$TICKS" -v w="$WINDOW_S" 'BEGIN { printf "%.2f", 100 * d / hz / w }')
	rs_log "$name: $((t1 - t0)) ticks of CPU in ${WINDOW_S}s at $TICKS ticks/s = $pct % (limit $MAX_PCT %)"
	if awk -v p="$pct" -v m="$MAX_PCT" 'BEGIN { exit !(p < m) }'; then
		rs_pass "$name"
	else
		rs_fail "$name" "daemon used $pct % CPU while idle (limit $MAX_PCT %)"
	fi
}

for cfg in "default" "4 dedicated"; do
	if [ "$cfg" = default ]; then
		conf='# default threads and idle.spin_us'
		tag=default
	else
		read -r sched wiring <<<"$cfg"
		conf=$(rs_config_gen "$sched" "$wiring")
		tag="s${sched}_${wiring}"
	fi
	if ! rs_daemon_start "$conf"; then
		rs_fail "daemon_start_$tag" "daemon did not start"
		continue
	fi
	log="$RS_TMP/burst-$tag.log"
	if ! rs_run_logged "$log" "$(rs_scale 120 600)" "$LOAD" --socket "$RS_SOCK" --kernel noop --chains 4 \
		--tasks "$(rs_scale 50000 10000)"; then
		rs_fail "burst_$tag" "the burst's load client failed"
	fi
	if ! rs_run_logged "$log" "$(rs_scale 120 600)" "$RD" --socket "$RS_SOCK" --tasks "$(rs_scale 5000 1000)" \
		--clients 2 --verify; then
		rs_fail "burst_$tag" "the burst's random-dag failed"
	fi
	sleep "$SETTLE_S"
	cpu_pct "idle_after_burst_$tag"

	out="$RS_TMP/idle-client-$tag.out"
	rs_bg "$LOAD" --socket "$RS_SOCK" --idle-ms $(((WINDOW_S + 10) * 1000)) --name idle >"$out" 2>&1
	cpid=$RS_BG_LAST
	if rs_wait_until 10 rs_file_has "$out" "load: connected"; then
		sleep "$SETTLE_S"
		rs_log "sessions while the idle client is connected: $(rs_status_field sessions)"
		sleep "$SETTLE_S"
		cpu_pct "idle_with_connected_client_$tag"
	else
		rs_fail "idle_with_connected_client_$tag" "the idle client did not connect: $(tail -n 1 "$out")"
	fi
	kill -TERM "$cpid" 2>/dev/null # measured: no need to sit out its idle time
	rs_wait_bg "$cpid" 10
	rs_check_stop "daemon_clean_exit_$tag"
done
rs_finish
