#!/usr/bin/env bash
# Run every peer and configuration on every pattern, and every seed peer (seed-*) and configuration on every
# seed workload, and require each run to verify against its reference (exit 0 and "verified":true): the
# sequential bg_reference for the patterns, the workload's own double-precision reference for the seeds.
# Small sizes by default; --full runs the benchmark sizes (the seeds' defaults, as bench/run.py).
#   bash bench/peers/check.sh [--full] [BUILD_DIR]      (after `make bench-peers`)
set -uo pipefail

full=0
if [ "${1:-}" = "--full" ]; then full=1; shift; fi
dir="${1:-build}/bench/peers"

if [ $full -eq 1 ]; then
  graphs=("independent --n 200000" "chain --n 100000" "stencil --width 8 --steps 2000"
          "stencil --width 64 --steps 2000" "fanout --width 1000 --steps 100" "tree --width 16"
          "random --n 100000" "stencil --width 4 --steps 2000 --grain 2000")
else
  graphs=("independent --n 20000" "chain --n 20000" "stencil --width 8 --steps 200"
          "fanout --width 1000 --steps 10" "tree --width 14" "random --n 20000"
          "stencil --width 4 --steps 200 --grain 2000")
fi
if [ $full -eq 1 ]; then
  seeds=("bgemm" "alternating_matmul_add" "paged_attention")
else
  seeds=("bgemm --groups 16" "alternating_matmul_add --batch 64" "paged_attention --batch 4")
fi
# program|environment|extra flags
configs=("omp-gomp|-u OMP_WAIT_POLICY|" "omp-gomp|OMP_WAIT_POLICY=active|"
         "omp-llvm|-u OMP_WAIT_POLICY|" "omp-llvm|OMP_WAIT_POLICY=active|"
         "tbb|-u OMP_WAIT_POLICY|" "tbb|-u OMP_WAIT_POLICY|--lightweight"
         "starpu|STARPU_SCHED=lws|" "starpu|STARPU_SCHED=eager|" "starpu|STARPU_SCHED=ws|"
         "starpu|STARPU_SCHED=dmda|")

pass=0 fail=0
# check ENVS PROGRAM ARGS...: run it, count a pass if it exits 0 and printed "verified":true
check() {
  local envs=$1 out rc
  shift
  # shellcheck disable=SC2086
  out=$(env $envs "$@")
  rc=$?
  if [ $rc -eq 0 ] && grep -q '"verified":true' <<<"$out"; then
    pass=$((pass + 1)); echo "$out"
  else
    fail=$((fail + 1)); echo "FAIL (rc=$rc): $envs ${*#"$dir/"}" >&2
  fi
}
for c in "${configs[@]}"; do
  IFS='|' read -r prog envs extra <<<"$c"
  for g in "${graphs[@]}"; do
    # shellcheck disable=SC2086
    check "$envs" "$dir/$prog" --pattern $g $extra
  done
  for w in "${seeds[@]}"; do
    # shellcheck disable=SC2086
    check "$envs OPENBLAS_NUM_THREADS=1" "$dir/seed-$prog" $extra $w
  done
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
