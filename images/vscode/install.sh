#!/bin/sh
# Installs the VS Code server pre-installed in the aibox image (run by the Containerfile as
# root, with the build context's vscode/ folder as $1). aibox has already checked the sha256
# of the archive and of every VSIX on the host before this runs (src/ide/vscode-fetch.ts).
#   $1/commit             the VS Code commit
#   $1/server.tar.gz      the server archive: one top folder holding bin/code-server
#   $1/cli.tar.gz         optional: the VS Code CLI archive (one file: code), which Remote-SSH's
#                         exec server looks for as ~/.vscode-server/code-<commit>
#   $1/extensions/*.vsix  the curated extensions, installed offline with the server's own CLI
# Result: /opt/vscode-server/<commit>/server, .../cli/code and .../extensions, root's and read-only for
# dev, and /opt/vscode-server/commit; `aibox start` links them into dev's home volume.
set -eu
ctx=$1
read -r commit < "$ctx/commit"
dest=/opt/vscode-server/$commit
rm -rf "$dest"
mkdir -p "$dest/server" "$dest/extensions"
tar -xzf "$ctx/server.tar.gz" -C "$dest/server" --strip-components=1 --no-same-owner
if [ ! -f "$dest/server/bin/code-server" ]; then
  echo "aibox: the VS Code server archive for $commit has no <top folder>/bin/code-server: not a VS Code server archive" >&2
  exit 1
fi
# The server never sends telemetry, whatever a client passes: VS Code takes the last
# --telemetry-level it is given (the flag otherwise sends until a client's settings arrive).
for entry in bin/code-server server.sh; do
  if [ -f "$dest/server/$entry" ]; then
    mv "$dest/server/$entry" "$dest/server/$entry.aibox-orig"
    printf '#!/bin/sh\n# aibox: telemetry off, whatever the client asks (VS Code uses the last --telemetry-level).\nexec %s "$@" --telemetry-level off\n' "$dest/server/$entry.aibox-orig" > "$dest/server/$entry"
    chmod 0755 "$dest/server/$entry" "$dest/server/$entry.aibox-orig"
  fi
done
if [ -f "$ctx/cli.tar.gz" ]; then
  mkdir -p "$dest/cli"
  tar -xzf "$ctx/cli.tar.gz" -C "$dest/cli" --no-same-owner
  if [ ! -f "$dest/cli/code" ]; then
    echo "aibox: the VS Code CLI archive for $commit has no top-level code binary" >&2
    exit 1
  fi
  chmod 0755 "$dest/cli/code"
fi
data=$(mktemp -d)
for vsix in "$ctx"/extensions/*.vsix; do
  if [ ! -e "$vsix" ]; then continue; fi
  echo "aibox: installing ${vsix##*/} with the server's CLI"
  if ! "$dest/server/bin/code-server" --accept-server-license-terms --server-data-dir "$data" --extensions-dir "$dest/extensions" --install-extension "$vsix"; then
    echo "aibox: the VS Code server could not install ${vsix##*/}" >&2
    exit 1
  fi
done
rm -rf "$data" /root/.vscode-server
printf '%s\n' "$commit" > /opt/vscode-server/commit
chown -R 0:0 /opt/vscode-server
chmod -R a+rX,go-w /opt/vscode-server
