#!/bin/sh
# Smoke test of bazel@7, run as dev in a sandbox where the pack is installed:
#   ssh aibox sh -s < packs/bazel-7/smoke.sh
# Offline: builds a genrule in a fresh workspace.
set -eu
expect() { # WHAT PATTERN VALUE
  case "$3" in $2) echo "ok: $1" ;; *) echo "FAIL: $1: '$3' does not match $2" >&2; exit 1 ;; esac
}
expect 'bazel is 7' '*Build label: 7.7.1*' "$(bazel --batch version)"
expect 'bazelisk is on PATH' '*/bazelisk' "$(command -v bazelisk)"
dir=$(mktemp -d)
cd "$dir"
touch WORKSPACE # WORKSPACE mode: Bzlmod would fetch bazel_tools' modules from a registry
printf 'genrule(name = "hello", outs = ["hello.txt"], cmd = "echo hello from bazel > $@")\n' > BUILD.bazel
bazel --batch build --noenable_bzlmod //:hello >/dev/null 2>&1
expect 'a genrule builds' 'hello from bazel' "$(cat bazel-bin/hello.txt)"
