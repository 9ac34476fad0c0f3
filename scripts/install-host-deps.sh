#!/usr/bin/env bash
# Installs the host programs aibox needs (Debian/Ubuntu, as root): podman and
# runc to run the sandbox, runsc (gVisor) for isolation, OpenSSH client to
# connect, nftables (aibox puts the egress rules into each sandbox's network namespace), debootstrap to build the base image locally (with gpgv and the Debian
# archive keyring, so it verifies the mirror's signature), zstd for tool pack layers, curl and util-linux (prlimit) to download them. For the tests: docker-registry
# (a real OCI registry; each test runs its own on loopback) and apache2-utils (htpasswd
# makes its bcrypt logins), postgresql (the approval store's tests run a throwaway
# cluster of their own), openssh-server (the push hook's test serves git over its own sshd
# on loopback), chromium (the approval dashboard's tests drive it headless through
# playwright-core), python3-aiosmtpd and openssl (the notification tests run a real SMTP
# server with STARTTLS on loopback, with a certificate of their own), and python3, make
# and g++ for npm ci to build better-sqlite3 from source when no prebuilt binary can be
# had. openjdk-17-jdk-headless: the debugging tests and the compatibility matrix
# (bench/compat.ts) make a small JVM with its jlink to copy into the sandbox.
# Installs only what is missing.
set -euo pipefail

# gVisor: on Debian bookworm the distribution's runsc (20221219) lacks directfs, and
# file-heavy builds cost about twice as much under it (docs/performance.md). The
# bookworm-backports suite of the mirror this host already uses has 20240729: add that
# suite and pin runsc (only runsc) to it, unless AIBOX_GVISOR_BACKPORTS=0. aibox picks
# its flags by release (src/sandbox/runtime.ts). Anything unusual falls back to the
# distribution's runsc, with a note.
BACKPORTS_SOURCE=/etc/apt/sources.list.d/aibox-bookworm-backports.sources
BACKPORTS_PIN=/etc/apt/preferences.d/aibox-runsc
runsc_from_backports() {
  local id='' codename='' mirror
  id=$(. /etc/os-release && echo "${ID:-}") && codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ "$id" = debian ] && [ "$codename" = bookworm ] || return 1
  [ "$(id -u)" -eq 0 ] || { echo "note: run this as root to install the newer gVisor from bookworm-backports" >&2; return 1; }
  [ -e "$BACKPORTS_SOURCE" ] && [ -e "$BACKPORTS_PIN" ] && return 0
  # The mirror that serves this host's bookworm suite, as apt itself reads the sources.
  mirror=$(apt-get indextargets --format '$(SITE) $(RELEASE) $(TARGET_OF)' | awk '$2 == "bookworm" && $3 == "deb" { print $1; exit }')
  if [ -z "$mirror" ]; then
    echo "note: no bookworm suite in apt's sources, so gVisor comes from the distribution (see aibox doctor)" >&2
    return 1
  fi
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" > "$BACKPORTS_SOURCE"
  printf '# Written by aibox: gVisor (runsc) from bookworm-backports; nothing else from that suite.\nPackage: runsc\nPin: release n=bookworm-backports\nPin-Priority: 990\n' > "$BACKPORTS_PIN"
  echo "Added bookworm-backports of $mirror for runsc only ($BACKPORTS_SOURCE, $BACKPORTS_PIN)" >&2
  apt-get update -q
}

# The runsc release apt would install, when it is newer than the installed one.
runsc_upgrade_pending() {
  local installed candidate
  installed=$(dpkg-query -W -f='${Version}' runsc 2>/dev/null) || return 1
  candidate=$(apt-cache policy runsc | awk '/Candidate:/ { print $2 }')
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ] && dpkg --compare-versions "$candidate" gt "$installed"
}

backports=no
if [ "${AIBOX_GVISOR_BACKPORTS:-1}" = 1 ]; then
  runsc_from_backports && backports=yes
fi

packages=(podman runc nftables uidmap slirp4netns fuse-overlayfs runsc debootstrap gpgv debian-archive-keyring openssh-client ca-certificates zstd curl util-linux docker-registry apache2-utils postgresql openssh-server chromium python3-aiosmtpd openssl python3 make g++ openjdk-17-jdk-headless)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ "$backports" = yes ] && runsc_upgrade_pending; then
  # A running gVisor sandbox cannot be reached, stopped or restarted by a different
  # runsc release (its control socket changed), so never swap runsc under one.
  running=$({ grep -las '^runsc-sandbox' /proc/[0-9]*/cmdline || true; } | wc -l)
  if [ "${running:-0}" -gt 0 ]; then
    echo "note: $running gVisor sandbox(es) running: the newer runsc is not installed now; stop them (aibox ls; aibox stop --name NAME) and run this again" >&2
  else
    echo "gVisor: upgrading runsc to the bookworm-backports release" >&2
    missing+=(runsc)
  fi
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "aibox needs these packages: ${missing[*]}" >&2
  echo "install them: sudo apt-get install -y ${missing[*]}" >&2
  exit 4
fi
echo "Installing ${missing[*]} ..." >&2
apt-get update -q
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" && [ "$backports" = yes ]; then
  echo "note: installing from bookworm-backports failed; falling back to the distribution's runsc (aibox doctor shows what that costs)" >&2
  rm -f "$BACKPORTS_SOURCE" "$BACKPORTS_PIN"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
# The package starts a registry on port 5000 under systemd; the tests run their own.
if [[ " ${missing[*]} " == *" docker-registry "* ]] && [ -d /run/systemd/system ]; then
  systemctl disable --now docker-registry.service || true
fi
# Likewise the package's own cluster on port 5432: the tests start theirs.
if [[ " ${missing[*]} " == *" postgresql "* ]] && [ -d /run/systemd/system ]; then
  systemctl disable --now postgresql.service || true
fi
# And the system sshd on port 22: the push hook's test runs its own on loopback.
if [[ " ${missing[*]} " == *" openssh-server "* ]] && [ -d /run/systemd/system ]; then
  systemctl disable --now ssh.service || true
fi
