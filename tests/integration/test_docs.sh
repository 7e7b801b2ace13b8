#!/usr/bin/env bash
# test_docs.sh — the project documents itself, and truthfully: the README's layout table names every source
# file of shm/, daemon/, kernels/ and client/ (a file or a glob in its row) and every path it names exists;
# README.md and docs/*.md never link outside the repository (no relative link that climbs out of the tree, no
# absolute file path), and nothing in the tree cites the tracker's work items. The man pages cannot drift from
# the code: every function ringsched.h declares has an entry in libringsched(3), every key of the daemon's key
# table (daemon/config.c) a heading in ringschedd.conf(5) whose default is the one conf/ringschedd.conf states,
# and every long option of ringschedd an entry in ringschedd(8). No daemon.
source "$(dirname "$0")/lib.sh"
rs_init docs

SRC=$(cd "$(dirname "$0")/../.." && pwd)
README="$SRC/README.md"

# The layout table: the rows between "## Layout" and the next "## " heading that start with "|". Column 1 is
# the folder (empty = the row above's), column 2 the files (backticked, comma-separated).
layout=$(awk '/^## Layout$/ { on = 1; next } /^## / { on = 0 } on && /^\|/' "$README")
if [ -z "$layout" ]; then
	rs_fail layout_table "README.md has no '## Layout' table"
	rs_finish
fi
: >"$RS_TMP/named"
folder=""
while IFS='|' read -r _ c1 c2 _; do
	f1=$(echo "$c1" | grep -oE '`[^`]+`' | tr -d '`' | head -1)
	[ -n "$f1" ] && folder="$f1"
	case "$c1$c2" in *---*) continue ;; esac
	for p in $(echo "$c2" | grep -oE '`[^`]+`' | tr -d '`'); do
		echo "$folder$p" >>"$RS_TMP/named"
	done
done <<<"$layout"
rs_log "the layout table names $(wc -l <"$RS_TMP/named") paths"

# Every path it names exists (globs must match something).
missing=""
while read -r p; do
	# shellcheck disable=SC2086 # p may be a glob on purpose
	if ! compgen -G "$SRC/$p" >/dev/null; then
		missing="$missing $p"
	fi
done <"$RS_TMP/named"
if [ -z "$missing" ]; then
	rs_pass named_paths_exist
else
	rs_fail named_paths_exist "the README's layout table names paths that do not exist:$missing"
fi

# Every source file is named (directly, by a glob, or by a named folder).
unlisted=""
cd "$SRC" || exit 2
for f in shm/*.[ch] daemon/*.[ch] kernels/*.[ch] kernels/plugins/*.c client/*.[ch] client/workloads/*.[ch]; do
	found=0
	while read -r p; do
		# shellcheck disable=SC2053,SC2254 # p is matched as a glob on purpose
		case "$f" in $p | $p*) found=1 && break ;; esac
	done <"$RS_TMP/named"
	[ "$found" = 1 ] || unlisted="$unlisted $f"
done
if [ -z "$unlisted" ]; then
	rs_pass every_source_file_named
else
	rs_fail every_source_file_named "source files missing from the README's layout table:$unlisted"
fi

# No link out of the repository: markdown links whose target climbs above the tree or is an absolute path.
outside=""
for doc in README.md docs/*.md; do
	[ -f "$doc" ] || continue
	dir=$(dirname "$doc")
	while read -r target; do
		target=${target%%#*}
		[ -z "$target" ] && continue
		case "$target" in
		http://* | https://* | mailto:*) outside="$outside $doc:$target" ;;
		/*) outside="$outside $doc:$target" ;;
		*)
			abs=$(realpath -m "$dir/$target")
			case "$abs" in "$SRC"/*) ;; *) outside="$outside $doc:$target" ;; esac
			;;
		esac
	done < <(grep -oE '\]\([^)]+\)' "$doc" | sed -E 's/^\]\((.*)\)$/\1/')
	if grep -nE '\.\./shared|/work/' "$doc" >/dev/null; then
		outside="$outside $doc:$(grep -noE '\.\./shared[^ ]*|/work/[^ ]*' "$doc" | head -1)"
	fi
done
# ... nor a bare address in the man pages, the config, the unit or any markdown file of the tree
while read -r hit; do
	outside="$outside $hit"
done < <(grep -rnoE 'https?://[^ )>]*' man conf systemd README.md docs/*.md tests/fuzz/README.md 2>/dev/null)
if [ -z "$outside" ]; then
	rs_pass no_links_outside_the_tree
else
	rs_fail no_links_outside_the_tree "links that leave the repository:$outside"
fi

# ---- the man pages against the code
MAN="$SRC/man"
# documented TEST PAGE WHAT PATTERN ITEM...: PASS TEST when man/PAGE has a line matching PATTERN (grep -E, with
# @ replaced by the item) for every ITEM, else FAIL naming WHAT without one. No items at all is a failure too:
# the extraction broke.
documented() {
	local test=$1 page=$2 what=$3 pattern=$4 item missing=""
	shift 4
	for item in "$@"; do
		grep -qE -- "${pattern//@/$item}" "$MAN/$page" || missing="$missing $item"
	done
	rs_log "$test: $# ${what}"
	if [ $# -gt 0 ] && [ -z "$missing" ]; then
		rs_pass "$test"
	else
		rs_fail "$test" "${what} without an entry in man/$page:${missing:- (none found)}"
	fi
}
# Functions: every identifier followed by "(" in ringsched.h outside comments; an entry is a line that starts
# with "*" (the bold prototype) and names the function followed by "(".
# shellcheck disable=SC2046 # one word per function
documented every_function_in_libringsched_3 libringsched.3.scd "functions of client/ringsched.h" '^\*.*\b@\(' \
	$(perl -0pe 's{/\*.*?\*/}{}gs' "$SRC/client/ringsched.h" | grep -oE '\brs_[a-z0-9_]+[[:space:]]*\(' |
		tr -d '( \t' | sort -u)
