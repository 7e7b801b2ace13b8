#!/usr/bin/env bash
# test_session_geometry.sh — an attach's geometry and the descriptors it hands over.
#
#   impossible_geometry_einval  arena_bytes / heap_bytes = UINT64_MAX (whose page round-up used to wrap to a
#                               0-byte arena), an arena beyond any mapping, task_window 5000, ring_entries 3
#                               and heap_depths 99 are each refused with -EINVAL and a reason naming the field
#                               (not ENOMEM), creating nothing; a valid attach on the same connection works;
#   cq_fd_read_only             the CQ descriptor a client gets is O_RDONLY: no writable mapping, no write, no
#                               ftruncate, no read-write reopen through /proc (as uid 65534), still sealed;
#   honest_after                a client of the library runs verified tasks;
#   after all of it             the daemon lives, holds no session, and exits 0 on SIGTERM.
source "$(dirname "$0")/lib.sh"
rs_init session_geometry

CTL="$RS_ITEST/ctl_adversary"
rs_need_bin "$CTL"

if ! rs_daemon_start "$(rs_config_gen 1 shared 'idle: { spin_us = 5; };')"; then
	rs_fail daemon_start "daemon did not start"
	rs_finish
fi
D=$RS_DPID

log="$RS_TMP/geometry.log"
rs_run_logged "$log" 60 "$CTL" --socket "$RS_SOCK" geometry
rc=$?
if [ $rc -eq 0 ] && rs_alive "$D" && grep -q "invalid session geometry: arena_bytes" "$RS_DLOG"; then
	rs_pass impossible_geometry_einval
else
	rs_fail impossible_geometry_einval "exit $rc: $(grep -m1 FAIL "$log")"
fi

if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 711 "$RS_TMP" "$(dirname "$RS_SOCK")" # uid 65534 must reach the socket
	log="$RS_TMP/cq.log"
	rs_run_logged "$log" 60 setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" --socket "$RS_SOCK" cq-readonly
	rc=$?
	rs_check cq_fd_read_only "$(grep -m1 FAIL "$log")" test $rc -eq 0
else
	log="$RS_TMP/cq.log"
	rs_run_logged "$log" 60 "$CTL" --socket "$RS_SOCK" cq-readonly
	rc=$?
	rs_check cq_fd_read_only "$(grep -m1 FAIL "$log")" test $rc -eq 0
fi

log="$RS_TMP/honest.log"
rs_run_logged "$log" 120 "$CTL" --socket "$RS_SOCK" honest --tasks 200 --max-ms 5000
rc=$?
rs_check honest_after "$(tail -n 1 "$log")" test $rc -eq 0

rs_check sessions_reclaimed "sessions: $(rs_status_field sessions)" rs_wait_until 20 rs_sessions_are 0
rs_check_stop daemon_clean_exit
rs_finish
