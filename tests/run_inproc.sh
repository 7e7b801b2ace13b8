#!/usr/bin/env bash
# Run the in-process tests: the daemon core and the client library in one process, so ThreadSanitizer sees
# both sides of the ring protocol (DESIGN §8).
set -u
BUILD=${1:-build}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
pass=0; fail=0
for t in "$BUILD"/tests/inproc/*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  log="$BUILD/tests/inproc/$name.log"
  if timeout --kill-after=10 "${RS_TEST_TIMEOUT:-900}" "$t" >"$log" 2>&1; then
    pass=$((pass + 1)); echo "PASS inproc/$name"
  else
    fail=$((fail + 1)); echo "FAIL inproc/$name"; tail -n 40 "$log" | sed 's/^/    /'
  fi
done
echo "inproc: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
