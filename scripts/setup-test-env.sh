#!/usr/bin/env bash
# Prepares a machine for `pnpm test`: installs pnpm 10 and Chromium (for the browser tests) when
# they are missing, then the workspace's dependencies from the lockfile. Safe to run again.
# Installing Chromium uses apt-get (Debian/Ubuntu), as root or through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pnpm >/dev/null 2>&1; then
  npm install -g pnpm@10
fi

if [ ! -x /usr/bin/chromium ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-test-env: /usr/bin/chromium is missing and apt-get is not available: install Chromium yourself." >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

pnpm install --frozen-lockfile
