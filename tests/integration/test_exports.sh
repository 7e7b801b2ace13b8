#!/usr/bin/env bash
# test_exports.sh — libringsched.so exports exactly the functions ringsched.h declares: no internal
# (rs__mem_*, rs__deps_*, rs__layout_*, ...), no test hook of testing.h (rs__submit_raw, rs__sq_base, ...),
# no data symbol, and no API function missing. The prototypes are taken from the preprocessed header (comments
# and macros gone), the exports from `nm -D --defined-only`. Also checks the soname symlink chain. No daemon.
source "$(dirname "$0")/lib.sh"
rs_init exports

SO="$RS_BUILD/libringsched.so"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v nm >/dev/null; then
	rs_skip exports "nm (binutils) is not installed"
	rs_finish
fi
if [ ! -e "$SO" ]; then
	rs_fail exports "$SO is missing (build first)"
	rs_finish
fi

# Every identifier that opens a parameter list at file scope of the header: the declared functions.
declared=$(${CC:-cc} -E -P -x c "$SRC/client/ringsched.h" | tr '\n' ' ' | tr ';' '\n' |
	grep -oE '\brs_[a-z0-9_]+[[:space:]]*\(' | grep -oE 'rs_[a-z0-9_]+' | sort -u)
exported=$(nm -D --defined-only "$SO" | awk '{ print $NF }' | sed 's/@.*//' | sort -u)
echo "$declared" >"$RS_TMP/declared"
echo "$exported" >"$RS_TMP/exported"

n=$(wc -l <"$RS_TMP/declared")
rs_log "ringsched.h declares $n functions: $(echo $declared)"
if [ "$n" -ge 20 ]; then
	rs_pass header_parsed
else
	rs_fail header_parsed "only $n prototypes found in ringsched.h: $(echo $declared)"
fi

extra=$(comm -13 "$RS_TMP/declared" "$RS_TMP/exported")
if [ -z "$extra" ]; then
	rs_pass exports_nothing_beyond_the_api
else
	rs_fail exports_nothing_beyond_the_api "exported but not in ringsched.h: $(echo $extra)"
fi

missing=$(comm -23 "$RS_TMP/declared" "$RS_TMP/exported")
if [ -z "$missing" ]; then
	rs_pass exports_every_api_function
else
	rs_fail exports_every_api_function "declared in ringsched.h but not exported: $(echo $missing)"
fi

# the static archive keeps the internals the tests and the CLI link against
if nm --defined-only "$RS_BUILD/libringsched.a" 2>/dev/null | grep -qw rs__submit_raw; then
	rs_pass archive_keeps_test_hooks
else
	rs_fail archive_keeps_test_hooks "rs__submit_raw is not defined in libringsched.a"
fi

soname=$(readelf -d "$SO" 2>/dev/null | sed -nE 's/.*\(SONAME\).*\[(.*)\].*/\1/p')
real=$(readlink -f "$SO")
if [ "$soname" = libringsched.so.0 ] && [ "$(readlink -f "$RS_BUILD/libringsched.so.0")" = "$real" ] &&
	[[ "$real" == */libringsched.so.[0-9]*.[0-9]*.[0-9]* ]]; then
	rs_pass soname_chain
else
	rs_fail soname_chain "soname '$soname', libringsched.so -> $real"
fi
rs_finish