# Keys: the SCALAR("group", "name", ...) and LIST(...) entries of config.c's key table; a heading is a line
# "*group.name* = default".
# shellcheck disable=SC2046
documented every_key_in_ringschedd_conf_5 ringschedd.conf.5.scd "keys of daemon/config.c" '^\*@\* = ' \
	$(grep -oE '^[[:space:]]*(SCALAR|LIST)\("[a-z_]+", "[a-z_]+"' "$SRC/daemon/config.c" |
		sed -E 's/.*\("([a-z_]+)", "([a-z_]+)"/\1.\2/')
# Options: the long options of ringschedd's getopt table; an entry is a line that starts with *--name* or
# *-x*, *--name*.
# shellcheck disable=SC2046
documented every_option_in_ringschedd_8 ringschedd.8.scd "options of daemon/main.c" '^\*(-[a-zA-Z]\*, \*)?--@\*' \
	$(grep -oE '\{ *"[a-z-]+", *(no|required|optional)_argument' "$SRC/daemon/main.c" | sed -E 's/\{ *"([a-z-]+)".*/\1/')
# Defaults: each "name = value;" inside "group = {" of conf/ringschedd.conf is the default of its heading.
wrong=""
while read -r k v; do
	grep -qxF "*$k* = $v" "$MAN/ringschedd.conf.5.scd" || wrong="$wrong $k=$v"
done < <(awk '/^[a-z_]+ = \{/ { g = $1; next } /^\};/ { g = "" }
	g != "" && /^[[:space:]]+[a-z_]+ = .*;[[:space:]]*$/ {
		sub(/^[[:space:]]+/, ""); name = $1; sub(/^[a-z_]+ = /, ""); sub(/;[[:space:]]*$/, ""); print g "." name, $0 }' \
	"$SRC/conf/ringschedd.conf")
if [ -z "$wrong" ]; then
	rs_pass conf_defaults_in_ringschedd_conf_5
else
	rs_fail conf_defaults_in_ringschedd_conf_5 "defaults of conf/ringschedd.conf missing from (or different in) the headings of man/ringschedd.conf.5.scd:$wrong"
fi

# No internal work items: the tree speaks for itself, not of the tracker's issue numbers.
cited=$(grep -rnIiE '\bissue [0-9]+|\(issue' README.md docs shm daemon kernels client tests conf systemd scripts bench \
	--include='*.[ch]' --include='*.cpp' --include='*.sh' --include='*.md' --include='*.py' --include='*.mk' \
	--include='*.conf' --include='*.service' 2>/dev/null | grep -v '^bench/results/' | grep -v 'test_docs.sh' | head -5)
if [ -z "$cited" ]; then
	rs_pass no_work_items_cited
else
	rs_fail no_work_items_cited "sources or docs cite work items: $(echo "$cited" | tr '\n' ' ')"
fi

rs_finish
