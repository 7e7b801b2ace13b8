# test_trace.sh — `ringsched trace`: the per-task trace of profiling level 2 as a Chrome/Perfetto trace.
#
# A daemon at --profiling 2 runs trace_graph (a gate, a chain, a fan-out and a fan-in join: every edge
# printed by the client), then `ringsched trace -o FILE` must give a JSON file that parses, with every task
# once and start <= end, lanes that are the daemon's scheduler threads (named by thread_name metadata), one
# flow pair per dependency of the known graph, stage times in order (submit <= wired <= ready <= start <=
# end <= observed) with the client's submit time trusted, and the five-stage breakdown printed. At level 0
# trace refuses with the message naming --profiling 2 and profiling.level; profiling.level is hot (SIGHUP
# turns the trace on); --session filters; --json gives the breakdown as JSON.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh" "$@"
rs_init trace
rs_need_bin "$RS_ITEST/trace_graph"
rs_need_file "$RS_PROBES_SO"
if ! command -v python3 >/dev/null 2>&1; then
	rs_skip trace "python3 is needed to check the trace JSON"
	rs_finish
fi

CHAIN=$(rs_scale 50 20)
FANOUT=$(rs_scale 12 6)
# Folded wiring (the default on small machines): a submission made while one scheduler runs the gate and the
# other has just gone to sleep is wired within the sleeper's recount (daemon/park.c RECOUNT_SLEEP_MS), not
# after the gate ends — before that fix this test's partner timed out about 1 run in 8.
CONF=$(rs_config_gen 2 shared "$(rs_probes_conf)")

# check_trace TRACE_JSON GRAPH_OUTPUT: every structural check, one message per failure, exit 1 on any.
check_trace() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
trace_file, graph_file = sys.argv[1], sys.argv[2]
bad = []
with open(trace_file) as f:
    doc = json.load(f)
ev = doc["traceEvents"]
graph_tasks, edges = {}, []
for line in open(graph_file):
    w = line.split()
    if w and w[0] == "task":
        graph_tasks[int(w[1])] = w[2]
    elif w and w[0] == "edge":
        edges.append((int(w[1]), int(w[2])))
if not any(l.startswith("graph:") and "gate=held" in l for l in open(graph_file)):
    bad.append("the gate did not hold (the client may have dropped edges): %s" % open(graph_file).read()[-200:])
lanes = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev if e.get("ph") == "M" and e["name"] == "thread_name"}
procs = {e["pid"] for e in ev if e.get("ph") == "M" and e["name"] == "process_name"}
tasks = {}
for e in ev:
    if e.get("ph") != "X":
        continue
    key = (e["pid"], e["args"]["seq"])
    if key in tasks:
        bad.append("task %s appears twice" % (key,))
    tasks[key] = e
    if e["dur"] < 0:
        bad.append("task %s ends before it starts (dur %s)" % (key, e["dur"]))
    if (e["pid"], e["tid"]) not in lanes:
        bad.append("task %s is on lane %s, which has no thread_name" % (key, e["tid"]))
    elif not lanes[(e["pid"], e["tid"])].startswith("rs-sched-"):
        bad.append("task %s ran on %s, not a scheduler thread" % (key, lanes[(e["pid"], e["tid"])]))
    if e["pid"] not in procs:
        bad.append("task %s: session %s has no process_name" % (key, e["pid"]))
sessions = {pid for pid, _ in tasks}
if len(sessions) != 1:
    bad.append("expected the one session of trace_graph, got %s" % sorted(sessions))
pid = min(sessions) if sessions else None
names = set(lanes.values())
if len(names) != len(lanes) // max(1, len(procs)):
    bad.append("lane names repeat within a session: %s" % sorted(lanes.values()))
for seq, kernel in graph_tasks.items():
    e = tasks.get((pid, seq))
    if e is None:
        bad.append("graph task %d is missing from the trace" % seq)
        continue
    if e["name"] != kernel:
        bad.append("task %d is named %r, its kernel is %r" % (seq, e["name"], kernel))
    a = e["args"]
    order = [a["submit_us"], a["wired_us"], a["ready_us"], a["start_us"], a["end_us"], a["done_us"], a["observed_us"]]
    if order != sorted(order) or a["observed_us"] == 0:
        bad.append("task %d: stages out of order or unobserved (submit, wired, ready, start, end, done, observed "
                   "= %s)" % (seq, order))
    if not a["submit_trusted"]:
        bad.append("task %d: the client's submit time was not stamped or not trusted" % seq)
    if a["state"] != "ok":
        bad.append("task %d: state %s" % (seq, a["state"]))
