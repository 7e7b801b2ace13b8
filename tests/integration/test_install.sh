#!/usr/bin/env bash
# test_install.sh — `make install` follows Debian's conventions and `make uninstall` undoes it exactly.
#
# Installs into a private DESTDIR with PREFIX=/usr and checks, against the list written here (the
# specification, not the Makefile's own list): every installed file and nothing else; headers only under
# include/ringsched; programs and libraries stripped with no debug sections; the soname and its symlinks; the
# pkg-config file (a client including <ringsched/ringsched.h> and one including <ringsched.h> compile and link
# against the staged tree, and the libringsched(3) example runs against the installed daemon); the installed
# daemon shows as `ringschedd` in ps after re-executing itself, with OPENBLAS_NUM_THREADS=1; every man page
# renders without a warning; the sysusers.d entry creates a nologin system user; the plugin template builds
# with its installed Makefile, the ringsched-kernel(7) example builds too, and the daemon loads both;
# `systemd-analyze verify` accepts the unit. Then
# an edited configuration survives a re-install and an uninstall, and an uninstall leaves no file and none of
# ringsched's own directories. With DEBUG_INFO=1 the debug info lands in usr/lib/debug/.build-id, where gdb
# finds it, and uninstall removes it too. Skipped in sanitizer builds: the layout does not depend on them, and a plain
# cc cannot link a sanitized library.
source "$(dirname "$0")/lib.sh"
rs_init install

SRC=$(cd "$(dirname "$0")/../.." && pwd)
if [ -n "$RS_SANITIZER" ]; then
	rs_skip install_layout "sanitizer build ($RS_SANITIZER): the plain build tests the install"
	rs_finish
fi
dest="$RS_TMP/root"
mkdir -p "$dest"
export PKG_CONFIG_PATH="$dest/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest"
# the staged tree's directories are not the machine's: pkg-config must not drop them as system paths
unset PKG_CONFIG_LIBDIR

rs_install() { make -s -C "$SRC" BUILD="$RS_BUILD" "$1" PREFIX=/usr DESTDIR="$dest" >>"$RS_TMP/make.log" 2>&1; }
# every file and symlink under the staged root, relative to it
staged_files() { (cd "$dest" && find . \( -type f -o -type l \) -printf '%P\n' | sort); }

if ! rs_install install; then
	rs_fail make_install "make install failed: $(tail -5 "$RS_TMP/make.log")"
	rs_finish
fi
rs_pass make_install

# ---- the file list
{
	printf '%s\n' usr/sbin/ringschedd usr/bin/ringsched \
		usr/lib/libringsched.so.0.1.0 usr/lib/libringsched.so.0 usr/lib/libringsched.so usr/lib/libringsched.a \
		usr/lib/pkgconfig/ringsched.pc \
		usr/include/ringsched/ringsched.h usr/include/ringsched/rs_kernel.h usr/include/ringsched/rs_abi.h \
		usr/lib/ringsched/plugins/example.so \
		usr/share/doc/ringsched/examples/plugin/example.c usr/share/doc/ringsched/examples/plugin/Makefile \
		usr/lib/systemd/system/ringschedd.service usr/lib/sysusers.d/ringsched.conf \
		etc/ringsched/ringschedd.conf \
		usr/share/man/man1/ringsched.1.gz usr/share/man/man3/libringsched.3.gz \
		usr/share/man/man5/ringschedd.conf.5.gz usr/share/man/man7/ringsched-kernel.7.gz \
		usr/share/man/man8/ringschedd.8.gz
	# one man3 link per exported function
	sed -n 's/^[[:space:]]*\(rs_[a-z0-9_]*\);$/usr\/share\/man\/man3\/\1.3.gz/p' "$SRC/client/libringsched.map"
} | sort >"$RS_TMP/expected"
staged_files >"$RS_TMP/installed"
if diff "$RS_TMP/expected" "$RS_TMP/installed" >"$RS_TMP/list.diff"; then
	rs_pass file_list
