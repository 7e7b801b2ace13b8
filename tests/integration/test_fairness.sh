#!/usr/bin/env bash
# test_fairness.sh — fairness by kernel time (daemon/scheduler.c): beside a client that keeps the schedulers
# busy with long `spin` kernels, another client's chain waits about one foreign kernel per hop, not a batch
# of them (a scheduler once popped 4 tasks of the spinning session at once: 4 spins per hop).
#
# One scheduler with folded wiring, so the measure does not depend on how many CPUs the machine lends us: a
# hop submitted while a spin runs waits for that spin to end (at most SPIN_MS), then for the wiring round and
# its own no-op. The spinning client queues 8 independent spins at a time (load_client --chains 8), more than
# a batch; the chain pauses GAP_MS between hops so that each one lands while a spin runs. The per-hop wait
# is reported; only a generous bound is asserted (HOP_LIMIT x the spin). With batches of 4 spins a hop waited
# up to 4 spins (uniformly in [0, 4 x SPIN_MS)), so 8 hops all under the limit were a 2 % chance.
#
# A loaded machine stretches everything but the spins (they busy-wait on the clock): the same chain runs
# alone first, and the test is skipped when even that takes a good part of a spin per hop.
source "$(dirname "$0")/lib.sh"
rs_init fairness

LOAD="$RS_ITEST/load_client"
CHAIN="$RS_ITEST/fairness_chain"
rs_need_bin "$LOAD"
rs_need_bin "$CHAIN"

SPIN_MS=200
GAP_MS=70
HOPS=8
HOP_LIMIT=2.5 # x SPIN_MS; before the time-bounded batches a hop took up to 4 x SPIN_MS
SPINS=$((8 * (HOPS * 2 + 4)))

if ! rs_daemon_start "$(rs_config_gen 1 shared 'idle: { spin_us = 5; };')"; then
	rs_fail fairness_daemon_start "daemon did not start"
	rs_finish
fi

# chain_max_us LOG: the worst hop of a chain run, in microseconds (empty if the chain failed).
chain_max_us() { sed -n 's/.*chain: hops=[0-9]* max_us=\([0-9]*\).*/\1/p' "$1"; }

alone_log="$RS_TMP/alone.log"
rs_run_logged "$alone_log" 60 "$CHAIN" --socket "$RS_SOCK" --hops "$HOPS"
alone=$(chain_max_us "$alone_log")
if [ -z "$alone" ]; then
	rs_fail chain_alone_runs "the chain failed without load: $(tail -n 1 "$alone_log")"
	rs_finish
fi
rs_pass chain_alone_runs
if [ "$alone" -gt $((SPIN_MS * 1000 / 4)) ]; then
	rs_skip chain_beside_long_spins_waits_about_one_spin_per_hop \
		"oversubscribed: a hop alone already takes ${alone} us (a quarter spin is $((SPIN_MS * 250)) us)"
	rs_finish
fi

spin_log="$RS_TMP/spins.log"
rs_bg "$LOAD" --socket "$RS_SOCK" --kernel spin --spin-ns $((SPIN_MS * 1000000)) --chains 8 --tasks "$SPINS" \
	>"$spin_log" 2>&1
spinner=$RS_BG_LAST
if ! rs_wait_until 10 rs_file_has "$spin_log" "load: started"; then
	rs_fail chain_beside_long_spins_waits_about_one_spin_per_hop "the spinning client did not start"
	rs_finish
fi
sleep 0.3 # the spins are wired and queued: the first batch of them is running

busy_log="$RS_TMP/busy.log"
rs_run_logged "$busy_log" 120 "$CHAIN" --socket "$RS_SOCK" --hops "$HOPS" --gap-ms "$GAP_MS"
busy=$(chain_max_us "$busy_log")
if ! rs_alive "$spinner"; then
	rs_fail chain_beside_long_spins_waits_about_one_spin_per_hop \
		"the spinning client ended before the chain did: $(tail -n 1 "$spin_log")"
elif [ -z "$busy" ]; then
	rs_fail chain_beside_long_spins_waits_about_one_spin_per_hop "the chain failed: $(tail -n 1 "$busy_log")"
else
	limit=$(awk -v s="$SPIN_MS" -v f="$HOP_LIMIT" 'BEGIN { printf "%d", s * f * 1000 }')
	rs_log "worst hop beside ${SPIN_MS} ms spins: ${busy} us = $(awk -v b="$busy" -v s="$SPIN_MS" \
		'BEGIN { printf "%.2f", b / (s * 1000) }') spins (alone: ${alone} us; limit ${limit} us)"
	if [ "$busy" -lt "$limit" ]; then
		rs_pass chain_beside_long_spins_waits_about_one_spin_per_hop
	else
		rs_fail chain_beside_long_spins_waits_about_one_spin_per_hop \
			"worst hop ${busy} us, limit ${limit} us (${HOP_LIMIT} x ${SPIN_MS} ms)"
	fi
fi
rs_kill_pid "$spinner"
rs_daemon_stop
rs_finish
