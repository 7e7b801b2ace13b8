#!/usr/bin/env bash
# test_operations.sh — the daemon's operational surface (DESIGN §8) and the no-lock fast path.
#
#   flags                  --version, --help, unknown flag -> exit 2
#   check_config           the shipped conf/ringschedd.conf validates; a broken file is refused with FILE:LINE
#   check_config_*         --check-config prints every key of conf/ringschedd.conf with its value, says what
#                          each automatic value resolves to and which socket (and where from); a plugin that
#                          loads is listed with its kernels, a missing or malformed one fails it (exit 1), as
#                          does a socket directory that cannot exist; --config with --no-config is a usage error
#   status_and_kernels     `ringsched status` and `ringsched kernels` answer with the documented fields
#   sighup_reload          SIGHUP applies a hot key (log level) and names a key that needs a restart
#   sighup_bad_file        SIGHUP with a broken file keeps the running configuration and the daemon serves
#   plugin_loaded          a kernel plugin listed in kernels.plugins is offered and runs (example.relu); its
#                          load is logged with its path, kernel count and names (plugin_load_logged)
#   plugin_refused         a malformed plugin stops the daemon at start with a message naming the file
#   second_daemon_refused  a second daemon on a live socket refuses to start
#   sigterm_drains         SIGTERM while tasks run: the daemon finishes them, then exits 0
#   protocol_hostile       another ABI major is refused with a message; garbage and truncated control
#                          messages close the connection; the daemon keeps serving
#   quota_per_uid          with quota.max_sessions_per_uid = 2, a third session of the same uid is refused
#                          with a message naming the quota
#   connection_flood       connections that never attach are capped (quota.max_connections, by default
#                          quota.max_sessions + 64) and the daemon keeps serving
#   no_lock_on_fast_path   the objects of submit -> wire -> run -> complete reference no mutex/condvar/sem
#   install_tree           make install DESTDIR=... installs daemon, CLI, library, header, .pc, unit, config
source "$(dirname "$0")/lib.sh"
rs_init operations
SRC=$(cd "$(dirname "$0")/../.." && pwd)
D="$RS_DAEMON_BIN"

