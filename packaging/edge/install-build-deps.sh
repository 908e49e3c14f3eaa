#!/usr/bin/env bash
# Installs the Debian packages scripts/build-edge.sh and packaging/edge/test.sh need on an
# x86-64 Debian/Ubuntu build host (root; for CI and fresh machines):
#   cross compilers and libc for arm64 and armhf (the socketcan addon), patch (applies
#   patches/socketcan@<version>.patch to its source), qemu-user (runs the
#   arm Node to write the SEA blob, and the arm executables in the tests), binutils, make.
#   with --vm also qemu-system-arm and cpio (packaging/edge/vm/vm-test.sh, test.sh --vm).
#   bash packaging/edge/install-build-deps.sh [--arch x64,arm64,armv7] [--vm]
set -euo pipefail
arches=x64,arm64,armv7
vm=0
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arches=$2; shift 2 ;;
    --vm) vm=1; shift ;;
    *) echo "install-build-deps: unknown option $1" >&2; exit 2 ;;
  esac
done
pkgs=(binutils make g++ file patch)
[ $vm = 1 ] && pkgs+=(qemu-system-arm cpio)
case ",$arches," in *,arm64,*) pkgs+=(g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static) ;; esac
case ",$arches," in *,armv7,*) pkgs+=(g++-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user-static) ;; esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-build-deps: all present (${pkgs[*]})" >&2
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "install-build-deps: run as root: apt-get install -y ${missing[*]}" >&2; exit 1; }
echo "install-build-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
