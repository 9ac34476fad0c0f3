#!/bin/sh
# Smoke test of node@20, run as dev in a sandbox where the pack is installed:
#   ssh aibox sh -s < packs/node-20/smoke.sh
set -eu
expect() { # WHAT PATTERN VALUE
  case "$3" in $2) echo "ok: $1 $3" ;; *) echo "FAIL: $1 is '$3', expected $2" >&2; exit 1 ;; esac
}
expect node 'v20.*' "$(node -v)"
expect npm '10.*' "$(npm -v)"
expect npx '10.*' "$(npx --version)"
expect yarn '1.22.*' "$(yarn --version)"
expect 'node runs code' 'sha256 ok' "$(node -e 'console.log(require("crypto").createHash("sha256").update("").digest("hex").startsWith("e3b0") ? "sha256 ok" : "bad")')"
expect 'npm cache' "$HOME/.npm" "$(npm config get cache)"