flows = {}
for e in ev:
    if e.get("ph") in ("s", "f"):
        flows.setdefault(e["id"], {})[e["ph"]] = e
for fid, pair in flows.items():
    if set(pair) != {"s", "f"}:
        bad.append("flow %s is not a start/finish pair: %s" % (fid, sorted(pair)))
def task_at(ph):
    for t in tasks.values():
        if t["pid"] == ph["pid"] and t["tid"] == ph["tid"] and t["ts"] <= ph["ts"] <= t["ts"] + t["dur"]:
            yield t["args"]["seq"]
traced_edges = []
for fid, pair in flows.items():
    if set(pair) != {"s", "f"}:
        continue
    s, f = pair["s"], pair["f"]
    if s["ts"] > f["ts"]:
        bad.append("flow %s goes back in time (%s -> %s)" % (fid, s["ts"], f["ts"]))
    prod = list(task_at(s))
    cons = [q for q in task_at(f) if tasks[(f["pid"], q)]["ts"] == f["ts"]]
    if len(prod) != 1 or len(cons) != 1:
        bad.append("flow %s does not bind to one producer and one consumer slice (%s, %s)" % (fid, prod, cons))
        continue
    traced_edges.append((prod[0], cons[0]))
missing = sorted(set(edges) - set(traced_edges))
extra = sorted(set(traced_edges) - set(edges))
dup = len(traced_edges) - len(set(traced_edges))
if missing:
    bad.append("%d dependencies have no flow: %s" % (len(missing), missing[:10]))
if extra:
    bad.append("%d flows are not dependencies of the graph: %s" % (len(extra), extra[:10]))
if dup:
    bad.append("%d dependencies have more than one flow" % dup)
for b in bad[:20]:
    print("trace check: " + b)
print("trace check: %d tasks, %d lanes, %d flows for %d dependencies, %d problems" %
      (len(tasks), len(lanes), len(traced_edges), len(edges), len(bad)))
sys.exit(1 if bad else 0)
EOF
}

# ---- level 0: the trace says how to turn it on
if rs_daemon_start "$CONF"; then
	out=$(rs_cli trace -o "$RS_TMP/off.json" 2>&1)
	rc=$?
	rs_check trace_off_says_how_to_turn_it_on "rc $rc, output: $out" \
		test "$rc" -ne 0 -a "$(printf '%s' "$out" | grep -c 'profiling is off (level 0): start the daemon with --profiling 2 or set profiling.level')" -eq 1
	rs_check trace_off_writes_no_file "a trace file was written at level 0" test ! -e "$RS_TMP/off.json"

	# ---- profiling.level is hot: SIGHUP to level 2 turns the trace on
	printf '%s\nprofiling: { level = 2; };\n' "$CONF" >"$RS_DCONF"
	kill -HUP "$RS_DPID"
	rs_check sighup_sets_profiling_level_2 "the daemon did not log the new level" \
		rs_wait_until 10 grep -q 'profiling level 2' "$RS_DLOG"
	if timeout 120 "$RS_ITEST/trace_graph" --socket "$RS_SOCK" --chain 8 --fanout 4 >"$RS_TMP/hup.out" 2>&1; then
		out=$(rs_cli trace -o "$RS_TMP/hup.json" 2>&1)
		rs_check trace_after_sighup_exports_the_graph "rc $?: $out" check_trace "$RS_TMP/hup.json" "$RS_TMP/hup.out"
	else
		rs_fail trace_after_sighup_exports_the_graph "trace_graph failed: $(tail -3 "$RS_TMP/hup.out")"
	fi
	rs_check_stop daemon_clean_exit_after_sighup
fi

