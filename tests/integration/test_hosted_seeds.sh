#!/usr/bin/env bash
# test_hosted_seeds.sh — the seed workloads with --hosted: the daemon's own kernel bodies (kernels/tables.c,
# linked into the workload program) registered as client-hosted kernels (rs_kernel_local), so every task runs
# on the client's executor threads under the daemon's core leases, and still verifies.
#
#   verify      each seed workload, built in and --hosted, verifies against its double-precision reference on
#               a daemon of 1 scheduler, of 2 and of the daemon's default count (standalone programs, and
#               `ringsched run` on the 2-scheduler daemon); the two wall times are printed side by side, never
#               compared
#   hosted      the daemon's per-task trace (profiling level 2) of each --hosted run names none of the
#               workload's kernels and every task hosted.N: no task ran as a daemon kernel,
#               while the trace of the built-in run of the same workload names them for every task — the
#               control that shows the check sees the difference (a --hosted that were ignored fails it)
#   together    two --hosted clients and one built-in client at once all verify, and the trace says each ran
#               where it should; the runs' overlap in time is printed, not asserted
# Small sizes (the shapes of test_workloads.sh): well under a minute on 2 CPUs in a normal build.
source "$(dirname "$0")/lib.sh"
rs_init hosted_seeds

if ! command -v python3 >/dev/null 2>&1; then
	rs_skip hosted_seeds "python3 is needed to read the trace JSON"
	rs_finish
fi

RUN_TIMEOUT=$(rs_scale 120 600)

declare -A ARGS KERNELS
ARGS[bgemm]="--groups $(rs_scale 64 16) --grid-k 3 --tile 32"
ARGS[alternating_matmul_add]="--batch $(rs_scale 128 32) --m 2 --n 3 --matmul-batch 2 --add-batch 3 --tile 16"
ARGS[paged_attention]="--batch $(rs_scale 16 4) --heads 8 --q-tile 4 --head-dim 32 --block-size 16 \
--context $(rs_scale 1024 256) --min-context 1 --kv-blocks 64"
ARGS[paged_attention_unroll]="--batch $(rs_scale 16 4) --heads 8 --q-tile 4 --head-dim 32 --block-size 16 \
--context $(rs_scale 1024 256) --min-context 1 --group 8 --kv-blocks 64"
ARGS[batch_paged_attention]="--batch $(rs_scale 16 4) --heads 8 --q-tile 4 --head-dim 32 --block-size 16 \
--context $(rs_scale 1024 256) --min-context 1 --group 8 --kv-blocks 64"
# The kernels each one submits (its rs__wl_ops kernels): names the daemon's trace gives its own kernels' tasks.
KERNELS[bgemm]="gemm add"
KERNELS[alternating_matmul_add]="batch_matmul add_out"
KERNELS[paged_attention]="qk_matmul softmax_prepare pv_matmul online_update"
KERNELS[paged_attention_unroll]="qk_matmul softmax_prepare pv_matmul online_update"
KERNELS[batch_paged_attention]="qk_matmul_batch softmax_prepare pv_matmul_batch online_update"
WORKLOADS=(bgemm alternating_matmul_add paged_attention paged_attention_unroll batch_paged_attention)

for w in "${WORKLOADS[@]}"; do
	rs_need_bin "$RS_WL/$w"
done

# The runs against the current daemon, one line each: "TAG PID MODE WORKLOAD" (MODE builtin or hosted), for
# the trace check once they are all done.
RUNS=""

# start_run TAG MODE WORKLOAD [VIA]: start one verified run in the background (VIA "cli": through `ringsched
# run`); its pid in RS_BG_LAST, recorded in RUNS. The program itself is the background process, so its pid
# is the one the daemon's trace names.
start_run() {
	local tag=$1 mode=$2 w=$3 via=${4:-}
	local -a cmd=("$RS_WL/$w")
	[ "$via" = cli ] && cmd=("$RS_CLI_BIN" run "$w")
	[ "$mode" = hosted ] && cmd+=(--hosted)
	# shellcheck disable=SC2086 # ARGS holds several words
	rs_bg "${cmd[@]}" --socket "$RS_SOCK" --verify --no-progress ${ARGS[$w]} >"$RS_TMP/$tag.log" 2>&1
	RUNS+="$tag $RS_BG_LAST $mode $w"$'\n'
}

# finish_run TAG WORKLOAD PID: wait for a run and PASS/FAIL TAG from its exit status and report line.
finish_run() {
	local tag=$1 w=$2 pid=$3 log="$RS_TMP/$1.log"
	rs_wait_bg "$pid" "$RUN_TIMEOUT"
	local rc=$?
	sed 's/^/#   /' "$log"
	if [ "$rc" -eq 124 ]; then
		rs_fail "$tag" "timed out after ${RUN_TIMEOUT}s"
	elif [ "$rc" -ne 0 ]; then
		rs_fail "$tag" "exit $rc: $(grep -m1 -i 'fail\|error\|differ\|cannot\|lacks' "$log" || tail -n 1 "$log")"
	elif ! grep -q "^workload $w: tasks [0-9]*, .* verify ok (max rel err " "$log"; then
		rs_fail "$tag" "no 'verify ok' report line: $(tail -n 1 "$log")"
	else
		rs_pass "$tag"
	fi
}

# wall_of TAG: the wall time of a finished run's report line ("?" without one).
wall_of() {
	local s
	s=$(sed -n 's/^workload .*: tasks [0-9]*, wall \([0-9.]*\) s,.*/\1/p' "$RS_TMP/$1.log")
	echo "${s:-?}"
}

