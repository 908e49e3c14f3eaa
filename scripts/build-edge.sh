#!/usr/bin/env bash
# Builds the canbridge-edge single executables and their tarballs:
#   bash scripts/build-edge.sh [--arch x64,arm64,armv7] [--entry edge|standin] [--out DIR]
# writes dist/edge/canbridge-edge-<version>-linux-<arch>.tar.gz and dist/edge/SHA256SUMS.
# Checks the toolchain first and says what to install; the work is packaging/edge/build.ts.
# Needs (Debian): g++-aarch64-linux-gnu g++-arm-linux-gnueabihf libc6-dev-arm64-cross
# libc6-dev-armhf-cross qemu-user-static (the arm SEA blobs are written by the arm Node
# under qemu), and the project toolchain (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
say() { printf '[build-edge] %s\n' "$*" >&2; }
die() { printf 'build-edge: %s\n' "$*" >&2; exit 1; }

arches=x64,arm64,armv7
entry=edge
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) [ $# -ge 2 ] || die "--arch needs a list, e.g. x64,arm64"; arches=$2; args+=("$1" "$2"); shift 2 ;;
    --arch=*) arches=${1#--arch=}; args+=("$1"); shift ;;
    --entry) [ $# -ge 2 ] || die "--entry needs edge or standin"; entry=$2; args+=("$1" "$2"); shift 2 ;;
    --entry=*) entry=${1#--entry=}; args+=("$1"); shift ;;
    -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done

command -v node >/dev/null || die "no node on PATH: run 'bash scripts/setup.sh' first"
command -v pnpm >/dev/null || die "no pnpm on PATH: run 'bash scripts/setup.sh' first"

# Debian packages each target needs (host x64 builds x64 natively)
missing=()
need() { command -v "$1" >/dev/null || missing+=("$2"); }
need readelf binutils
need make make
need patch patch
host_arch=$(uname -m)
IFS=, read -r -a list <<<"$arches"
for arch in "${list[@]}"; do
  case "$arch" in
    x64)
      if [ "$host_arch" = x86_64 ]; then need g++ g++; else need x86_64-linux-gnu-g++ "g++-x86-64-linux-gnu libc6-dev-amd64-cross"; need qemu-x86_64-static qemu-user-static; fi ;;
    arm64)
      if [ "$host_arch" = aarch64 ]; then need g++ g++; else need aarch64-linux-gnu-g++ "g++-aarch64-linux-gnu libc6-dev-arm64-cross"; need qemu-aarch64-static qemu-user-static; fi
      [ "$host_arch" = aarch64 ] || [ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || missing+=(libc6-arm64-cross) ;;
    armv7)
      need arm-linux-gnueabihf-g++ "g++-arm-linux-gnueabihf libc6-dev-armhf-cross"; need qemu-arm-static qemu-user-static
      [ -e /usr/arm-linux-gnueabihf/lib/libc.so.6 ] || missing+=(libc6-armhf-cross) ;;
    *) die "unknown architecture '$arch' (choose from x64, arm64, armv7)" ;;
  esac
done
if [ ${#missing[@]} -gt 0 ]; then
  # shellcheck disable=SC2207
  pkgs=($(printf '%s\n' "${missing[@]}" | tr ' ' '\n' | sort -u))
  die "missing build tools for --arch $arches; install them with:
  apt-get update && apt-get install -y ${pkgs[*]}"
fi

say "tools: esbuild, postject, node-gyp, node-addon-api (packaging/edge/tools, npm ci)"
if ! (cd packaging/edge/tools && env -u npm_config_nodedir npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null); then
  die "npm ci in packaging/edge/tools failed"
fi

if [ "$entry" = edge ]; then
  say "building the edge (pnpm --filter @canbridge/edge-client... build)"
  pnpm --filter '@canbridge/edge-client...' run build >/dev/null || die "the edge does not build: run 'pnpm --filter @canbridge/edge-client build' to see why"
fi

exec node packaging/edge/build.ts "${args[@]}"
