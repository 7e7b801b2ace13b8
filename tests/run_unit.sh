#!/usr/bin/env bash
# Run every unit test binary (check) in BUILD/tests/unit; print one line per binary and a summary.
set -u
BUILD=${1:-build}
export RS_BUILD_DIR=$BUILD RS_SOURCE_DIR=$(pwd) CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
pass=0; fail=0; failed=()
for t in "$BUILD"/tests/unit/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  log="$BUILD/tests/unit/$name.log"
  if "$t" >"$log" 2>&1; then
    pass=$((pass + 1)); echo "PASS unit/$name ($(grep -Eo '[0-9]+%: Checks: [0-9]+' "$log" | tail -1))"
  else
    fail=$((fail + 1)); failed+=("$name"); echo "FAIL unit/$name"; tail -n 30 "$log" | sed 's/^/    /'
  fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
