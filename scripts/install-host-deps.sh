#!/usr/bin/env bash
# Installs the host programs aibox needs (Debian/Ubuntu, as root): podman and
# runc to run the sandbox, runsc (gVisor) for isolation, OpenSSH client to
# connect, nftables (aibox puts the egress rules into each sandbox's network namespace), debootstrap to build the base image locally (with gpgv and the Debian
# archive keyring, so it verifies the mirror's signature), zstd for tool pack layers. For the tests: docker-registry
# (a real OCI registry; each test runs its own on loopback) and apache2-utils (htpasswd
# makes its bcrypt logins), postgresql (the approval store's tests run a throwaway
# cluster of their own), openssh-server (the push hook's test serves git over its own sshd
# on loopback), chromium (the approval dashboard's tests drive it headless through
# playwright-core), python3-aiosmtpd and openssl (the notification tests run a real SMTP
# server with STARTTLS on loopback, with a certificate of their own), and python3, make
# and g++ for npm ci to build better-sqlite3 from source when no prebuilt binary can be
# had. Installs only what is missing.
set -euo pipefail

packages=(podman runc nftables uidmap slirp4netns fuse-overlayfs runsc debootstrap gpgv debian-archive-keyring openssh-client ca-certificates zstd docker-registry apache2-utils postgresql openssh-server chromium python3-aiosmtpd openssl python3 make g++)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
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
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
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
