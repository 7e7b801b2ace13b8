#!/usr/bin/env bash
# `make asan` / `make tsan`: run the in-process protocol tests and the integration tests against a sanitizer
# build (smaller sizes: RS_SANITIZER is exported, scripts scale down). Unit tests run too under ASan.
set -u
BUILD=${1:?build dir}
export RS_SANITIZER=${RS_SANITIZER:-san}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
fail=0
if [ "$RS_SANITIZER" = asan ]; then bash tests/run_unit.sh "$BUILD" || fail=1; fi
bash tests/run_inproc.sh "$BUILD" || fail=1
bash tests/run_integration.sh "$BUILD" || fail=1
if [ $fail -eq 0 ]; then echo "$RS_SANITIZER: clean"; else echo "$RS_SANITIZER: FAILED"; fi
exit $fail
