#!/usr/bin/env bash
# test_service_user.sh — the installed service works for every user: the unit's ExecStart, run as systemd
# runs it, serves an unprivileged user who sets nothing (no RINGSCHED_SOCKET), and the socket rules hold.
#
# How the unit is run (systemd/ringschedd.service is only read): ExecStart= and Environment= are parsed from
# it, @PREFIX@ becomes a prefix whose sbin/ringschedd is this build's daemon; the service user (User=, a
# system user without a shell) is created if absent; the RuntimeDirectory= gets a unique path under /run
# (RUNTIME_DIRECTORY, as systemd sets it; /run/ringsched itself may be in use by other runs) with
# RuntimeDirectoryMode=, owned by the service user; the daemon runs with exactly the unit's environment,
# UMask= and LimitNOFILE=, as User=/Group= (setpriv --init-groups, no capabilities, no new privileges), in a
# private mount namespace with its own /tmp (PrivateTmp=), with NOTIFY_SOCKET pointing at a listener of
# this test. The unit's --config names /etc/ringsched/ringschedd.conf, which a test must not depend on: that
# argument is replaced by a test config (access.allow_all = false, access.gids = a test group). ProtectSystem=
# and the other hardening options are not reproduced.
#
#   unit_verifies             `systemd-analyze verify` accepts the unit with @PREFIX@ substituted
#   service_user_socket       run as the service user with RUNTIME_DIRECTORY, the daemon listens in it; the
#                             process runs as the service user, in a mount namespace of its own
#   check_config_as_service   `--check-config` names the socket the service uses, also when run by root
#   supplementary_group_attaches  a test user whose only allowed group is supplementary, with no
#                             RINGSCHED_SOCKET, finds the system socket (/run/ringsched, here a bind mount
#                             of the runtime directory in the client's namespace), runs a verifying
#                             random-dag, and `ringsched status` answers it
#   no_allowed_group_refused  a test user in no allowed group is refused, told why
#   clean_detach_logged       the workload's disconnect is logged as a detach
#   reload_notifies           SIGHUP sends RELOADING=1 with MONOTONIC_USEC, then READY=1
#   stops_cleanly             SIGTERM: exit 0, STOPPING=1
#   per_user_squat_refused    a per-user socket directory another user created (mode 0777) is refused by
#                             the daemon and by a library client, naming the owner; one of the user's own with
#                             group/other bits is refused too
#   per_user_dir_private      without it, a per-user daemon creates its directory 0700, owned by the user,
#                             and the user's client finds it by default
# Needs root, setpriv, useradd and unshare; skips otherwise. Test users and groups are removed on exit; the
# service user, when this test had to create it, stays (as an install would leave it).
source "$(dirname "$0")/lib.sh"
rs_init service_user

SRC=$(cd "$(dirname "$0")/../.." && pwd)
UNIT="$SRC/systemd/ringschedd.service"
RD_BIN="$RS_WL/random-dag"
rs_need_file "$UNIT"
rs_need_bin "$RD_BIN"

for tool in setpriv useradd groupadd userdel groupdel unshare flock mount; do
	if ! command -v "$tool" >/dev/null; then
		rs_skip service_user "$tool is not installed"
		rs_finish
	fi
done
if [ "$(id -u)" -ne 0 ]; then
	rs_skip service_user "needs root (creates users, runs the daemon as the service user)"
	rs_finish
fi

unit_value() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }

# ---- what the unit says
EXEC=$(unit_value ExecStart)
SVC_USER=$(unit_value User)
SVC_GROUP=$(unit_value Group)
RT_MODE=$(unit_value RuntimeDirectoryMode)
UMASK=$(unit_value UMask)
NOFILE=$(unit_value LimitNOFILE)
PRIVATE_TMP=$(unit_value PrivateTmp)
ENV_ASSIGN=()
while read -r line; do
	# Environment=A=1 "B=2 3": each assignment, quotes removed
	eval "ENV_ASSIGN+=($line)"
done < <(sed -n 's/^Environment=//p' "$UNIT")
rs_log "unit: ExecStart=$EXEC User=$SVC_USER Group=$SVC_GROUP RuntimeDirectoryMode=$RT_MODE UMask=$UMASK" \
	"LimitNOFILE=$NOFILE PrivateTmp=$PRIVATE_TMP Environment=${ENV_ASSIGN[*]}"
