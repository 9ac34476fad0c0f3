#!/bin/sh
# Smoke test of mcp-git, run as dev in a sandbox where the pack is installed:
#   ssh aibox sh -s < packs/mcp-git/smoke.sh
# Speaks MCP over stdio: initialize, then git status of a fresh repository under /workspace.
set -eu
repo=$(mktemp -d /workspace/.smoke-git-XXXXXX)
trap 'rm -rf "$repo"' EXIT
git -C "$repo" init -q
touch "$repo/untracked-marker"
out=$( (printf '%s\n' \
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"smoke","version":"1"}}}' \
  '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
  "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"git_status\",\"arguments\":{\"path\":\"$repo\"}}}"; sleep 5) \
  | timeout 30 git-mcp-server 2>/dev/null)
printf '%s\n' "$out"
case "$out" in *'"serverInfo"'*) echo "ok: the server answers initialize" ;; *) echo "FAIL: no initialize reply" >&2; exit 1 ;; esac
case "$out" in *untracked-marker*) echo "ok: git_status sees the untracked file" ;; *) echo "FAIL: git_status did not report the untracked file" >&2; exit 1 ;; esac