# check_where_ran TRACE_JSON: one PASS/FAIL ran_where_<tag> per line of RUNS, from the trace of each run's
# session (found by the client pid its name carries): a hosted run has tasks and none named after one of its
# workload's kernels; a built-in run has every task named after one of them.
check_where_ran() {
	local trace=$1 tag pid mode w verdict
	while read -r tag pid mode w; do
		[ -n "$tag" ] || continue
		verdict=$(python3 - "$trace" "$pid" "$mode" "${KERNELS[$w]}" <<'EOF'
import json, re, sys
trace, pid, mode, kernels = sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4].split())
ev = json.load(open(trace))["traceEvents"]
sessions = [e["pid"] for e in ev if e.get("ph") == "M" and e.get("name") == "process_name"
            and re.search(r"\(pid %s," % pid, e["args"]["name"])]
if len(sessions) != 1:
    print("FAIL: %d traced sessions of client pid %s" % (len(sessions), pid))
    sys.exit()
tasks = [e for e in ev if e.get("ph") == "X" and e["pid"] == sessions[0]]
named = sum(1 for e in tasks if e["name"] in kernels)
hosted = sum(1 for e in tasks if e["name"].startswith("hosted."))  # the trace's name of a client-hosted kernel
ok = tasks and (named == 0 and hosted == len(tasks) if mode == "hosted" else named == len(tasks))
print("%s: session %d: %d traced tasks, %d of them named %s, %d hosted.N" % ("ok" if ok else "FAIL", sessions[0],
      len(tasks), named, "/".join(sorted(kernels)), hosted))
EOF
)
		rs_log "$tag ($mode): $verdict"
		rs_check "ran_${mode}_$tag" "$verdict" test "${verdict%%:*}" = ok
	done <<<"$RUNS"
}

# trace_and_check TAG: the daemon's trace of every run so far, checked with check_where_ran; RUNS reset.
trace_and_check() {
	local trace="$RS_TMP/trace_$1.json" out
	if out=$(rs_cli trace -o "$trace" 2>&1); then
		check_where_ran "$trace"
	else
		rs_fail "trace_$1" "ringsched trace failed: $(tail -n 1 <<<"$out")"
	fi
	RUNS=""
}

# ---- verify and hosted: every workload built in and --hosted, one run at a time
for sched in 1 2 default; do
	if [ "$sched" = default ]; then
		conf="# the daemon's default threads"
	else
		conf=$(rs_config_gen "$sched" shared 'idle: { spin_us = 5; };')
	fi
	if ! rs_daemon_start "$conf" --profiling 2; then
		rs_fail "daemon_start_s$sched" "daemon did not start"
		continue
	fi
	for w in "${WORKLOADS[@]}"; do
		# `ringsched run` on the 2-scheduler daemon, so the CLI's link of the kernels is exercised too
		via=""
		[ "$sched" = 2 ] && via=cli
		for mode in builtin hosted; do
			tag="${w}_${mode}_s$sched"
			start_run "$tag" "$mode" "$w" "$via"
			finish_run "$tag" "$w" "$RS_BG_LAST"
		done
		rs_log "$w, schedulers $sched: wall built-in $(wall_of "${w}_builtin_s$sched") s, hosted" \
			"$(wall_of "${w}_hosted_s$sched") s (informational)"
	done
	trace_and_check "s$sched"
	rs_check_stop "daemon_clean_exit_s$sched"
done

# ---- together: two --hosted clients and one built-in client at once, two schedulers
if rs_daemon_start "$(rs_config_gen 2 shared 'idle: { spin_us = 5; };')" --profiling 2; then
	# larger than above, so the three are likely to overlap
	ARGS[bgemm]="--groups $(rs_scale 500 64) --grid-k 3 --tile 32"
	ARGS[paged_attention]="--batch $(rs_scale 64 8) --heads 8 --q-tile 4 --head-dim 32 --block-size 16 \
--context $(rs_scale 1024 256) --min-context 1 --kv-blocks 64"
	ARGS[alternating_matmul_add]="--batch $(rs_scale 1000 128) --m 2 --n 3 --matmul-batch 2 --add-batch 3 --tile 16"
	start_run together_bgemm_hosted hosted bgemm
	p1=$RS_BG_LAST
	start_run together_paged_attention_hosted hosted paged_attention
	p2=$RS_BG_LAST
	start_run together_alternating_matmul_add_builtin builtin alternating_matmul_add
	p3=$RS_BG_LAST
	finish_run together_bgemm_hosted bgemm "$p1"
	finish_run together_paged_attention_hosted paged_attention "$p2"
	finish_run together_alternating_matmul_add_builtin alternating_matmul_add "$p3"
	trace_and_check together
	if [ -f "$RS_TMP/trace_together.json" ]; then
		rs_log "together, each session's first task start to last task end: $(python3 - "$RS_TMP/trace_together.json" <<'EOF'
import json, sys
spans = {}
for e in json.load(open(sys.argv[1]))["traceEvents"]:
    if e.get("ph") == "X":
        a, b = spans.get(e["pid"], (e["ts"], e["ts"] + e["dur"]))
        spans[e["pid"]] = (min(a, e["ts"]), max(b, e["ts"] + e["dur"]))
print(", ".join("session %d %.1f-%.1f ms" % (s, a / 1e3, b / 1e3) for s, (a, b) in sorted(spans.items())))
EOF
)"
	fi
	rs_check_stop daemon_clean_exit_together
else
	rs_fail daemon_start_together "daemon did not start"
fi
rs_finish
