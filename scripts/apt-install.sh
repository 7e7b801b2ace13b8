#!/usr/bin/env bash
# apt-install.sh LABEL PACKAGE... — install the Debian packages among PACKAGE that are missing; nothing when
# all are present (so it needs root, or sudo, only then). LABEL prefixes the one line it prints. Shared by
# scripts/deps.sh (build and test), scripts/bench-deps.sh and bench/peers/deps.sh.
set -euo pipefail

label=$1
shift
missing=()
for p in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "$label: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
