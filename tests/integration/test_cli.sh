#!/usr/bin/env bash
# test_cli.sh — the `ringsched` command line: its options, help, version, JSON output, the kernel listing's
# wrapping, and what it says when no daemon answers.
#
#   help_without_daemon      every command's --help (and `help CMD`) prints its usage, exit 0, and never
#                            tries to connect (the socket points at nothing)
#   socket_needs_value       `ringsched --socket` without a value says "option --socket needs a value", exit 2
#   unknown_option_named     an unknown global option is named, exit 2
#   version_both_ways        --version and `version` print the CLI and library versions, the same line
#   not_running_hint         status against a missing socket names it and says what to do (daemon running?
#                            --socket / RINGSCHED_SOCKET), exit 1
#   status_json_valid        status --json parses (python3 -m json.tool) and carries the daemon's figures
#   kernels_json_valid       kernels --json parses and lists the built-in kernels with whole signatures
#   stats_json_valid         stats --json parses; with profiling off its latencies are null with a how-to
#   stats_latency_off_text   the stats table shows "-" for latencies and says how to enable them
#   kernels_wrap_80          off a terminal, `ringsched kernels` lines fit 80 columns (a longer one is a single
#                            word) and every signature's words are whole and in order
#   kernels_wrap_tty_50      on a 50-column terminal (script -qc, util-linux) the same at 50 columns
#   json_escapes_names       a hostile session name (newline, ESC, quote) keeps status --json and stats --json
#                            valid and decodes back to the exact name; the stats table shows it escaped
source "$(dirname "$0")/lib.sh"
rs_init cli

CLI="$RS_CLI_BIN"
CTL="$RS_ITEST/ctl_adversary"
rs_need_bin "$CTL"
if ! command -v python3 >/dev/null; then rs_skip all "python3 is needed to validate JSON"; rs_finish; fi
ESC=$'\e'
NOWHERE="$RS_TMP/no-daemon/sock"

# ---- no daemon at all
ok=1
for cmd in status stats top kernels run trace help version; do
	if [ "$cmd" = trace ] && ! "$CLI" --help | grep -q '^  trace'; then continue; fi # built without trace.c
	out=$(RINGSCHED_SOCKET="$NOWHERE" timeout 10 "$CLI" "$cmd" --help 2>&1); rc=$?
	if [ $rc -ne 0 ] || ! grep -q "^usage: " <<<"$out" || grep -q "cannot connect" <<<"$out"; then
		ok=0; rs_log "$cmd --help: rc $rc: $out"
	fi
	out=$(RINGSCHED_SOCKET="$NOWHERE" timeout 10 "$CLI" help "$cmd" 2>&1); rc=$?
	if [ $rc -ne 0 ] || ! grep -q "^usage: ringsched $cmd" <<<"$out"; then ok=0; rs_log "help $cmd: rc $rc: $out"; fi
done
[ $ok -eq 1 ] && rs_pass help_without_daemon || rs_fail help_without_daemon "see the lines above"

out=$("$CLI" --socket 2>&1); rc=$?
if [ $rc -eq 2 ] && grep -q "option --socket needs a value" <<<"$out" && ! grep -q "unknown option" <<<"$out"; then
	rs_pass socket_needs_value
else
	rs_fail socket_needs_value "rc $rc: $out"
fi
out=$("$CLI" --bogus status 2>&1); rc=$?
if [ $rc -eq 2 ] && grep -q "unknown option '--bogus'" <<<"$out"; then rs_pass unknown_option_named; else rs_fail unknown_option_named "rc $rc: $out"; fi

v1=$("$CLI" --version 2>&1); r1=$?
v2=$("$CLI" version 2>&1); r2=$?
if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ "$v1" = "$v2" ] && grep -Eq '^ringsched [0-9.]+ \(libringsched [0-9.]+\)$' <<<"$v1"; then
	rs_pass version_both_ways
else
	rs_fail version_both_ways "'$v1' (rc $r1) vs '$v2' (rc $r2)"
fi

out=$(timeout 10 "$CLI" --socket "$NOWHERE" status 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -qF "$NOWHERE" <<<"$out" && grep -q "is the daemon running" <<<"$out" &&
	grep -q "RINGSCHED_SOCKET" <<<"$out"; then
	rs_pass not_running_hint
else
	rs_fail not_running_hint "rc $rc: $out"
fi

# ---- a daemon with profiling off (the default)
if ! rs_daemon_start "$(rs_config_gen 2 dedicated)"; then rs_fail daemon_start "see log"; rs_finish; fi

# json_check NAME FILE PYTHON: FILE parses as JSON and the python expression (over `d`) holds.
json_check() {
	local name=$1 file=$2 expr=$3
	if ! python3 -m json.tool "$file" >/dev/null 2>"$RS_TMP/json.err"; then
		rs_fail "$name" "not valid JSON: $(cat "$RS_TMP/json.err"); $(head -c 400 "$file")"
	elif python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($expr) else 1)" "$file"; then
		rs_pass "$name"
	else
		rs_fail "$name" "$expr does not hold for $(head -c 600 "$file")"
	fi
}

