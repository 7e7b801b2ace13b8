#!/usr/bin/env bash
# test_kill_client.sh — a client SIGKILLed mid-graph leaks nothing in the daemon
# (DESIGN §6 teardown, §8 "client death reclaims the session").
#
# 20 times: start load_client --kernel mix (scopes with scratch, spin tasks, a long graph), wait until it has
# submitted, kill -9 it after a random delay, then wait (bounded) until `ringsched status` shows no session.
# After each kill the daemon's open fds must equal the baseline taken before the first client and its
# RssShmem must be back to the baseline (each read settles for up to RS_SETTLE_S: `status` itself is a
# connection the daemon closes asynchronously). RssAnon must show no upward trend: the mean of the last 5
# samples may exceed the mean of samples 3-7 by at most RSS_SLACK_KB. Every sample is printed. Finally a
# random-dag run must still verify and the daemon must exit 0. The daemon's log reports each kill as a client
# that hung up without detaching, and random-dag's clean disconnects as detaches (disconnects_logged).
source "$(dirname "$0")/lib.sh"
rs_init kill_client

LOAD="$RS_ITEST/load_client"
RD="$RS_WL/random-dag"
rs_need_bin "$LOAD"
rs_need_bin "$RD"
KILLS=20
RSS_SLACK_KB=2048
RS_SETTLE_S=3
GONE_TIMEOUT=$(rs_scale 10 30)

if ! rs_daemon_start "$(rs_config_gen 2 dedicated 'idle: { spin_us = 5; };')"; then
	rs_fail daemon_start "daemon did not start"
	rs_finish
fi
D=$RS_DPID

fd_is() { [ "$(rs_fd_count "$D")" = "$1" ]; }
shmem_is() { [ "$(rs_proc_kb "$D" RssShmem)" = "$1" ]; }

# Baseline before the first client (after one `status` round trip has settled).
sleep 0.3
base_fd=$(rs_fd_count "$D")
base_shmem=$(rs_proc_kb "$D" RssShmem)
base_anon=$(rs_proc_kb "$D" RssAnon)
rs_log "baseline: fds $base_fd, RssShmem ${base_shmem} kB, RssAnon ${base_anon} kB"

fd_bad=0
shmem_bad=0
gone_bad=0
started_bad=0
anon=()
for i in $(seq 1 $KILLS); do
	out="$RS_TMP/victim$i.out"
	rs_bg "$LOAD" --socket "$RS_SOCK" --kernel mix --chains 4 --tasks 100000000 --spin-ns 200000 --name "victim$i" \
		>"$out" 2>&1
	vpid=$RS_BG_LAST
	if ! rs_wait_until 10 rs_file_has "$out" "load: started"; then
		started_bad=$((started_bad + 1))
		rs_log "kill $i: the client never started: $(tail -n 2 "$out" | tr '\n' ' ')"
	fi
	delay_ms=$((50 + RANDOM % 450))
	sleep "$(awk -v m=$delay_ms 'BEGIN { printf "%.3f", m / 1000 }')"
	sessions_before=$(rs_status_field sessions)
	shmem_running=$(rs_proc_kb "$D" RssShmem)
	kill -KILL "$vpid" 2>/dev/null
	wait "$vpid" 2>/dev/null
	t0=$(rs_now_ms)
	if ! rs_wait_until "$GONE_TIMEOUT" rs_sessions_are 0; then
		gone_bad=$((gone_bad + 1))
		gone="NOT GONE after ${GONE_TIMEOUT}s (sessions: $(rs_status_field sessions))"
	else
		gone="gone after $(($(rs_now_ms) - t0)) ms"
	fi
	rs_wait_until "$RS_SETTLE_S" fd_is "$base_fd"
	fds=$(rs_fd_count "$D")
	rs_wait_until "$RS_SETTLE_S" shmem_is "$base_shmem"
	shmem=$(rs_proc_kb "$D" RssShmem)
	a=$(rs_proc_kb "$D" RssAnon)
	anon+=("$a")
	[ "$fds" = "$base_fd" ] || fd_bad=$((fd_bad + 1))
	[ "$shmem" = "$base_shmem" ] || shmem_bad=$((shmem_bad + 1))
	rs_log "kill $i: after ${delay_ms} ms (sessions ${sessions_before:-?}, RssShmem $shmem_running kB), session $gone;" \
		"fds $fds (baseline $base_fd), RssShmem $shmem kB (baseline $base_shmem), RssAnon $a kB"
	if ! rs_alive "$D"; then
		rs_fail daemon_alive "the daemon died after kill $i"
		rs_daemon_log_tail
		rs_finish
	fi
done

rs_check victims_started "$started_bad clients never started submitting" [ $started_bad -eq 0 ]
rs_check sessions_reclaimed "$gone_bad of $KILLS sessions were not reclaimed" [ $gone_bad -eq 0 ]
rs_check fds_back_to_baseline "$fd_bad of $KILLS samples differ from the baseline $base_fd (fd leak)" [ $fd_bad -eq 0 ]
rs_check rss_shmem_back_to_baseline \
	"$shmem_bad of $KILLS samples differ from the baseline ${base_shmem} kB (mapping leak)" [ $shmem_bad -eq 0 ]

rs_log "RssAnon samples (kB): ${anon[*]}"
trend=$(printf '%s\n' "${anon[@]}" | awk -v slack=$RSS_SLACK_KB '
	{ v[NR] = $1 }
	END {
		for (i = 3; i <= 7; i++) early += v[i]; early /= 5
		for (i = NR - 4; i <= NR; i++) late += v[i]; late /= 5
		printf "%.0f %.0f %d\n", early, late, (late - early > slack) }')
read -r early late up <<<"$trend"
rs_log "RssAnon: mean of samples 3-7 = $early kB, mean of the last 5 = $late kB (slack $RSS_SLACK_KB kB)"
if [ -n "$RS_SANITIZER" ]; then
	rs_skip rss_anon_no_upward_trend "sanitizer build: the allocator's quarantine holds freed memory by design"
elif [ "$up" = 0 ]; then
	rs_pass rss_anon_no_upward_trend
else
	rs_fail rss_anon_no_upward_trend "RssAnon grew from $early kB to $late kB (> $RSS_SLACK_KB kB)"
fi

log="$RS_TMP/after.log"
if rs_run_logged "$log" "$(rs_scale 120 600)" "$RD" --socket "$RS_SOCK" --tasks "$(rs_scale 20000 2500)" --clients 2 \
	--seed 11 --verify && grep -q "all results match the oracle" "$log"; then
	rs_pass daemon_serves_after_kills
else
	rs_fail daemon_serves_after_kills "random-dag after the kills: $(grep -m1 'FAILED\|differ\|failed\|cannot' "$log")"
fi
# the log tells the killed clients from the ones that disconnected: every kill is a hang-up without a detach,
# and random-dag's two clients (rs_disconnect) detached
crashed=$(grep -c "): client hung up without detaching (exited or was killed)" "$RS_DLOG")
detached=$(grep -c "): detached$" "$RS_DLOG")
if [ "$crashed" -eq "$KILLS" ] && [ "$detached" -ge 2 ]; then
	rs_pass disconnects_logged
else
	rs_fail disconnects_logged "$crashed hang-ups logged for $KILLS kills, $detached clean detaches (want >= 2)"
fi
rs_check_stop daemon_clean_exit
rs_finish
