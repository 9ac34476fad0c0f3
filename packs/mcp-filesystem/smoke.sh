#!/bin/sh
# Smoke test of mcp-filesystem, run as dev in a sandbox where the pack is installed:
#   ssh aibox sh -s < packs/mcp-filesystem/smoke.sh
# Speaks MCP over stdio: initialize, then list /workspace with the server's own tool.
set -eu
dir=$(mktemp -d)
touch "$dir/smoke-marker"
out=$( (printf '%s\n' \
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"smoke","version":"1"}}}' \
  '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
  "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"list_directory\",\"arguments\":{\"path\":\"$dir\"}}}"; sleep 3) \
  | timeout 30 mcp-server-filesystem "$dir" 2>/dev/null)
rm -rf "$dir"
printf '%s\n' "$out"
case "$out" in *'"serverInfo"'*) echo "ok: the server answers initialize" ;; *) echo "FAIL: no initialize reply" >&2; exit 1 ;; esac
case "$out" in *'[FILE] smoke-marker'*) echo "ok: list_directory lists the allowed root" ;; *) echo "FAIL: list_directory did not list the file" >&2; exit 1 ;; esac
