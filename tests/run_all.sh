#!/usr/bin/env bash
# `make test`: unit tests, in-process protocol tests, integration tests. Prints "N passed, M failed".
set -u
BUILD=${1:-build}
total_pass=0; total_fail=0
run() {
  local out; out=$(bash "$@" 2>&1 | tee -a /dev/stderr | tail -n 1) # -a: a log file on stderr is appended to, not truncated
  local p f
  p=$(sed -nE 's/.*: ([0-9]+) passed.*/\1/p' <<<"$out"); f=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$out")
  total_pass=$((total_pass + ${p:-0})); total_fail=$((total_fail + ${f:-1}))
}
run tests/run_unit.sh "$BUILD"
run tests/run_inproc.sh "$BUILD"
run tests/run_integration.sh "$BUILD"
echo
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
