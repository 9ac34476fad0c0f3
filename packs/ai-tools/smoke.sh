#!/bin/sh
# Smoke test of ai-tools (and the node@20 pack its codex launcher runs on), run as dev
# in a sandbox where the pack is installed:  ssh aibox sh -s < packs/ai-tools/smoke.sh
# Offline: neither command needs a login or the network.
set -eu
expect() { # WHAT PATTERN VALUE
  case "$3" in $2) echo "ok: $1 $3" ;; *) echo "FAIL: $1 is '$3', expected $2" >&2; exit 1 ;; esac
}
expect claude '2.1.332 (Claude Code)' "$(claude --version)"
expect codex 'codex-cli 0.171.0' "$(codex --version)"
# The LLM proxy variables: each set exactly when the org configured one.
echo "ANTHROPIC_BASE_URL=${ANTHROPIC_BASE_URL-(not set)}"
echo "OPENAI_BASE_URL=${OPENAI_BASE_URL-(not set)}"
