#!/usr/bin/env bash
# Install the Debian packages ringsched needs to build, test and run. Idempotent: does nothing when every
# package is present. Called by the Makefile (target `deps`) and by .ci/run; needs root (or sudo) only when
# something is missing.
set -euo pipefail

PKGS=(
  build-essential pkg-config
  libevent-dev        # control plane: Unix socket, signals, timers
  libnuma-dev         # placement of threads and session memory
  libconfig-dev       # ringschedd.conf
  check               # unit tests
  libsystemd-dev      # sd_notify: READY/STATUS/WATCHDOG/STOPPING
  libopenblas-pthread-dev # CBLAS for gemm; thread-safe for concurrent callers, pinned to one thread by the daemon
  strace procps psmisc # integration tests: syscall counts, /proc readings
  scdoc               # the man pages (man/*.scd -> build/man/), built by every `make`
  clang               # TSan/ASan builds, the libFuzzer targets (tests/fuzz/)
  libclang-rt-dev     # clang's sanitizer and libFuzzer runtimes: clang only recommends them, and
                      # apt-install.sh installs no recommends
)

bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" "deps" "${PKGS[@]}"
