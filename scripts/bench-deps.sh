#!/usr/bin/env bash
# Install the Debian packages `make bench` needs (python3 for the driver, gnuplot for the efficiency plot,
# taskset from util-linux, strace for the system-call counts), then the peers' own dependencies.
# Idempotent: does nothing when every package is present; needs root (or sudo) only when something is missing.
set -euo pipefail

PKGS=(python3 gnuplot-nox util-linux strace)

bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" "bench deps" "${PKGS[@]}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -f "$here/bench/peers/deps.sh" ]; then
  bash "$here/bench/peers/deps.sh"
fi
