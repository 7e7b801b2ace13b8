#!/usr/bin/env bash
# Install the Debian packages `make bench` needs (python3 for the driver, gnuplot for the efficiency plot,
# taskset from util-linux, strace for the system-call counts), then the peers' own dependencies.
# Idempotent: does nothing when every package is present; needs root (or sudo) only when something is missing.
set -euo pipefail

PKGS=(python3 gnuplot-nox util-linux strace)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -f "$here/bench/peers/deps.sh" ]; then
  bash "$here/bench/peers/deps.sh"
fi
