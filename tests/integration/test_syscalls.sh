#!/usr/bin/env bash
# test_syscalls.sh — the task fast path makes no system calls (DESIGN §1, §7): a busy
# run of 200 000 tasks (one client) while `strace -c -f` counts the daemon's system calls; total calls /
# tasks must be < 0.01. The default configuration runs no-op tasks in 4 independent chains (the client is
# the bottleneck: the daemon idles between its submissions and must still not make a call per task). The
# 2-scheduler configuration with a dedicated wiring thread runs 8 chains of 5 us spin tasks, so that its
# schedulers are busy: with no-op tasks it would measure how often the OS deschedules the client, not the
# fast path.
#
# strace attaches to every daemon thread before the client starts (checked through TracerPid of each
# /proc/PID/task entry) and detaches on SIGINT once the client has finished. If ptrace is not permitted the
# test is skipped with strace's reason, not failed. Run against the default thread configuration (what the
# service runs with on this machine) and against 2 schedulers with a dedicated wiring thread.
#
# Where the ratio is not a property of the daemon, the run and the count still happen (the daemon must
# still exit cleanly) but the ratio is reported as SKIP with the measurement and the reason:
#   - sanitizer builds: the runtime makes system calls of its own (TSan's background thread) and slows
#     every path several times;
#   - a configuration whose compute threads (schedulers, plus the dedicated wiring thread) and the client
#     are more than the CPUs (nproc): every hand-off may then be a context switch and a futex call, so the
#     count says how loaded the machine is (2 schedulers + wiring + client on 2 CPUs: 0.017-0.025 per task,
#     failing 3 runs in 4 under load). Decided from the configuration, before the run. The default layout
#     is always checked: the daemon sizes it to the machine, and its idle schedulers sleep rather than spin
#     (one is woken only for work that outlasts a wake-up), so with 2 schedulers on 2 CPUs and the client it
#     stays near 0.001 per task even on a loaded machine.
source "$(dirname "$0")/lib.sh"
rs_init syscalls

LOAD="$RS_ITEST/load_client"
rs_need_bin "$LOAD"
TASKS=$(rs_scale 200000 40000)
MAX_RATIO=0.01
CPUS=$(nproc)

if ! command -v strace >/dev/null 2>&1; then
	rs_skip syscalls_per_task "strace is not installed"
	rs_finish
fi

all_traced() {
	local t tp
	for t in /proc/"$1"/task/*; do
		tp=$(awk '$1 == "TracerPid:" { print $2 }' "$t/status" 2>/dev/null)
		[ -n "$tp" ] && [ "$tp" != 0 ] || return 1
	done
	return 0
}

for cfg in "default" "2 dedicated"; do
	oversubscribed=""
	if [ "$cfg" = default ]; then
		conf='# default threads'
		tag=default_threads
	else
		read -r sched wiring <<<"$cfg"
		conf=$(rs_config_gen "$sched" "$wiring")
		tag="s${sched}_${wiring}"
		# compute threads: the schedulers, and the wiring thread when it is dedicated (folded wiring
		# runs on a scheduler); the daemon's main thread sleeps in its event loop
		compute=$sched
		what="$sched schedulers"
		if [ "$wiring" = dedicated ]; then
			compute=$((sched + 1))
			what="$what + the wiring thread"
		fi
		if [ $((compute + 1)) -gt "$CPUS" ]; then
			oversubscribed="$what + 1 client = $((compute + 1)) threads on $CPUS CPUs oversubscribe"
			rs_log "$tag: $oversubscribed; the ratio is measured but not judged"
		fi
	fi
	name="syscalls_per_task_$tag"
	if ! rs_daemon_start "$conf"; then
		rs_fail "$name" "daemon did not start"
		continue
	fi
	D=$RS_DPID
	trace="$RS_TMP/strace-$tag.txt"
	serr="$RS_TMP/strace-$tag.err"
	rs_bg strace -c -f -p "$D" -o "$trace" 2>"$serr"
	spid=$RS_BG_LAST
	if ! rs_wait_until 10 all_traced "$D"; then
		if ! rs_alive "$spid" || rs_exited "$spid"; then
			wait "$spid" 2>/dev/null
			rs_skip "$name" "strace cannot attach: $(head -n 2 "$serr" | tr '\n' ' ')"
		else
			rs_fail "$name" "strace did not attach to every thread within 10 s"
			kill -INT "$spid"
			rs_wait_bg "$spid" 10
		fi
		rs_check_stop "daemon_clean_exit_$tag"
		continue
	fi
	rs_log "strace $spid attached to all $(rs_threads "$D") daemon threads"
	log="$RS_TMP/load-$tag.log"
	if [ "$tag" = default_threads ]; then
		load_args=(--kernel noop --chains 4)
	else
		load_args=(--kernel spin --spin-ns 5000 --chains 8)
	fi
	rs_run_logged "$log" "$(rs_scale 120 600)" "$LOAD" --socket "$RS_SOCK" "${load_args[@]}" --tasks "$TASKS"
	lrc=$?
	kill -INT "$spid"
	rs_wait_bg "$spid" 20
	src=$?
	sed 's/^/#   /' "$trace"
	calls=$(awk '$NF == "total" { print $4 }' "$trace")
	if [ $lrc -ne 0 ]; then
		rs_fail "$name" "the load client failed (exit $lrc)"
	elif [ -z "$calls" ]; then
		rs_fail "$name" "no strace summary (strace exit $src): $(head -n 3 "$serr" | tr '\n' ' ')"
	else
		ratio=$(awk -v c="$calls" -v t="$TASKS" 'BEGIN { printf "%.5f", c / t }')
		rs_log "$tag: $calls daemon system calls for $TASKS tasks: $ratio per task (limit $MAX_RATIO)"
		if [ -n "$RS_SANITIZER" ]; then
			rs_skip "$name" "sanitizer build ($RS_SANITIZER): measured $ratio per task, not a property of the normal build"
		elif [ -n "$oversubscribed" ]; then
			rs_skip "$name" "$oversubscribed: measured $ratio per task (limit $MAX_RATIO applies with at least $((compute + 1)) CPUs)"
		elif awk -v r="$ratio" -v m="$MAX_RATIO" 'BEGIN { exit !(r < m) }'; then
			rs_pass "$name"
		else
			rs_fail "$name" "$calls system calls for $TASKS tasks = $ratio per task (limit $MAX_RATIO)"
		fi
	fi
	rs_check_stop "daemon_clean_exit_$tag"
done
rs_finish
