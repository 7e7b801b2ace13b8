#!/usr/bin/env bash
# Install the Debian packages the peer benchmarks (bench/peers/) need. Idempotent: does nothing when every
# package is present. Called by `make bench-peers`; needs root (or sudo) only when something is missing.
set -euo pipefail

PKGS=(
  build-essential pkg-config
  clang               # omp-llvm is built with clang -fopenmp
  libomp-dev          # LLVM OpenMP runtime (libomp) for omp-llvm; libgomp comes with gcc
  libtbb-dev          # oneTBB flow graph
  libstarpu-dev       # StarPU 1.3 (pkg-config starpu-1.3)
)

bash "$(dirname "${BASH_SOURCE[0]}")/../../scripts/apt-install.sh" "bench-peers deps" "${PKGS[@]}"
