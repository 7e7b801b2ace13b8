# lib.sh — shared helpers for the integration test scripts (sourced, not run).
#
# Each test script is run as `bash test_x.sh BUILD_DIR`. It sources this file, calls rs_init NAME, and then
# drives a real ringschedd through the real socket: rs_daemon_start writes a generated libconfig file into a
# private mktemp directory, starts the daemon on a private socket there and waits (bounded) until
# `ringsched status` answers; rs_daemon_stop sends SIGTERM and checks that the daemon exits 0 within a bound.
#
# Results are printed one per line: `PASS <name>`, `FAIL <name>: reason`, `SKIP <name>: reason`; rs_finish
# exits 1 if anything failed, 77 if everything was skipped, else 0. Every wait is bounded. The EXIT trap
# kills whatever the script started (daemons and background clients, by pid) and removes the directory, so
# an aborted script never leaves a daemon running. Set RS_KEEP_TMP=1 to keep the directory for debugging.
#
# Sanitizer builds (RS_SANITIZER non-empty) are slower: scripts pick smaller sizes with rs_scale.

set -u

RS_BUILD=${1:-}
if [ -z "$RS_BUILD" ] || [ ! -d "$RS_BUILD" ]; then
	echo "usage: bash $0 BUILD_DIR" >&2
	exit 2
fi
RS_BUILD=$(cd "$RS_BUILD" && pwd)
RS_DAEMON_BIN="$RS_BUILD/ringschedd"
RS_CLI_BIN="$RS_BUILD/ringsched"
RS_ITEST="$RS_BUILD/tests/integration"
RS_WL="$RS_BUILD/workloads"
# The test probes (kernels fail and rendezvous), a plugin built from tests/plugins/probes.c: not built into
# the daemon, so a test that submits them loads it through its config (rs_probes_conf).
RS_PROBES_SO="$RS_BUILD/tests/plugins/probes.so"
RS_SANITIZER=${RS_SANITIZER:-}

# Bounds (seconds) on the waits every script shares.
RS_START_TIMEOUT=${RS_START_TIMEOUT:-15}   # daemon start until `status` answers
RS_STOP_TIMEOUT=${RS_STOP_TIMEOUT:-20}     # SIGTERM until exit (drain + sanitizer reports)
RS_CLI_TIMEOUT=${RS_CLI_TIMEOUT:-10}       # one `ringsched status`

RS_NAME=""
RS_TMP=""
RS_NPASS=0
RS_NFAIL=0
RS_NSKIP=0
RS_DPID=""
RS_SOCK=""
RS_DLOG=""
RS_DSTATUS=""
RS_BG_PIDS=()
RS_DAEMON_SEQ=0

rs_log() { echo "# $*"; }

rs_pass() { echo "PASS $1"; RS_NPASS=$((RS_NPASS + 1)); }
rs_fail() {
	local name=$1
	shift
	echo "FAIL $name: $*"
	RS_NFAIL=$((RS_NFAIL + 1))
}
rs_skip() {
	local name=$1
	shift
	echo "SKIP $name: $*"
	RS_NSKIP=$((RS_NSKIP + 1))
}

# rs_check NAME REASON CMD...: PASS NAME if CMD succeeds, else FAIL NAME: REASON.
rs_check() {
	local name=$1 reason=$2
	shift 2
	if "$@"; then
		rs_pass "$name"
	else
		rs_fail "$name" "$reason"
	fi
}

# rs_scale NORMAL SANITIZED: the size to use in this build.
rs_scale() {
	if [ -n "$RS_SANITIZER" ]; then echo "$2"; else echo "$1"; fi
}

rs_now_ms() { date +%s%3N; }

# rs_wait_until TIMEOUT_S CMD...: poll CMD every 50 ms until it succeeds; 1 on timeout.
rs_wait_until() {
	local timeout=$1
	shift
	local deadline=$(($(rs_now_ms) + timeout * 1000))
	while ! "$@" >/dev/null 2>&1; do
		if [ "$(rs_now_ms)" -ge "$deadline" ]; then
			return 1
		fi
		sleep 0.05
	done
	return 0
}

