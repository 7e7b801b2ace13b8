#!/usr/bin/env bash
# run_fuzz.sh — run the libFuzzer targets of tests/fuzz/ (make test-fuzz, make fuzz-smoke).
#
#   run_fuzz.sh FUZZ_BUILD SECONDS TARGET...   run each FUZZ_BUILD/fuzz_TARGET for SECONDS from its seed corpus
#                                              tests/fuzz/corpus/TARGET (read only; new inputs go to
#                                              FUZZ_BUILD/corpus/TARGET). Prints "fuzz: N passed, M failed";
#                                              exits non-zero if any target crashed, leaked, timed out or broke
#                                              an invariant (its input is kept in FUZZ_BUILD/crashes/).
#   run_fuzz.sh --probe [CC]                   can CC (clang) build and link a libFuzzer program with ASan and
#                                              UBSan here? 0, or 77 with the reason printed.
set -u
cd "$(dirname "$0")/../.."

if [ "${1:-}" = "--probe" ]; then
  cc=${2:-clang}
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: skipped: $cc not found (scripts/deps.sh installs clang)"
    exit 77
  fi
  printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
    >"$tmp/probe.c"
  if ! "$cc" -fsanitize=fuzzer,address,undefined "$tmp/probe.c" -o "$tmp/probe" >"$tmp/log" 2>&1; then
    echo "fuzz: skipped: $cc cannot link -fsanitize=fuzzer,address,undefined (the libFuzzer and sanitizer" \
      "runtimes: Debian's libclang-rt-dev, which scripts/deps.sh installs): $(head -n 1 "$tmp/log")"
    exit 77
  fi
  exit 0
fi

if [ $# -lt 3 ]; then
  echo "usage: $0 FUZZ_BUILD SECONDS TARGET... | $0 --probe [CC]" >&2
  exit 2
fi
build=$1
seconds=$2
shift 2

# Longest input per target: a few descriptors, a program of some hundred ops, a conversation, a config file.
max_len() {
  case $1 in
    validate) echo 8192 ;;
    wiring) echo 16384 ;;
    control) echo 4096 ;;
    config) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

pass=0
fail=0
mkdir -p "$build/crashes" "$build/logs"
for t in "$@"; do
  bin=$build/fuzz_$t
  seeds=tests/fuzz/corpus/$t
  work=$build/corpus/$t
  log=$build/logs/$t.log
  mkdir -p "$work"
  rm -f "$build/crashes/$t-"*
  if [ ! -x "$bin" ]; then
    echo "fuzz $t: FAILED: $bin is not built (make fuzz)"
    fail=$((fail + 1))
    continue
  fi
  # -timeout: one input running 10 s is a hang; -rss_limit_mb: the control target maps whole sessions.
  # New inputs go to $work (the first corpus directory); the checked-in seeds are only read.
  LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
  "$bin" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz $t: ok: ${runs:-?} inputs in ${seconds} s, ${cov:-cov: ?}, corpus $(ls "$work" | wc -l) new + $(ls "$seeds" | wc -l) seeds"
    pass=$((pass + 1))
  else
    echo "fuzz $t: FAILED (exit $rc) after ${runs:-?} inputs; log $log; the input that failed:"
    ls -1 "$build/crashes/$t-"* 2>/dev/null | sed 's/^/    /'
    grep -E 'ERROR|invariant broken|SUMMARY|runtime error|Test unit written' "$log" | head -n 20 | sed 's/^/    /'
    fail=$((fail + 1))
  fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
