#!/usr/bin/env bash
# Run every integration test script tests/integration/test_*.sh against the binaries in BUILD.
# Each script prints PASS/FAIL/SKIP lines and exits 0 (pass), 77 (skipped) or anything else (fail).
set -u
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
pass=0; fail=0; skip=0
for t in tests/integration/test_*.sh; do
  [ -f "$t" ] || continue
  name=$(basename "$t" .sh)
  log="$BUILD/tests/$name.log"
  mkdir -p "$BUILD/tests"
  start=$(date +%s)
  timeout --kill-after=10 "${RS_TEST_TIMEOUT:-900}" bash "$t" "$BUILD" >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1)); echo "PASS integration/$name (${secs}s)"
  elif [ $rc -eq 77 ]; then
    skip=$((skip + 1)); echo "SKIP integration/$name: $(grep -m1 '^SKIP' "$log")"
  else
    fail=$((fail + 1)); echo "FAIL integration/$name (exit $rc, ${secs}s)"; tail -n 40 "$log" | sed 's/^/    /'
  fi
  grep -E '^(PASS|FAIL|SKIP) ' "$log" | sed 's/^/    /'
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
