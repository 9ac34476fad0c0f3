#!/bin/sh
# `code-server` in the sandbox: the real one with the sandbox's defaults (README.md).
#   - bound to the sandbox's loopback only (CODE_SERVER_BIND_ADDR, default 127.0.0.1:13337):
#     reached from the host through an SSH port forward, never a published port;
#   - no telemetry, no update check, no "getting started" page;
#   - no extensions gallery: the sandbox's egress policy reaches none. An org that runs an
#     Open VSX mirror sets EXTENSIONS_GALLERY to it (and allows it in network.egress).
# Auth stays code-server's default (a password in ~/.config/code-server/config.yaml), because
# the forwarded port on the host is open to every local user of that machine.
# Flags given on the command line come after these defaults, so they win.
set -eu
pack=$(dirname "$(dirname "$(readlink -f "$0")")")
if [ -z "${EXTENSIONS_GALLERY+set}" ]; then EXTENSIONS_GALLERY='{}'; export EXTENSIONS_GALLERY; fi
exec node "$pack/lib/node_modules/code-server/out/node/entry.js" \
  --bind-addr "${CODE_SERVER_BIND_ADDR:-127.0.0.1:13337}" \
  --disable-telemetry --disable-update-check --disable-getting-started-override "$@"
