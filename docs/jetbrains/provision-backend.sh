#!/bin/sh
# Pre-provisions a JetBrains IDE backend in an aibox sandbox from an org mirror, so JetBrains
# Gateway finds it there and downloads nothing (docs/jetbrains.md). Run on the host:
#   ssh aibox sh -s -- ARCHIVE_URL SHA256 < docs/jetbrains/provision-backend.sh
# ARCHIVE_URL: the IDE's Linux .tar.gz on the org's mirror (the sandbox's egress policy must
# allow that host); SHA256: the archive's sha256 as JetBrains publishes it (hex, or sha256:hex).
# The backend goes where Gateway keeps its own downloads, ~/.cache/JetBrains/RemoteDev/dist,
# on the sandbox's home volume: it survives `aibox stop`/`start` and re-creation.
set -eu
url=${1:?usage: provision-backend.sh ARCHIVE_URL SHA256}
sum=${2:?usage: provision-backend.sh ARCHIVE_URL SHA256}
sum=${sum#sha256:}
case "$sum" in
  *[!0-9a-f]*) echo "error: the checksum must be 64 hex digits (sha256), not '$sum'" >&2; exit 2 ;;
esac
[ "${#sum}" -eq 64 ] || { echo "error: the checksum must be 64 hex digits (sha256), not '$sum'" >&2; exit 2; }

dist="$HOME/.cache/JetBrains/RemoteDev/dist"
name=$(basename "${url%%[?#]*}")
name=${name%.tar.gz}
dest="$dist/$name"
mkdir -p "$dist"
if [ -x "$dest/bin/remote-dev-server.sh" ]; then
  echo "$name is already in $dist"
else
  work=$(mktemp -d "$dist/.provision.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  curl -fsSL --retry 3 -o "$work/backend.tar.gz" "$url"
  if ! echo "$sum  $work/backend.tar.gz" | sha256sum -c - > /dev/null 2>&1; then
    echo "error: $url does not have the sha256 $sum: nothing was installed" >&2
    exit 1
  fi
  mkdir "$work/backend"
  tar -xzf "$work/backend.tar.gz" -C "$work/backend" --strip-components=1 --no-same-owner
  [ -x "$work/backend/bin/remote-dev-server.sh" ] || { echo "error: $url is not an IDE backend: no bin/remote-dev-server.sh in it" >&2; exit 1; }
  mv "$work/backend" "$dest"
  echo "installed $name in $dist"
fi
"$dest/bin/remote-dev-server.sh" registerBackendLocationForGateway
