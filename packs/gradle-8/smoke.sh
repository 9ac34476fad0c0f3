#!/bin/sh
# Smoke test of gradle@8, run as dev in a sandbox where the pack (and java@21) is installed:
#   ssh aibox sh -s < packs/gradle-8/smoke.sh
set -eu
expect() { # WHAT PATTERN VALUE
  case "$3" in $2) echo "ok: $1" ;; *) echo "FAIL: $1: '$3' does not match $2" >&2; exit 1 ;; esac
}
expect 'Gradle 8 on JDK 21' '*Gradle 8.14.5*JVM:*21.*' "$(gradle --version --offline --no-daemon)"