else
	rs_fail file_list "installed files differ from the expected list (< expected, > installed): $(tr '\n' ' ' <"$RS_TMP/list.diff")"
fi
top=$(find "$dest/usr/include" -mindepth 1 -maxdepth 1 -printf '%f ')
rs_check headers_in_own_folder "usr/include holds '$top', want only 'ringsched'" [ "$top" = "ringsched " ]
if grep -q ldconfig "$RS_TMP/make.log"; then
	rs_fail no_ldconfig_with_destdir "a staged install ran ldconfig: $(grep ldconfig "$RS_TMP/make.log" | head -1)"
else
	rs_pass no_ldconfig_with_destdir
fi

# ---- stripped, soname
unstripped=""
for f in usr/sbin/ringschedd usr/bin/ringsched usr/lib/libringsched.so.0.1.0 usr/lib/ringsched/plugins/example.so; do
	if ! file -L "$dest/$f" | grep -q ', stripped' || readelf -S "$dest/$f" | grep -q '\.debug_'; then
		unstripped="$unstripped $f"
	fi
done
rs_check stripped "not stripped (file(1), or .debug_* sections):$unstripped" [ -z "$unstripped" ]
soname=$(readelf -d "$dest/usr/lib/libringsched.so.0.1.0" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
rs_check soname "soname '$soname', want libringsched.so.0" [ "$soname" = libringsched.so.0 ]
links="$(readlink "$dest/usr/lib/libringsched.so.0") $(readlink "$dest/usr/lib/libringsched.so")"
rs_check soname_links "symlinks '$links', want 'libringsched.so.0.1.0 libringsched.so.0'" \
	[ "$links" = "libringsched.so.0.1.0 libringsched.so.0" ]

# ---- pkg-config: both include forms compile and link against the staged tree
# (pkgconf prefixes variables with the sysroot too: read them without it)
pc_vars=$(env -u PKG_CONFIG_SYSROOT_DIR pkg-config --variable=libdir ringsched)
pc_plugins=$(env -u PKG_CONFIG_SYSROOT_DIR pkg-config --variable=plugindir ringsched)
rs_check pc_dirs "libdir '$pc_vars', plugindir '$pc_plugins'" \
	[ "$pc_vars" = /usr/lib ] && [ "$pc_plugins" = /usr/lib/ringsched/plugins ]
cflags=$(pkg-config --cflags ringsched) libs=$(pkg-config --libs ringsched)
for form in "ringsched/ringsched.h" "ringsched.h" "ringsched/rs_kernel.h" "rs_kernel.h"; do
	printf '#include <%s>\nint main(void) { return 0; }\n' "$form" >"$RS_TMP/inc.c"
	# shellcheck disable=SC2086 # pkg-config output is a list of flags
	if cc -std=c11 -Wall -Werror $cflags "$RS_TMP/inc.c" -o "$RS_TMP/inc" >"$RS_TMP/cc.log" 2>&1; then
		rs_pass "include_$(echo "$form" | tr '/.' '__')"
	else
		rs_fail "include_$(echo "$form" | tr '/.' '__')" "#include <$form> with '$cflags': $(head -3 "$RS_TMP/cc.log")"
	fi
done
# The example of libringsched(3), taken from the installed page, is the client.
zcat "$dest/usr/share/man/man3/libringsched.3.gz" | MANWIDTH=200 man -l - 2>/dev/null |
	awk '/^EXAMPLE/ { on = 1; next } /^[A-Z]/ { on = 0 } on' | sed 's/^       //' >"$RS_TMP/client.c"
# shellcheck disable=SC2086
if grep -q rs_connect "$RS_TMP/client.c" &&
	cc -std=c11 -Wall -Werror $cflags "$RS_TMP/client.c" -o "$RS_TMP/client" $libs >"$RS_TMP/cc.log" 2>&1; then
	needed=$(readelf -d "$RS_TMP/client" | sed -n 's/.*Shared library: \[\(libringsched[^]]*\)\]/\1/p')
	rs_check client_links_soname "the client needs '$needed', want libringsched.so.0" [ "$needed" = libringsched.so.0 ]
else
	rs_fail client_builds "the libringsched(3) example does not build with pkg-config: $(head -5 "$RS_TMP/cc.log")"
fi

# ---- the plugin template, built out of tree with its installed Makefile
cp -r "$dest/usr/share/doc/ringsched/examples/plugin" "$RS_TMP/plugin"
chmod -R go-w "$RS_TMP/plugin"
if make -s -C "$RS_TMP/plugin" >"$RS_TMP/plugin.log" 2>&1 && nm -D "$RS_TMP/plugin/example.so" | grep -q ' rs_plugin_kernels$'; then
	rs_pass template_builds
	env -u PKG_CONFIG_SYSROOT_DIR make -s -C "$RS_TMP/plugin" install DESTDIR="$RS_TMP/pluginroot" \
		>>"$RS_TMP/plugin.log" 2>&1
	rs_check template_installs "template's make install did not put example.so under its plugindir: $(tail -3 "$RS_TMP/plugin.log")" \
		[ -f "$RS_TMP/pluginroot/usr/lib/ringsched/plugins/example.so" ]
else
	rs_fail template_builds "$(tail -5 "$RS_TMP/plugin.log")"
fi

# The example of ringsched-kernel(7), from the installed page, is a second plugin.
zcat "$dest/usr/share/man/man7/ringsched-kernel.7.gz" | MANWIDTH=200 man -l - 2>/dev/null |
	awk '/^EXAMPLE/ { on = 1; next } /^[A-Z]/ { on = 0 } on' | sed 's/^       //' >"$RS_TMP/mine.c"
# shellcheck disable=SC2086
if cc -std=c11 -Wall -Wextra -Werror -fPIC -shared $cflags "$RS_TMP/mine.c" -o "$RS_TMP/mine.so" >"$RS_TMP/cc.log" 2>&1 &&
	nm -D "$RS_TMP/mine.so" | grep -q ' rs_plugin_kernels$'; then
	rs_pass kernel_page_example_builds
else
	rs_fail kernel_page_example_builds "the ringsched-kernel(7) example does not build: $(head -5 "$RS_TMP/cc.log")"
fi

# ---- the installed daemon: named ringschedd after its re-exec, loads both plugins, serves the client
printf 'kernels = { plugins = [ "%s", "%s" ]; };\nidle = { spin_us = 5; };\n' "$RS_TMP/plugin/example.so" \
	"$RS_TMP/mine.so" >"$RS_TMP/d.conf"
sock="$RS_TMP/d.sock"
env -u OPENBLAS_NUM_THREADS "$dest/usr/sbin/ringschedd" --config "$RS_TMP/d.conf" --socket "$sock" \
	>"$RS_TMP/d.log" 2>&1 &
RS_DPID=$!
if rs_wait_until "$RS_START_TIMEOUT" "$dest/usr/bin/ringsched" --socket "$sock" status; then
	comm=$(ps -o comm= -p "$RS_DPID") args=$(ps -o args= -p "$RS_DPID")
	rs_check process_name "ps shows comm '$comm' args '$args', want ringschedd and the command line" \
		[ "$comm" = ringschedd ] && [ "${args%% *}" = "$dest/usr/sbin/ringschedd" ]
	blas=$(tr '\0' '\n' <"/proc/$RS_DPID/environ" | grep '^OPENBLAS_NUM_THREADS=')
	rs_check blas_one_thread "environment has '$blas'" [ "$blas" = OPENBLAS_NUM_THREADS=1 ]
	"$dest/usr/bin/ringsched" --socket "$sock" kernels >"$RS_TMP/kernels.txt" 2>&1
	if grep -q 'example\.relu' "$RS_TMP/kernels.txt" && grep -q 'mine\.relu' "$RS_TMP/kernels.txt"; then
		rs_pass plugins_load
	else
		rs_fail plugins_load "ringsched kernels does not list both example.relu and mine.relu: $(tail -3 "$RS_TMP/d.log")"
	fi
	if [ -x "$RS_TMP/client" ]; then
		if RINGSCHED_SOCKET="$sock" LD_LIBRARY_PATH="$dest/usr/lib" timeout 20 "$RS_TMP/client" >"$RS_TMP/client.log" 2>&1; then
			rs_pass client_runs
		else
			rs_fail client_runs "the libringsched(3) example failed: $(head -3 "$RS_TMP/client.log")"
		fi
	fi
	kill -TERM "$RS_DPID"
	wait "$RS_DPID"
	rc=$?
	RS_DPID=""
	rs_check daemon_stops "the installed daemon exited $rc on SIGTERM: $(tail -3 "$RS_TMP/d.log")" [ "$rc" -eq 0 ]
else
	rs_fail installed_daemon_starts "$(tail -5 "$RS_TMP/d.log")"
fi

# ---- man pages: every page renders without a warning; the man3 links reach libringsched(3)
if command -v man >/dev/null; then
	warn=""
	for p in "$dest"/usr/share/man/man*/*.gz; do
		MANWIDTH=80 man --warnings -l "$p" >"$RS_TMP/page.txt" 2>"$RS_TMP/man.err"
		if [ -s "$RS_TMP/man.err" ] || [ ! -s "$RS_TMP/page.txt" ]; then
			warn="$warn ${p#"$dest"/}: $(head -2 "$RS_TMP/man.err" | tr '\n' ' ')"
		fi
	done
	rs_check man_pages_render "pages with warnings or no text:$warn" [ -z "$warn" ]
	# man -w names the link or, resolving it, libringsched.3.gz
	found=$(man -M "$dest/usr/share/man" -w 3 rs_submit 2>&1)
	case "$found" in
	"$dest/usr/share/man/man3/rs_submit.3.gz" | "$dest/usr/share/man/man3/libringsched.3.gz") rs_pass man3_link ;;
	*) rs_fail man3_link "man -w 3 rs_submit says '$found'" ;;
	esac
else
	rs_skip man_pages_render "no man command"
fi

# ---- sysusers.d: a system user with no login shell
entry="$dest/usr/lib/sysusers.d/ringsched.conf"
rs_check sysusers_entry "the entry is not 'u ringsched ... /usr/sbin/nologin': $(grep -v '^#' "$entry")" \
	grep -qE '^u[[:space:]]+ringsched[[:space:]]+-[[:space:]].*[[:space:]]/usr/sbin/nologin[[:space:]]*$' "$entry"
if command -v systemd-sysusers >/dev/null; then
	mkdir -p "$RS_TMP/sysroot/etc"
	if systemd-sysusers --root="$RS_TMP/sysroot" "$entry" >"$RS_TMP/sysusers.log" 2>&1; then
		pw=$(grep '^ringsched:' "$RS_TMP/sysroot/etc/passwd")
		uid=$(echo "$pw" | cut -d: -f3)
		rs_check sysusers_creates_user "passwd line '$pw': want a system uid (< 1000) and /usr/sbin/nologin" \
			[ -n "$uid" ] && [ "$uid" -lt 1000 ] && [ "${pw##*:}" = /usr/sbin/nologin ]
	else
		rs_skip sysusers_creates_user "systemd-sysusers --root cannot run here: $(head -1 "$RS_TMP/sysusers.log")"
	fi
else
	rs_skip sysusers_creates_user "no systemd-sysusers"
fi

# ---- the unit
unit="$dest/usr/lib/systemd/system/ringschedd.service"
rs_check unit_paths "the unit's ExecStart or Documentation is wrong: $(grep -E '^(ExecStart|Documentation)=' "$unit" | tr '\n' ' ')" \
	grep -q '^ExecStart=/usr/sbin/ringschedd ' "$unit" && grep -q '^Documentation=man:ringschedd(8)' "$unit"
if command -v systemd-analyze >/dev/null; then
	# verify checks that ExecStart's program exists and that Documentation= pages resolve: point it at the
	# staged daemon and man pages (the unit is otherwise unchanged)
	mkdir -p "$RS_TMP/unit"
	sed "s|^ExecStart=/usr/sbin/|ExecStart=$dest/usr/sbin/|" "$unit" >"$RS_TMP/unit/ringschedd.service"
	if MANPATH="$dest/usr/share/man" systemd-analyze verify "$RS_TMP/unit/ringschedd.service" >"$RS_TMP/verify.log" 2>&1; then
		rs_pass systemd_analyze_verify
	else
		rs_fail systemd_analyze_verify "$(head -5 "$RS_TMP/verify.log" | tr '\n' ' ')"
	fi
else
	rs_skip systemd_analyze_verify "no systemd-analyze"
fi

# ---- configuration: never overwritten; an edited one survives uninstall
conf="$dest/etc/ringsched/ringschedd.conf"
echo '# edited by the operator' >>"$conf"
rs_install install
rs_check install_keeps_config "a second make install overwrote the edited configuration" grep -q 'edited by the operator' "$conf"

# ---- uninstall
if ! rs_install uninstall; then
	rs_fail make_uninstall "make uninstall failed: $(tail -5 "$RS_TMP/make.log")"
	rs_finish
fi
left=$(staged_files | tr '\n' ' ')
rs_check uninstall_keeps_edited_config "after uninstall with an edited config, files left: '$left'" \
	[ "$left" = "etc/ringsched/ringschedd.conf " ]
rm -f "$conf"
rs_install install && rs_install uninstall
left=$(staged_files | tr '\n' ' ')
own=$(cd "$dest" && ls -d usr/include/ringsched usr/lib/ringsched usr/share/doc/ringsched etc/ringsched 2>/dev/null | tr '\n' ' ')
rs_check uninstall_leaves_nothing "after install + uninstall: files '$left', ringsched directories '$own'" \
	[ -z "$left" ] && [ -z "$own" ]

# ---- DEBUG_INFO=1: separate debug files by build id, found by gdb, removed by uninstall
rs_install_dbg() { make -s -C "$SRC" BUILD="$RS_BUILD" "$1" PREFIX=/usr DESTDIR="$dest" DEBUG_INFO=1 >>"$RS_TMP/make.log" 2>&1; }
if rs_install_dbg install; then
	missing=""
	for f in usr/sbin/ringschedd usr/bin/ringsched usr/lib/libringsched.so.0.1.0 usr/lib/ringsched/plugins/example.so; do
		id=$(readelf -n "$dest/$f" | sed -n 's/.*Build ID: *//p')
		dbg="$dest/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
		if [ -z "$id" ] || ! readelf -S "$dbg" 2>/dev/null | grep -q '\.debug_info'; then
			missing="$missing $f"
		fi
	done
	rs_check debug_info_by_build_id "no debug file with .debug_info for:$missing" [ -z "$missing" ]
	if command -v gdb >/dev/null; then
		line=$(gdb -batch -iex "set debug-file-directory $dest/usr/lib/debug" -ex 'info line rs_connect' \
			"$dest/usr/lib/libringsched.so.0.1.0" 2>&1 | tail -1)
		rs_check gdb_finds_debug_info "gdb says '$line'" grep -q 'client/connect.c' <<<"$line"
	fi
	rs_install_dbg uninstall
	left=$(staged_files | tr '\n' ' ')
	rs_check debug_uninstall_leaves_nothing "after a DEBUG_INFO=1 install + uninstall: files '$left'" [ -z "$left" ]
else
	rs_fail debug_info_by_build_id "make install DEBUG_INFO=1 failed: $(tail -5 "$RS_TMP/make.log")"
fi

rs_finish