if [ -z "$EXEC" ] || [ -z "$SVC_USER" ]; then
	rs_fail unit_parsed "the unit has no ExecStart= or User="
	rs_finish
fi

# Everything the daemon reads lives outside /tmp, which PrivateTmp hides from it.
TAG="ringsched-test-$$"
BASE="/run/rs-svc-$$"     # prefix, config, notify socket
RTDIR="/run/$TAG"         # the RuntimeDirectory
CREATED_USERS=()
CREATED_GROUPS=()
MADE_RUN_DIR=""
NOTIFY_PID=""
PEER_PIDS=()

svc_cleanup() {
	local p u g
	for p in "${PEER_PIDS[@]}" "$NOTIFY_PID"; do
		[ -n "$p" ] && rs_alive "$p" && kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	for u in "${CREATED_USERS[@]}"; do
		rm -rf "/tmp/ringsched-$(id -u "$u" 2>/dev/null)"
		userdel "$u" 2>/dev/null
	done
	for g in "${CREATED_GROUPS[@]}"; do groupdel "$g" 2>/dev/null; done
	rm -rf "$BASE" "$RTDIR"
	[ -n "$MADE_RUN_DIR" ] && rmdir /run/ringsched 2>/dev/null
	return 0
}
trap 'rc_=$?; svc_cleanup; (exit $rc_); rs_cleanup' EXIT

# /run/ringsched is the system socket's directory every client looks at: other runs on this machine may use
# it too, so whoever touches it holds this lock (the background processes below do not inherit it).
exec 9>/run/ringsched.test.lock
if ! flock -w 600 9; then
	rs_fail lock "could not take /run/ringsched.test.lock within 600 s"
	rs_finish
fi

# ---- users: the service user (kept), two test users and an allowed group (removed)
if ! getent passwd "$SVC_USER" >/dev/null; then
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$SVC_USER" ||
		getent passwd "$SVC_USER" >/dev/null || { rs_fail service_user "useradd $SVC_USER failed"; rs_finish; }
	rs_log "created the system user $SVC_USER"