rs_cli status --json >"$RS_TMP/status.json" 2>&1
json_check status_json_valid "$RS_TMP/status.json" \
	"d['schedulers'] == 2 and d['wiring'] == 'dedicated' and d['sessions'] == 0 and 'tasks_completed' in d"
rs_cli kernels --json >"$RS_TMP/kernels.json" 2>&1
json_check kernels_json_valid "$RS_TMP/kernels.json" \
	"{'noop','spin','gemm'} <= {k['name'] for k in d['kernels']} and d['total'] == len(d['kernels']) and
	 all(k['doc'].startswith(k['name'] + '(') for k in d['kernels']) and
	 [k['doc'] for k in d['kernels'] if k['name'] == 'noop'][0].endswith('work: none')"
rs_cli stats --json >"$RS_TMP/stats.json" 2>&1
json_check stats_json_valid "$RS_TMP/stats.json" \
	"d['profiling'] == 0 and d['latency_enabled'] is False and 'profiling.level' in d['latency_note'] and
	 len(d['threads']) == 3 and all(t['p50_ns'] is None and t['p99_ns'] is None for t in d['threads'])"
out=$(rs_cli stats 2>&1)
if grep -q "profiling.level = 1" <<<"$out" && grep -E '^0 +scheduler' <<<"$out" | grep -Eq -- '- +-$'; then
	rs_pass stats_latency_off_text
else
	rs_fail stats_latency_off_text "$out"
fi

# wrap_check NAME WIDTH FILE: every line fits WIDTH columns unless it is one word, and the words under each
# kernel, joined, are its JSON signature exactly (nothing cut, nothing lost).
wrap_check() {
	local name=$1 width=$2 file=$3
	if python3 - "$width" "$file" "$RS_TMP/kernels.json" <<'PY'; then rs_pass "$name"; else rs_fail "$name" "see above"; fi
import json, sys
width, text, js = int(sys.argv[1]), open(sys.argv[2]).read().replace('\r', ''), json.load(open(sys.argv[3]))
docs, cur, bad = {}, None, 0
for line in text.splitlines():
    if len(line) > width and len(line.split()) > 1:
        print("# too wide (%d > %d): %r" % (len(line), width, line)); bad = 1
    if line.startswith('    '):
        docs[cur].append(line.strip())
    elif line.strip():
        cur = line.split()[0]; docs[cur] = []
for k in js['kernels']:
    got = ' '.join(docs.get(k['name'], []))
    if got != ' '.join(k['doc'].split()):
        print("# %s: wrapped %r, JSON %r" % (k['name'], got, k['doc'])); bad = 1
sys.exit(bad)
PY
}
rs_cli kernels >"$RS_TMP/kernels.txt" 2>&1
wrap_check kernels_wrap_80 80 "$RS_TMP/kernels.txt"
if command -v script >/dev/null && command -v stty >/dev/null; then
	script -qc "stty cols 50 rows 40; '$CLI' --socket '$RS_SOCK' kernels" /dev/null >"$RS_TMP/kernels-tty.txt" 2>&1
	if [ "$(awk 'length > 60' "$RS_TMP/kernels-tty.txt" | wc -l)" -eq 0 ]; then
		wrap_check kernels_wrap_tty_50 50 "$RS_TMP/kernels-tty.txt"
	else
		rs_fail kernels_wrap_tty_50 "lines wider than the terminal: $(head -3 "$RS_TMP/kernels-tty.txt")"
	fi
else
	rs_skip kernels_wrap_tty_50 "script(1) or stty is not installed"
fi

# ---- a hostile session name in the JSON and the table
evil=$'evil\n"q"\\\e[2J'
rs_bg "$CTL" --socket "$RS_SOCK" hold --count 1 --name "$evil" --hold-ms 20000 >"$RS_TMP/hold.log" 2>&1
hpid=$RS_BG_LAST
if rs_wait_until 20 rs_file_has "$RS_TMP/hold.log" "1 sessions attached"; then
	rs_cli status --json >"$RS_TMP/evil-status.json" 2>&1
	rs_cli stats --json >"$RS_TMP/evil-stats.json" 2>&1
	rs_cli stats >"$RS_TMP/evil-stats.txt" 2>&1
	want=$(printf '%s' "$evil" | python3 -c 'import sys; print(repr(sys.stdin.read()))')
	if python3 -c "import json,sys; w=$want
s=json.load(open(sys.argv[1])); t=json.load(open(sys.argv[2]))
sys.exit(0 if [x['name'] for x in s['listed']] == [w] and [x['name'] for x in t['sessions']] == [w] else 1)" \
		"$RS_TMP/evil-status.json" "$RS_TMP/evil-stats.json" && ! grep -q "$ESC" "$RS_TMP/evil-stats.txt" &&
		grep -qF 'evil\x0a\x22q' "$RS_TMP/evil-stats.txt"; then
		rs_pass json_escapes_names
	else
		rs_fail json_escapes_names "$(cat -v "$RS_TMP/evil-status.json" "$RS_TMP/evil-stats.txt" | head -40)"
	fi
else
	rs_fail json_escapes_names "the session did not attach: $(cat "$RS_TMP/hold.log")"
fi
rs_kill_pid "$hpid"

rs_daemon_stop
rs_finish
