#!/usr/bin/env bash
# Prepares a machine for `pnpm test`: installs pnpm 10, Chromium (for the browser tests) and
# redis-server + redis-cli (for the Redis store tests) when they are missing, then the
# workspace's dependencies from the lockfile. Safe to run again.
# Installing system packages uses apt-get (Debian/Ubuntu), as root or through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pnpm >/dev/null 2>&1; then
  npm install -g pnpm@10
fi

missing=()
if [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if ! command -v redis-server >/dev/null 2>&1; then missing+=(redis-server); fi
if ! command -v redis-cli >/dev/null 2>&1; then missing+=(redis-tools); fi

if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-test-env: ${missing[*]} missing and apt-get is not available: install them yourself." >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  # the tests start their own redis-server on free loopback ports; the system service is not needed
  if [[ " ${missing[*]} " == *" redis-server "* ]] && command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
fi

pnpm install --frozen-lockfile