# ---- level 2 from the command line: the known graph, in full
if rs_daemon_start "$CONF" --profiling 2; then
	# the client stays connected (--hold) while the trace is taken: its observations are the wiring role's
	timeout 120 "$RS_ITEST/trace_graph" --socket "$RS_SOCK" --chain "$CHAIN" --fanout "$FANOUT" \
		--hold "$RS_TMP/release" >"$RS_TMP/graph.out" 2>&1 &
	gpid=$!
	RS_BG_PIDS+=("$gpid")
	rs_wait_until 120 grep -q '^graph:' "$RS_TMP/graph.out"
	out=$(rs_cli trace -o "$RS_TMP/trace.json" 2>&1)
	rc=$?
	touch "$RS_TMP/release"
	if wait "$gpid"; then
		rs_pass trace_graph_runs_at_level_2
	else
		rs_fail trace_graph_runs_at_level_2 "$(tail -3 "$RS_TMP/graph.out")"
	fi
	printf '%s\n' "$out" | sed 's/^/# /'
	rs_check trace_exits_0 "rc $rc: $out" test "$rc" -eq 0
	rs_check trace_json_has_every_task_lane_and_dependency "see the trace check lines above" \
		check_trace "$RS_TMP/trace.json" "$RS_TMP/graph.out"
	stages=0
	for st in 'submit->wired' 'wired->ready' 'ready->start' 'run' 'end->observed'; do
		# each stage line: its name, a task count > 0, and p50 / p99 values
		if printf '%s\n' "$out" | grep -Eq "^$st +[1-9][0-9]* +[0-9.]+ (ns|us|ms) +[0-9.]+ (ns|us|ms)$"; then
			stages=$((stages + 1))
		else
			rs_log "no breakdown line for $st"
		fi
	done
	rs_check breakdown_prints_the_five_stages "$stages of 5 stage lines" test "$stages" -eq 5

	json=$(rs_cli trace -o "$RS_TMP/again.json" --json 2>&1)
	rs_check breakdown_as_json_names_the_five_stages "got: $json" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert [s["stage"] for s in d["stages"]] == ["submit->wired", "wired->ready", "ready->start", "run", "end->observed"]
assert all(s["tasks"] > 0 and s["p50_ns"] <= s["p99_ns"] for s in d["stages"]), d' "$json"

	sid=$(python3 -c 'import json,sys; print(min(e["pid"] for e in json.load(open(sys.argv[1]))["traceEvents"] if e.get("ph") == "X"))' "$RS_TMP/trace.json")
	out=$(rs_cli trace -o "$RS_TMP/other.json" --session $((sid + 1000)) 2>&1)
	rs_check trace_session_filter_excludes_other_sessions "rc $?: $out" \
		test "$(printf '%s' "$out" | grep -c 'no traced tasks of that session')" -eq 1
	out=$(rs_cli trace -o - --session "$sid" 2>/dev/null | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin)["traceEvents"] if e.get("ph") == "X"))')
	want=$(grep -c '^task ' "$RS_TMP/graph.out")
	rs_check trace_to_stdout_for_one_session "got $out tasks, the graph has $want plus its flush task" \
		test "$out" -eq $((want + 1))
	out=$(rs_cli trace --bogus 2>&1)
	rs_check trace_rejects_an_unknown_option "rc $?: $out" test "$(printf '%s' "$out" | grep -c 'usage: ringsched trace')" -ge 1
	rs_check_stop daemon_clean_exit_level_2
fi

# ---- a client that disconnects right after its last wait: its observation is recorded at the hang-up
if rs_daemon_start "$CONF" --profiling 2; then
	if timeout 120 "$RS_ITEST/trace_graph" --socket "$RS_SOCK" --chain 8 --fanout 4 --flush 0 \
		>"$RS_TMP/noflush.out" 2>&1; then
		# the hang-up is handled by the daemon's main thread after the client exits: wait for its log line
		rs_wait_until 10 grep -q 'hung up' "$RS_DLOG"
		out=$(rs_cli trace -o "$RS_TMP/noflush.json" 2>&1)
		rs_check observation_recorded_when_the_client_hangs_up "rc $?: $out" \
			check_trace "$RS_TMP/noflush.json" "$RS_TMP/noflush.out"
	else
		rs_fail observation_recorded_when_the_client_hangs_up "trace_graph failed: $(tail -3 "$RS_TMP/noflush.out")"
	fi
	rs_check_stop daemon_clean_exit_after_hang_up
fi

out=$("$RS_DAEMON_BIN" --profiling 3 --check-config 2>&1)
rs_check profiling_option_rejects_level_3 "rc $?: $out" test "$(printf '%s' "$out" | grep -c "'3' is not a level")" -eq 1

rs_finish