rs_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# Kill (SIGKILL) and reap one background process we started, if it is still there.
rs_kill_pid() {
	local pid=$1
	if rs_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

rs_cleanup() {
	local rc=$?
	local pid live
	# only pids still in the job table: a reaped child's pid may already belong to someone else
	live=" $(jobs -p | tr '\n' ' ') "
	for pid in "${RS_BG_PIDS[@]}"; do
		if [[ "$live" == *" $pid "* ]] && rs_alive "$pid"; then
			kill -KILL "$pid" 2>/dev/null
		fi
	done
	if [ -n "$RS_DPID" ] && rs_alive "$RS_DPID"; then
		echo "# cleanup: killing daemon $RS_DPID"
		kill -KILL "$RS_DPID" 2>/dev/null
		wait "$RS_DPID" 2>/dev/null
	fi
	if [ -n "$RS_TMP" ] && [ -d "$RS_TMP" ]; then
		if [ -n "${RS_KEEP_TMP:-}" ]; then
			echo "# kept $RS_TMP"
		else
			rm -rf "$RS_TMP"
		fi
	fi
	exit $rc
}

rs_init() {
	RS_NAME=$1
	RS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rs-$RS_NAME.XXXXXX") || {
		echo "FAIL $RS_NAME: mktemp failed"
		exit 1
	}
	trap rs_cleanup EXIT
	trap 'exit 130' INT TERM
	local f
	for f in "$RS_DAEMON_BIN" "$RS_CLI_BIN"; do
		if [ ! -x "$f" ]; then
			echo "FAIL $RS_NAME: $f is missing (build first)"
			exit 1
		fi
	done
	rs_log "$RS_NAME: build $RS_BUILD${RS_SANITIZER:+ (sanitizer: $RS_SANITIZER)}, tmp $RS_TMP"
}

# rs_need_bin PATH: fail the script early when a helper program is missing.
rs_need_bin() {
	if [ ! -x "$1" ]; then
		rs_fail "$RS_NAME" "$1 is missing (build first)"
		rs_finish
	fi
}

# rs_need_file PATH: the same for a file that is read, not run (a plugin).
rs_need_file() {
	if [ ! -r "$1" ]; then
		rs_fail "$RS_NAME" "$1 is missing (build first)"
		rs_finish
	fi
}

rs_finish() {
	echo "# $RS_NAME: $RS_NPASS passed, $RS_NFAIL failed, $RS_NSKIP skipped"
	if [ "$RS_NFAIL" -gt 0 ]; then
		exit 1
	fi
	if [ "$RS_NPASS" -eq 0 ] && [ "$RS_NSKIP" -gt 0 ]; then
		exit 77
	fi
	exit 0
}

# rs_cli ARGS...: the CLI against the current daemon, bounded.
rs_cli() {
	timeout "$RS_CLI_TIMEOUT" "$RS_CLI_BIN" --socket "$RS_SOCK" "$@"
}

# rs_status_field KEY: the value of `KEY: value` in `ringsched status` (empty if absent or no answer).
rs_status_field() {
	rs_cli status 2>/dev/null | awk -F': *' -v k="$1" '$1 == k { print $2; exit }'
}

rs_sessions_are() { [ "$(rs_status_field sessions)" = "$1" ]; }

# rs_config_gen SCHEDULERS WIRING [EXTRA...]: a config on stdout. EXTRA lines are appended verbatim
# (libconfig groups such as 'session: { task_window = 16; };').
rs_config_gen() {
	local sched=$1 wiring=$2
	shift 2
	echo "# generated by tests/integration/lib.sh for $RS_NAME"
	echo "threads: { schedulers = $sched; wiring = \"$wiring\"; };"
	local line
	for line in "$@"; do
		echo "$line"
	done
}

# rs_probes_conf: the config lines that load the test probes plugin, for rs_config_gen's EXTRA lines. The
# daemon wants an absolute path (RS_BUILD is one) to a file owned by root or itself, writable only by its
# owner: what the build produces. rendezvous' timeout is a duration scalar, bounded by quota.spin_max_ns
# (default 1 s), and the tests wait up to 10 s on it (spin keeps its own 1 s bound).
rs_probes_conf() {
	echo "kernels: { plugins = [ \"$RS_PROBES_SO\" ]; };"
	echo "quota: { spin_max_ns = 10000000000L; };"
}

# rs_daemon_start CONFIG_TEXT [DAEMON_ARGS...]: start a daemon with that config on a private socket and wait
# until it answers `status`. Sets RS_DPID, RS_SOCK, RS_DLOG, RS_DCONF. Returns 1 (with the log) on failure.
rs_daemon_start() {
	local conf_text=$1
	shift
	if [ -n "$RS_DPID" ] && rs_alive "$RS_DPID"; then
		echo "# rs_daemon_start: a daemon ($RS_DPID) is already running" >&2
		return 1
	fi
	RS_DAEMON_SEQ=$((RS_DAEMON_SEQ + 1))
	local dir="$RS_TMP/d$RS_DAEMON_SEQ"
	mkdir -p "$dir"
	RS_DCONF="$dir/ringschedd.conf"
	RS_SOCK="$dir/sock"
	RS_DLOG="$dir/daemon.log"
	RS_DSTATUS=""
	printf '%s\n' "$conf_text" >"$RS_DCONF"
	export RINGSCHED_SOCKET="$RS_SOCK"
	"$RS_DAEMON_BIN" --socket "$RS_SOCK" --config "$RS_DCONF" "$@" >"$RS_DLOG" 2>&1 &
	RS_DPID=$!
	local deadline=$(($(rs_now_ms) + RS_START_TIMEOUT * 1000))
	while :; do
		if ! rs_alive "$RS_DPID"; then
			wait "$RS_DPID" 2>/dev/null
			echo "# daemon exited during start (status $?); config:" >&2
			sed 's/^/#   /' "$RS_DCONF" >&2
			rs_daemon_log_tail >&2
			RS_DPID=""
			return 1
		fi
		if [ -S "$RS_SOCK" ] && rs_cli status >/dev/null 2>&1; then
			break
		fi
		if [ "$(rs_now_ms)" -ge "$deadline" ]; then
			echo "# daemon did not answer status within ${RS_START_TIMEOUT}s" >&2
			rs_daemon_log_tail >&2
			return 1
		fi
		sleep 0.05
	done
	rs_log "daemon $RS_DPID up on $RS_SOCK, config: $(grep -v '^#' "$RS_DCONF" | tr '\n' ' ')"
	return 0
}