# ---- flags
out=$("$D" --version 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "ringschedd 0.1.0" <<<"$out"; then rs_pass flags_version; else rs_fail flags_version "rc $rc: $out"; fi
"$D" --help | grep -q -- "--check-config" && rs_pass flags_help || rs_fail flags_help "no --check-config in --help"
"$D" --no-such-flag >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && rs_pass flags_unknown || rs_fail flags_unknown "exit $rc, want 2"

# ---- config checking
out=$("$D" --check-config --config "$SRC/conf/ringschedd.conf" 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "is valid" <<<"$out"; then rs_pass check_config_shipped; else rs_fail check_config_shipped "rc $rc: $out"; fi
printf 'threads: {\n  schedulers = 2;\n  schedulrs = 3;\n};\n' >"$RS_TMP/bad.conf"
out=$("$D" --check-config --config "$RS_TMP/bad.conf" 2>&1); rc=$?
rs_log "broken config: $out"
if [ $rc -ne 0 ] && grep -q "bad.conf:3:" <<<"$out" && grep -q "schedulrs" <<<"$out"; then
	rs_pass check_config_reports_file_and_line
else
	rs_fail check_config_reports_file_and_line "rc $rc: $out"
fi

# ---- --check-config checks what a start checks and shows every key, automatic values resolved
# (the socket directory must be usable by the service user, which may exist on this machine)
chmod 711 "$RS_TMP"
mkdir -m 1777 "$RS_TMP/open"
keys=$(awk '/^[a-z_]+ = \{/ { g = $1 } /^  [a-z_]+ = / && g { print g "." $1 }' "$SRC/conf/ringschedd.conf")
out=$("$D" --check-config --config "$SRC/conf/ringschedd.conf" --socket "$RS_TMP/open/cc.sock" 2>&1)
missing=""
for k in $keys; do grep -q "^  $k = " <<<"$out" || missing="$missing $k"; done
if [ "$(wc -w <<<"$keys")" -gt 30 ] && [ -z "$missing" ]; then
	rs_pass check_config_every_key
else
	rs_fail check_config_every_key "keys of conf/ringschedd.conf not printed:${missing:- (only $(wc -w <<<"$keys") keys found in the file)}"
fi
if grep -qE "^  threads.schedulers = 0;  # auto: [0-9]+ scheduler threads \([0-9]+ usable CPUs" <<<"$out" &&
	grep -qE "^  threads.wiring = \"auto\";  # auto: (shared|dedicated)" <<<"$out" &&
	grep -qE "^  quota.max_connections = 0;  # auto: [0-9]+" <<<"$out" &&
	grep -q "^socket: $RS_TMP/open/cc.sock (from --socket" <<<"$out"; then
	rs_pass check_config_auto_resolved
else
	rs_fail check_config_auto_resolved "$(grep -E '^socket|schedulers|wiring =|max_connections =' <<<"$out")"
fi
printf 'kernels: { plugins = [ "%s/plugins/example.so" ]; };\n' "$RS_BUILD" >"$RS_TMP/plugin.conf"
out=$("$D" --check-config --config "$RS_TMP/plugin.conf" --socket "$RS_TMP/open/cc.sock" 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -qE "^plugin $RS_BUILD/plugins/example.so: loads, [1-9][0-9]* kernels?: .*example.relu" <<<"$out"; then
	rs_pass check_config_plugin_loads
else
	rs_fail check_config_plugin_loads "rc $rc: $(grep -i plugin <<<"$out")"
fi
printf 'kernels: { plugins = [ "%s/plugins/no-such-plugin.so" ]; };\n' "$RS_BUILD" >"$RS_TMP/noplugin.conf"
out=$("$D" --check-config --config "$RS_TMP/noplugin.conf" --socket "$RS_TMP/open/cc.sock" 2>&1); rc=$?
printf 'kernels: { plugins = [ "%s/tests/plugins/bad_abi.so" ]; };\n' "$RS_BUILD" >"$RS_TMP/abiplugin.conf"
out2=$("$D" --check-config --config "$RS_TMP/abiplugin.conf" --socket "$RS_TMP/open/cc.sock" 2>&1); rc2=$?
if [ $rc -eq 1 ] && grep -q "plugin $RS_BUILD/plugins/no-such-plugin.so: stat failed: No such file" <<<"$out" &&
	! grep -q "is valid" <<<"$out" && [ $rc2 -eq 1 ] && grep -q "bad_abi.so: built for kernel ABI" <<<"$out2"; then
	rs_pass check_config_plugin_refused
else
	rs_fail check_config_plugin_refused "missing plugin: rc $rc: $(grep -i plugin <<<"$out"); bad ABI: rc $rc2: $(grep -i plugin <<<"$out2")"
fi
out=$("$D" --check-config --no-config --socket "$RS_TMP/no/such/dir/s.sock" 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q "does not exist, nor does its parent" <<<"$out"; then
	rs_pass check_config_socket_dir
else
	rs_fail check_config_socket_dir "rc $rc: $(grep -i socket <<<"$out")"
fi
"$D" --config "$RS_TMP/plugin.conf" --no-config >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && rs_pass flags_config_and_no_config || rs_fail flags_config_and_no_config "exit $rc, want 2"

# ---- a running daemon with a config file we can edit for SIGHUP
conf="$RS_TMP/live.conf"
printf 'daemon: { log_level = "info"; };\nthreads: { schedulers = 2; wiring = "dedicated"; };\nidle: { spin_us = 5; };\nkernels: { plugins = [ "%s/plugins/example.so" ]; };\n' "$RS_BUILD" >"$conf"
if ! rs_daemon_start "$(cat "$conf")"; then rs_fail daemon_start "see log"; rs_finish; fi
status=$(rs_cli status)
rs_log "status: $(tr '\n' ';' <<<"$status")"
ok=1
for f in version schedulers wiring sessions tasks_completed; do grep -q "^$f: " <<<"$status" || ok=0; done
kernels=$(rs_cli kernels)
for k in noop spin fill copy add scale axpy gemm qk_matmul online_update; do grep -q "^$k " <<<"$kernels" || ok=0; done
[ $ok -eq 1 ] && rs_pass status_and_kernels || rs_fail status_and_kernels "missing fields or kernels"
if grep -qE "info: plugin $RS_BUILD/plugins/example.so loaded: [1-9][0-9]* kernels? \(.*example.relu" "$RS_DLOG"; then
	rs_pass plugin_load_logged
else
	rs_fail plugin_load_logged "$(grep -m1 plugin "$RS_DLOG")"
fi
if grep -q "^example.relu " <<<"$kernels"; then
	out=$(timeout 30 "$RS_ITEST/plugin_check" --socket "$RS_SOCK" 2>&1); rc=$?
	if [ $rc -eq 0 ]; then rs_pass plugin_loaded; else rs_log "$out"; rs_fail plugin_loaded "relu run: rc $rc"; fi
else
	rs_fail plugin_loaded "example.relu not offered"
fi

# SIGHUP: hot key applied, restart key named
sed -i 's/log_level = "info"/log_level = "debug"/; s/schedulers = 2/schedulers = 3/' "$RS_DCONF"
kill -HUP "$RS_DPID"
if rs_wait_until 10 grep -q "SIGHUP: reloaded" "$RS_DLOG" && grep "SIGHUP: reloaded" "$RS_DLOG" | grep -q "log level debug" &&
	grep "SIGHUP: reloaded" "$RS_DLOG" | grep -q "threads.schedulers"; then
	rs_pass sighup_reload
else
	rs_fail sighup_reload "$(grep SIGHUP "$RS_DLOG")"
fi
echo 'daemon: { log_level = ' >"$RS_DCONF"
kill -HUP "$RS_DPID"
if rs_wait_until 10 grep -q "keeping the running configuration" "$RS_DLOG" && rs_cli status >/dev/null; then
	rs_pass sighup_bad_file
else
	rs_fail sighup_bad_file "$(grep SIGHUP "$RS_DLOG" | tail -2)"
fi

# a second daemon on the same live socket must not displace the first
out=$(timeout 10 "$D" --no-config --socket "$RS_SOCK" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "already listening" <<<"$out" && rs_cli status >/dev/null; then
	rs_pass second_daemon_refused
else
	rs_fail second_daemon_refused "rc $rc: $out"
fi

# hostile control messages
out=$(timeout 30 "$RS_ITEST/proto_check" --socket "$RS_SOCK" 2>&1); rc=$?
rs_log "$out"
if [ $rc -eq 0 ] && rs_cli status >/dev/null; then rs_pass protocol_hostile; else rs_fail protocol_hostile "rc $rc"; fi

# a flood of connections that never attach: capped, and the daemon still serves
out=$(timeout 30 "$RS_ITEST/conn_flood" --socket "$RS_SOCK" --count 400 --hold-ms 1500 2>&1)
rs_log "$out"
held=$(sed -nE 's/.* ([0-9]+) still held open.*/\1/p' <<<"$out")
if [ -n "$held" ] && [ "$held" -le $((256 + 64)) ] && grep -q "refusing a connection" "$RS_DLOG" && rs_cli status >/dev/null; then
	rs_pass connection_flood
else
	rs_fail connection_flood "held ${held:-?} (cap 320); $(grep -c 'refusing a connection' "$RS_DLOG") refusals logged"
fi

# SIGTERM while tasks run: drained, then a clean exit
rs_bg timeout 60 "$RS_ITEST/load_client" --socket "$RS_SOCK" --kernel spin --spin-ns 2000000 --chains 2 --tasks 1000
lpid=$RS_BG_LAST
rs_wait_until 10 bash -c "$(declare -f rs_cli rs_status_field); RS_CLI_TIMEOUT=$RS_CLI_TIMEOUT RS_CLI_BIN=$RS_CLI_BIN RS_SOCK=$RS_SOCK; [ \"\$(rs_status_field sessions)\" = 1 ]"
if rs_daemon_stop; then
	if grep -q "draining in-flight work" "$RS_DLOG"; then rs_pass sigterm_drains; else rs_fail sigterm_drains "no drain logged"; fi
else
	rs_fail sigterm_drains "daemon did not exit cleanly"
fi
rs_kill_pid "$lpid"

# per-uid session quota (a daemon of its own)
if rs_daemon_start "$(rs_config_gen 1 shared 'quota: { max_sessions_per_uid = 2; };')"; then
	out=$(timeout 30 "$RS_ITEST/proto_check" --socket "$RS_SOCK" --quota 2 2>&1); rc=$?
	rs_log "$out"
	if [ $rc -eq 0 ]; then rs_pass quota_per_uid; else rs_fail quota_per_uid "rc $rc"; fi
	rs_daemon_stop || rs_fail quota_daemon_clean_exit "daemon did not exit cleanly"
else
	rs_fail quota_per_uid "daemon did not start"
fi

# a malformed plugin refuses the start, naming the file
printf 'kernels: { plugins = [ "%s/tests/plugins/bad_abi.so" ]; };\n' "$RS_BUILD" >"$RS_TMP/badplugin.conf"
out=$(timeout 10 "$D" --socket "$RS_TMP/bp.sock" --config "$RS_TMP/badplugin.conf" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "bad_abi.so" <<<"$out"; then rs_pass plugin_refused; else rs_fail plugin_refused "rc $rc: $out"; fi

# ---- no lock on the fast path: the objects that submit, wire, run and complete reference none
objs=""
for o in daemon/wiring daemon/sched daemon/complete daemon/validate client/connect client/submit client/harvest \
	client/wait client/alloc client/args client/error client/deps client/overlap client/mem; do
	objs="$objs $RS_BUILD/obj/$o.o"
done
locks=$(nm -u $objs 2>/dev/null | grep -E "pthread_(mutex|cond|rwlock|spin)_|sem_(wait|post)|flock" | sort -u)
if [ -z "$locks" ]; then rs_pass no_lock_on_fast_path; else rs_fail no_lock_on_fast_path "references: $locks"; fi

# ---- install tree
dest="$RS_TMP/root"
if make -s -C "$SRC" BUILD="$RS_BUILD" install PREFIX=/usr/local DESTDIR="$dest" >"$RS_TMP/install.log" 2>&1; then
	missing=""
	for f in usr/local/sbin/ringschedd usr/local/bin/ringsched usr/local/lib/libringsched.so.0 usr/local/lib/libringsched.a \
		usr/local/include/ringsched/ringsched.h usr/local/lib/pkgconfig/ringsched.pc usr/local/lib/systemd/system/ringschedd.service \
		etc/ringsched/ringschedd.conf; do
		[ -e "$dest/$f" ] || missing="$missing $f"
	done
	if [ -z "$missing" ] && grep -q "ExecStart=/usr/local/sbin/ringschedd" "$dest/usr/local/lib/systemd/system/ringschedd.service"; then
		rs_pass install_tree
	else
		rs_fail install_tree "missing:$missing"
	fi
else
	rs_fail install_tree "$(tail -5 "$RS_TMP/install.log")"
fi
rs_finish
