#!/bin/sh
# Smoke test of code-server (and the node@20 pack it runs on), run as dev in a sandbox where
# the pack is installed:  ssh aibox sh -s < packs/code-server/smoke.sh
# Offline: loads what the recipe compiled and starts nothing that listens.
set -eu
expect() { # WHAT PATTERN VALUE
  case "$3" in $2) echo "ok: $1 $3" ;; *) echo "FAIL: $1 is '$3', expected $2" >&2; exit 1 ;; esac
}
cs="$(dirname "$(dirname "$(readlink -f "$(command -v code-server)")")")/lib/node_modules/code-server"
vscode="$cs/lib/vscode/node_modules"
# (its first run also writes ~/.config/code-server/config.yaml, and says so first)
expect code-server '4.100.3 * with Code 1.100.3' "$(code-server --version | tail -n 1)"
expect node 'v20.*' "$(node -v)"
expect ripgrep 'ripgrep *' "$("$vscode/@vscode/ripgrep/bin/rg" --version | head -n 1)"
expect 'node-pty' 'function' "$(cd "$vscode" && node -e 'console.log(typeof require("node-pty").spawn)')"
expect spdlog 'function' "$(cd "$vscode" && node -e 'console.log(typeof require("@vscode/spdlog").createRotatingLogger)')"
expect argon2 'verified' "$(cd "$cs" && node -e 'const a = require("argon2"); a.hash("pw").then((h) => a.verify(h, "pw")).then((ok) => console.log(ok ? "verified" : "bad"))')"
expect 'file watcher' 'function' "$(cd "$vscode" && node -e 'console.log(typeof require("@parcel/watcher").subscribe)')"