fi
ACC_GROUP="rst-acc-$$"
OK_USER="rst-ok-$$"
NO_USER="rst-no-$$"
groupadd "$ACC_GROUP" && CREATED_GROUPS+=("$ACC_GROUP")
useradd --no-create-home --shell /usr/sbin/nologin --user-group -G "$ACC_GROUP" "$OK_USER" && CREATED_USERS+=("$OK_USER") && CREATED_GROUPS+=("$OK_USER")
useradd --no-create-home --shell /usr/sbin/nologin --user-group "$NO_USER" && CREATED_USERS+=("$NO_USER") && CREATED_GROUPS+=("$NO_USER")
if [ ${#CREATED_USERS[@]} -ne 2 ]; then
	rs_fail test_users "could not create the test users and group"
	rs_finish
fi
ACC_GID=$(getent group "$ACC_GROUP" | cut -d: -f3)
SVC_UID=$(id -u "$SVC_USER")
OK_UID=$(id -u "$OK_USER")
rs_log "service user $SVC_USER uid $SVC_UID; $OK_USER (uid $OK_UID, supplementary $ACC_GROUP gid $ACC_GID); $NO_USER"

# as_user USER CMD...: CMD as USER with its groups, a clean environment (nothing of ours: no
# RINGSCHED_SOCKET, no XDG_RUNTIME_DIR), in the host's mount namespace, bounded by AS_TIMEOUT seconds.
AS_TIMEOUT=60
as_user() {
	local u=$1
	shift
	timeout -k 5 "$AS_TIMEOUT" setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups \
		env -i PATH=/usr/bin:/bin HOME=/ ${RS_SANITIZER:+ASAN_OPTIONS=${ASAN_OPTIONS:-} TSAN_OPTIONS=${TSAN_OPTIONS:-}} "$@"
}

# as_client USER CMD...: the same, but /run/ringsched is the test's runtime directory in a mount namespace of
# the client's own: the library finds the system socket by itself, and other runs' /run/ringsched is left alone.
as_client() {
	local u=$1
	shift
	timeout -k 5 "$AS_TIMEOUT" unshare -m --propagation private env RS_RT="$RTDIR" RS_U="$u" RS_G="$(id -g "$u")" \
		bash -c 'mount --bind "$RS_RT" /run/ringsched && exec setpriv --reuid="$RS_U" --regid="$RS_G" --init-groups \
			env -i PATH=/usr/bin:/bin HOME=/ "$@"' client "$@"
}

# ---- the prefix, the unit with it, systemd-analyze verify
mkdir -p "$BASE/prefix/sbin" "$BASE/unit"
chmod 755 "$BASE" "$BASE/prefix" "$BASE/prefix/sbin"
# a copy, not a link: with PrivateTmp the build tree may be out of sight (a checkout under /tmp)
install -m 0755 "$RS_DAEMON_BIN" "$BASE/prefix/sbin/ringschedd"
sed "s|@PREFIX@|$BASE/prefix|g" "$UNIT" >"$BASE/unit/ringschedd.service"
if ! command -v systemd-analyze >/dev/null; then
	rs_skip unit_verifies "systemd-analyze is not installed"
else
	# the unit's Documentation= names man pages, which verify opens: the built ones, in a man tree
	for page in "$RS_BUILD"/man/*.[0-9]; do
		mkdir -p "$BASE/man/man${page##*.}"
		ln -sf "$page" "$BASE/man/man${page##*.}/"
	done
	out=$(MANPATH="$BASE/man" timeout 60 systemd-analyze verify "$BASE/unit/ringschedd.service" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && ! grep -qi "ringschedd.service" <<<"$out"; then
		rs_pass unit_verifies
	elif grep -qiE "failed to (connect|initialize)|not booted|System has not been booted" <<<"$out"; then
		rs_skip unit_verifies "systemd-analyze cannot run here: $(head -n 1 <<<"$out")"
	else
		rs_fail unit_verifies "rc $rc: $out"
	fi
fi

# ---- ExecStart as argv, @PREFIX@ substituted, the /etc config replaced by the test's
# substituted first (@PREFIX@ starts with systemd's "@" prefix character), then the prefixes "-", ":", "+", "!"
EXEC=${EXEC//@PREFIX@/$BASE/prefix}
while [[ "$EXEC" == [-:+!]* ]]; do EXEC=${EXEC:1}; done
read -ra ARGV <<<"$EXEC"
CONF="$BASE/ringschedd.conf"
printf '%s\n' "# test_service_user.sh" 'threads: { schedulers = 2; wiring = "shared"; };' 'idle: { spin_us = 5; };' \
	"access: { allow_all = false; gids = [ $ACC_GID ]; };" >"$CONF"
chmod 644 "$CONF"
for i in "${!ARGV[@]}"; do
	if [ "${ARGV[$i]}" = --config ] && [[ "${ARGV[$((i + 1))]:-}" == /etc/* ]]; then
		rs_log "the unit reads ${ARGV[$((i + 1))]}; the test gives it $CONF instead"
		ARGV[$((i + 1))]=$CONF
	fi
done
rs_log "ExecStart as run: ${ARGV[*]}"

# ---- check-config: the socket the service uses
out=$("${ARGV[@]}" --check-config 2>&1)
rc=$?
rs_log "check-config as root: $(grep '^socket' <<<"$out")"
if [ $rc -eq 0 ] && grep -q "^socket: /run/ringsched/ringsched.sock (the system socket.*as the service user $SVC_USER, uid $SVC_UID)" <<<"$out"; then
	out2=$(RUNTIME_DIRECTORY=$RTDIR "${ARGV[@]}" --check-config 2>&1)
	if grep -q "^socket: $RTDIR/ringsched.sock (in \$RUNTIME_DIRECTORY; as the service user $SVC_USER" <<<"$out2"; then
		rs_pass check_config_as_service
	else
		rs_fail check_config_as_service "with RUNTIME_DIRECTORY: $(grep '^socket' <<<"$out2")"
	fi
else
	rs_fail check_config_as_service "rc $rc: $out"
fi

# ---- the notify listener (systemd's side of sd_notify)
NOTIFY_SOCK="$BASE/notify.sock"
NOTIFY_LOG="$RS_TMP/notify.log"
: >"$NOTIFY_LOG"
# the interpreter itself, not a wrapper script (pyenv's shims fork it): $! must be the listener, for the cleanup
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
[ -x "$PY" ] || NOTIFY_SOCK=""
if [ -n "$NOTIFY_SOCK" ]; then
	"$PY" - "$NOTIFY_SOCK" "$NOTIFY_LOG" >/dev/null 2>&1 9>&- <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
        f.flush()
EOF
	NOTIFY_PID=$!
	rs_wait_until 10 test -S "$NOTIFY_SOCK" || rs_log "the notify listener did not start: the notify checks will fail"
fi

# ---- start the service as systemd would
mkdir -m "${RT_MODE:-0755}" "$RTDIR"
chown "$SVC_USER:${SVC_GROUP:-$SVC_USER}" "$RTDIR"
RS_DLOG="$RS_TMP/daemon.log"
RS_SOCK="$RTDIR/ringsched.sock"
export RINGSCHED_SOCKET="$RS_SOCK" # root's own checks only; the test users' clients get a clean environment
SVC_ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 USER="$SVC_USER"
	LOGNAME="$SVC_USER" HOME=/nonexistent SHELL=/usr/sbin/nologin RUNTIME_DIRECTORY="$RTDIR"
	${NOTIFY_SOCK:+NOTIFY_SOCKET="$NOTIFY_SOCK"} "${ENV_ASSIGN[@]}")
[ -n "$RS_SANITIZER" ] && SVC_ENV+=(ASAN_OPTIONS="${ASAN_OPTIONS:-}" TSAN_OPTIONS="${TSAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}")
if [ "$PRIVATE_TMP" = yes ] && unshare -m --propagation private true 2>/dev/null; then
	NS=(unshare -m --propagation private)
	TMP_SETUP='mount -t tmpfs -o mode=1777 tmpfs /tmp || exit 97;'
	rs_log "PrivateTmp=yes: the daemon gets a mount namespace with a tmpfs on /tmp"
else
	NS=()
	TMP_SETUP=''
	rs_log "PrivateTmp is not reproduced (not set in the unit, or unshare -m is not permitted here)"
fi
"${NS[@]}" bash -c "$TMP_SETUP"' umask "$1"; ulimit -n "$2" 2>/dev/null; shift 2; exec "$@"' service "${UMASK:-0022}" "${NOFILE:-1024}" \
	setpriv --reuid="$SVC_USER" --regid="${SVC_GROUP:-$SVC_USER}" --init-groups --bounding-set=-all --no-new-privs \
	env -i "${SVC_ENV[@]}" "${ARGV[@]}" >"$RS_DLOG" 2>&1 9>&- &
RS_DPID=$!
D=$RS_DPID
if ! rs_wait_until "$RS_START_TIMEOUT" rs_cli status; then
	rs_fail service_user_socket "the service did not answer on $RS_SOCK"
	rs_daemon_log_tail
	rs_finish
fi
duid=$(awk '/^Uid:/ { print $3 }' "/proc/$D/status")
if grep -q "listening on $RS_SOCK" "$RS_DLOG" && [ "$duid" = "$SVC_UID" ] &&
	{ [ ${#NS[@]} -eq 0 ] || [ "$(readlink "/proc/$D/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]; }; then
	rs_pass service_user_socket
else
	rs_fail service_user_socket "euid $duid (want $SVC_UID); log: $(grep -m1 listening "$RS_DLOG")"
fi

# ---- an unprivileged user allowed by a supplementary group, with no RINGSCHED_SOCKET
[ -d /run/ringsched ] || { mkdir -m 0755 /run/ringsched && MADE_RUN_DIR=1; }
wl_log="$RS_TMP/ok-workload.log"
AS_TIMEOUT=300 as_client "$OK_USER" "$RS_CLI_BIN" run random-dag --tasks "$(rs_scale 4000 1000)" --verify >"$wl_log" 2>&1
rc=$?
sed 's/^/#   /' "$wl_log"
st_log="$RS_TMP/ok-status.log"
as_client "$OK_USER" "$RS_CLI_BIN" status >"$st_log" 2>&1
src=$?
if [ $rc -eq 0 ] && grep -q "verify ok" "$wl_log" && [ $src -eq 0 ] && grep -q "^sessions: " "$st_log"; then
	rs_pass supplementary_group_attaches
else
	rs_fail supplementary_group_attaches "workload rc $rc, status rc $src: $(tail -n 2 "$wl_log") / $(head -n 2 "$st_log")"
fi
if rs_wait_until 10 grep -q "): detached" "$RS_DLOG"; then
	rs_pass clean_detach_logged
else
	rs_fail clean_detach_logged "no 'detached' line: $(grep -m2 'session' "$RS_DLOG")"
fi

out=$(as_client "$NO_USER" "$RS_CLI_BIN" status 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q "not allowed" <<<"$out" && grep -q "access.gids" <<<"$out"; then
	rs_pass no_allowed_group_refused
else
	rs_fail no_allowed_group_refused "rc $rc: $out"
fi

# ---- SIGHUP and SIGTERM, as systemctl reload / stop send them
# READY=1 after the RELOADING=1 line (the first READY=1 was the start's)
ready_after_reload() { sed -n '/^RELOADING=1/,$p' "$NOTIFY_LOG" | grep -q "^READY=1"; }
kill -HUP "$D"
if [ -z "$NOTIFY_SOCK" ]; then
	rs_skip reload_notifies "python3 (the test's notify listener) is not installed"
elif rs_wait_until 10 ready_after_reload && grep -qE "^RELOADING=1 MONOTONIC_USEC=[0-9]+" "$NOTIFY_LOG" &&
	rs_wait_until 10 grep -q "SIGHUP: reloaded $CONF" "$RS_DLOG"; then
	rs_pass reload_notifies
else
	rs_fail reload_notifies "notifications: $(tr '\n' '|' <"$NOTIFY_LOG")"
fi
if rs_daemon_stop && { [ -z "$NOTIFY_SOCK" ] || grep -q "^STOPPING=1" "$NOTIFY_LOG"; }; then
	rs_pass stops_cleanly
else
	rs_fail stops_cleanly "${RS_DSTATUS:-no STOPPING=1}"
fi
rs_log "notifications: $(tr '\n' '|' <"$NOTIFY_LOG")"

# ---- per-user sockets: a directory someone else made first is refused
udir="/tmp/ringsched-$OK_UID"
rm -rf "$udir"
as_user "$NO_USER" mkdir -m 0777 "$udir" && as_user "$NO_USER" chmod 0777 "$udir"
dout=$(as_user "$OK_USER" "$RS_DAEMON_BIN" --no-config 2>&1)
drc=$?
cout=$(as_user "$OK_USER" "$RD_BIN" --tasks 10 2>&1) # a client of the library (rs_connect)
crc=$?
rm -rf "$udir"
as_user "$OK_USER" mkdir -m 0755 "$udir"
oout=$(as_user "$OK_USER" "$RS_DAEMON_BIN" --no-config 2>&1)
orc=$?
rm -rf "$udir"
rs_log "squatted: daemon rc $drc: $dout"
rs_log "squatted: client rc $crc: $cout"
rs_log "own dir 0755: daemon rc $orc: $oout"
if [ $drc -eq 1 ] && grep -q "$udir belongs to uid $(id -u "$NO_USER")" <<<"$dout" && [ $crc -ne 0 ] &&
	grep -q "refusing the per-user socket $udir/ringsched.sock" <<<"$cout" && [ $orc -eq 1 ] &&
	grep -q "$udir has mode 0755" <<<"$oout"; then
	rs_pass per_user_squat_refused
else
	rs_fail per_user_squat_refused "daemon rc $drc, client rc $crc, own-0755 daemon rc $orc (see the lines above)"
fi

# ---- and without one, the per-user daemon makes its directory private and its user's client finds it
# (not through as_user: $! must be the process that forwards SIGTERM to the daemon, timeout here)
timeout -k 5 600 setpriv --reuid="$OK_USER" --regid="$(id -g "$OK_USER")" --init-groups env -i PATH=/usr/bin:/bin HOME=/ \
	"$RS_DAEMON_BIN" --no-config >"$RS_TMP/peruser.log" 2>&1 9>&- &
ppid_=$!
PEER_PIDS+=("$ppid_")
if rs_wait_until "$RS_START_TIMEOUT" test -S "$udir/ringsched.sock" &&
	out=$(as_user "$OK_USER" "$RS_CLI_BIN" status 2>&1) && grep -q "^sessions: " <<<"$out" &&
	[ "$(stat -c '%u %a' "$udir")" = "$OK_UID 700" ]; then
	rs_pass per_user_dir_private
else
	rs_fail per_user_dir_private "dir: $(stat -c '%u %a' "$udir" 2>&1); status: ${out:-}; log: $(tail -n 3 "$RS_TMP/peruser.log")"
fi
kill -TERM "$ppid_" 2>/dev/null
rs_wait_bg "$ppid_" "$RS_STOP_TIMEOUT"
rc=$?
[ $rc -eq 0 ] || rs_fail per_user_daemon_stop "the per-user daemon exited $rc after SIGTERM: $(tail -n 3 "$RS_TMP/peruser.log")"
rs_finish
