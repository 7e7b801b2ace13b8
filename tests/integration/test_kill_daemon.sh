#!/usr/bin/env bash
# test_kill_daemon.sh — a client blocked in a wait on 10 s of work while the daemon is SIGKILLed gets
# -RS_EDAEMON within a second, measured in the client with CLOCK_MONOTONIC from the kill; rs_submit,
# rs_wait_all and rs_wait on the dead session then fail promptly (DESIGN §8).
#
# daemon_death sends the SIGKILL itself from a second thread (it knows the exact kill time); the work is
# one 10 s rendezvous probe (rs_wait) or a chain of ten 1 s spins (rs_wait_all), since `spin` is capped at
# 1 s per task. One fresh daemon per variant, loading the test probes plugin (rendezvous:
# tests/plugins/probes.c) through its config.
source "$(dirname "$0")/lib.sh"
rs_init kill_daemon

DD="$RS_ITEST/daemon_death"
rs_need_bin "$DD"
rs_need_file "$RS_PROBES_SO"

for variant in "task rendezvous" "all spin" "task spin"; do
	read -r wait work <<<"$variant"
	name="wait_${wait}_on_${work}_returns_edaemon"
	if ! rs_daemon_start "$(rs_config_gen 2 dedicated 'idle: { spin_us = 5; };' "$(rs_probes_conf)")"; then
		rs_fail "$name" "daemon did not start"
		continue
	fi
	pid=$RS_DPID
	disown "$pid" # it dies by SIGKILL on purpose: no "Killed" job report from bash
	log="$RS_TMP/$name.log"
	rs_run_logged "$log" 60 "$DD" --daemon-pid "$pid" --socket "$RS_SOCK" --wait "$wait" --work "$work"
	rc=$?
	if ! rs_wait_until 5 rs_exited "$pid"; then
		rs_fail "$name" "the daemon did not die"
		kill -KILL "$pid" 2>/dev/null
	fi
	RS_DPID=""
	case $rc in
	0) rs_pass "$name" ;;
	124 | 137 | 142) rs_fail "$name" "the client hung (exit $rc)" ;;
	*) rs_fail "$name" "exit $rc: $(grep -m1 'FAIL' "$log" || tail -n 1 "$log")" ;;
	esac
done
rs_finish
