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

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "bench-peers deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
