#!/usr/bin/env bash
# Create .venv and install wharf into it. With --dev: also test tools and the system
# packages the test suite drives (skopeo, podman, buildah, Distribution, wrk, and
# PostgreSQL and HAProxy for the scale-out tests).
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

if [ "$dev" = 1 ]; then
  apt_packages=(skopeo podman buildah docker-registry wrk hey uidmap fuse-overlayfs postgresql haproxy)
  missing=()
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    echo "installing system packages: ${missing[*]}"
    $sudo_cmd apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
if [ "$dev" = 1 ]; then
  .venv/bin/pip install -q -e '.[dev]' -r bench/requirements.txt
else
  .venv/bin/pip install -q .
fi