rs_daemon_log_tail() {
	if [ -n "$RS_DLOG" ] && [ -f "$RS_DLOG" ]; then
		echo "# --- last lines of the daemon log ($RS_DLOG):"
		tail -n 30 "$RS_DLOG" | sed 's/^/#   /'
	fi
}

# rs_daemon_stop: SIGTERM, wait (bounded) and check the exit status is 0. Returns 0 if so; otherwise 1 with
# the reason in RS_DSTATUS (the daemon is SIGKILLed if it did not exit in time).
rs_daemon_stop() {
	local pid=$RS_DPID
	RS_DSTATUS=""
	if [ -z "$pid" ]; then
		RS_DSTATUS="no daemon running"
		return 1
	fi
	if ! rs_alive "$pid"; then
		wait "$pid" 2>/dev/null
		local st=$?
		RS_DPID=""
		RS_DSTATUS="daemon had already exited (status $st) before SIGTERM"
		rs_daemon_log_tail
		return 1
	fi
	kill -TERM "$pid"
	if ! rs_wait_until "$RS_STOP_TIMEOUT" rs_exited "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		RS_DPID=""
		RS_DSTATUS="daemon did not exit within ${RS_STOP_TIMEOUT}s of SIGTERM (killed)"
		rs_daemon_log_tail
		return 1
	fi
	wait "$pid" 2>/dev/null
	local st=$?
	RS_DPID=""
	if [ "$st" -ne 0 ]; then
		RS_DSTATUS="daemon exited with status $st after SIGTERM"
		rs_daemon_log_tail
		return 1
	fi
	# an internal invariant the daemon found broken (its log says "(bug)") fails any test, whatever it checked
	if grep -q '(bug)' "$RS_DLOG" 2>/dev/null; then
		RS_DSTATUS="daemon exited 0 but logged a broken invariant: $(grep -m1 '(bug)' "$RS_DLOG")"
		return 1
	fi
	RS_DSTATUS="daemon exited 0"
	return 0
}

# A child of this shell that has exited is a zombie until reaped: kill -0 still succeeds, so look at the state.
rs_exited() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$st" ] || [ "$st" = "Z" ] || [ "$st" = "X" ]
}

# rs_check_stop NAME: stop the daemon and record PASS/FAIL NAME for a clean exit 0.
rs_check_stop() {
	if rs_daemon_stop; then
		rs_pass "$1"
	else
		rs_fail "$1" "$RS_DSTATUS"
	fi
}

# ---- /proc readings

rs_fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# rs_proc_kb PID FIELD: a "kB" field of /proc/PID/status (RssShmem, RssAnon, VmRSS...).
rs_proc_kb() { awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status" 2>/dev/null; }

# utime + stime of the whole process (all threads), in clock ticks. Field 2 (comm) may hold spaces: cut it.
rs_cpu_ticks() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# after "comm) ": field 3 is state, utime is field 14 and stime field 15 of the full line.
	echo "$s" | awk '{ print $12 + $13 }'
}

rs_threads() { ls "/proc/$1/task" 2>/dev/null | wc -l; }

# rs_bg CMD...: run CMD in the background, remember its pid for the cleanup trap; pid in RS_BG_LAST.
rs_bg() {
	"$@" &
	RS_BG_LAST=$!
	RS_BG_PIDS+=("$RS_BG_LAST")
}

# rs_wait_bg PID TIMEOUT_S: wait for a background process; its exit status, or 124 after SIGKILL on timeout.
rs_wait_bg() {
	local pid=$1 timeout=$2
	if ! rs_wait_until "$timeout" rs_exited "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid" 2>/dev/null
}

# rs_grep_file FILE PATTERN: wait helper (fixed string).
rs_file_has() { [ -f "$1" ] && grep -qF -- "$2" "$1"; }

# rs_run_logged LOG TIMEOUT_S CMD...: run CMD bounded, output into LOG (and indented on stdout).
rs_run_logged() {
	local log=$1 timeout=$2
	shift 2
	timeout -k 5 "$timeout" "$@" >"$log" 2>&1
	local rc=$?
	sed 's/^/#   /' "$log"
	return $rc
}
