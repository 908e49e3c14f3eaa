#!/usr/bin/env bash
# Puts a NATS server binary into .toolchain/nats/ for the fleet package's tests and
# benchmark: Debian's nats-server package, unpacked with dpkg -x (no system install, no
# service, nothing running). The tests start it themselves on 127.0.0.1 with a free port.
# Usage: bash scripts/install-nats-server.sh        (scripts/setup.sh runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
target=.toolchain/nats
binary=$target/nats-server

if [ -x "$binary" ] && "$binary" --version >/dev/null 2>&1; then
  exit 0
fi
command -v apt-get >/dev/null || {
  echo "install-nats-server: needs apt-get (Debian/Ubuntu); or put a nats-server 2.9+ binary at $binary" >&2
  exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt-get download needs the package lists; refresh them once when they do not know the package
if ! apt-cache policy nats-server 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
  else
    echo "install-nats-server: apt does not know nats-server; run 'sudo apt-get update' once" >&2
    exit 1
  fi
fi
# as root apt would hand the download to its _apt user, who cannot write into our mktemp folder
(cd "$work" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" nats-server)
dpkg -x "$work"/nats-server_*.deb "$work/root"
mkdir -p "$target"
install -m 755 "$work/root/usr/sbin/nats-server" "$binary"
"$binary" --version >&2
