#!/bin/sh
# Smoke test of angular@18 (and the node@20 pack it depends on), run as dev in a
# sandbox where the pack is installed:  ssh aibox sh -s < packs/angular-18/smoke.sh
set -eu
export NG_CLI_ANALYTICS=false
cd "$(mktemp -d)" # outside any Angular workspace: ng version reports the global CLI
out=$(ng version)
printf '%s\n' "$out"
case "$out" in *"Angular CLI: 18."*) echo "ok: ng is Angular CLI 18" ;; *) echo "FAIL: ng version does not say Angular CLI: 18" >&2; exit 1 ;; esac
case "$out" in *"Node: 20."*) echo "ok: ng runs on Node.js 20" ;; *) echo "FAIL: ng does not run on Node.js 20" >&2; exit 1 ;; esac
