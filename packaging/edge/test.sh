#!/usr/bin/env bash
# Checks the built canbridge-edge tarballs in dist/edge (scripts/build-edge.sh first):
# for each architecture given (default: every tarball of the current version there)
#   - SHA256SUMS of dist/edge and inside the tarball
#   - the executable runs (natively, or under qemu-user with the cross libc): --version
#     prints version, protocol, Node, N-API and addon lines; --help exits 0
#   - `doctor --server 127.0.0.1:9`: listed in --help, prints every check and its summary,
#     exits 0 or 1 (this host has no can0 and nothing listens on port 9: 1 is expected)
#   - the install script: into a temporary root (--prefix), twice (idempotent, keeps the
#     configuration), --dry-run changes nothing, --uninstall removes what it installed
#   - the systemd unit passes systemd-analyze verify (where systemd-analyze exists)
#   - end to end over the virtual backend to a TCPBus on loopback (packaging/edge/e2e.ts)
#   - with --vm: arm64 and armv7 on real SocketCAN in a qemu-system VM (vm/vm-test.sh)
# Ends with "edge-packaging: N passed, N failed"; exits non-zero on any failure.
#   bash packaging/edge/test.sh [--arch x64,arm64] [--no-e2e] [--vm] [--dist DIR]
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=scripts/env.sh
source scripts/env.sh
root=$PWD

arches=
e2e=1
vm=0
dist=$root/dist/edge
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arches=$2; shift 2 ;;
    --arch=*) arches=${1#--arch=}; shift ;;
    --no-e2e) e2e=0; shift ;;
    --vm) vm=1; shift ;;
    --dist) dist=$(cd "$2" && pwd); shift 2 ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

version=$(node -p "require('./packages/edge-client/package.json').version")
if [ -z "$arches" ]; then
  arches=$(find "$dist" -maxdepth 1 -name "canbridge-edge-$version-linux-*.tar.gz" 2>/dev/null |
    sed 's/.*-linux-\(.*\)\.tar\.gz/\1/' | sort | paste -sd, -)
fi
[ -n "$arches" ] || { echo "test.sh: no canbridge-edge-$version-linux-*.tar.gz in $dist: run scripts/build-edge.sh" >&2; exit 1; }

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok     %s\n' "$*"; }
not_ok() { failed=$((failed + 1)); printf 'FAILED %s\n' "$*"; }
# check NAME CMD...: runs CMD, output to $log; ok or FAILED with the output's tail
check() {
  local name=$1
  shift
  if "$@" >"$log" 2>&1; then ok "$name"; else not_ok "$name"; sed 's/^/       | /' "$log" | tail -25; fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/log

host_arch=$(uname -m)
# run_bin ARCH BINARY ARGS...: runs the executable natively or under qemu-user
run_bin() {
  local arch=$1 bin=$2
  shift 2
  case "$arch/$host_arch" in
    x64/x86_64 | arm64/aarch64) "$bin" "$@" ;;
    arm64/*) qemu-aarch64-static -L /usr/aarch64-linux-gnu "$bin" "$@" ;;
    armv7/*) qemu-arm-static -L /usr/arm-linux-gnueabihf "$bin" "$@" ;;
    x64/*) qemu-x86_64-static -L /usr/x86_64-linux-gnu "$bin" "$@" ;;
    *) echo "no way to run $arch here" >&2; return 1 ;;
  esac
}

if [ $e2e = 1 ]; then
  # the end-to-end runs use the workstation library (TCPBus)
  pnpm --filter '@canbridge/server-bus...' run build >/dev/null || { echo "test.sh: @canbridge/server-bus does not build" >&2; exit 1; }
fi

check "dist/edge/SHA256SUMS" bash -c "cd '$dist' && sha256sum -c --strict SHA256SUMS"

IFS=, read -r -a list <<<"$arches"
for arch in "${list[@]}"; do
  name=canbridge-edge-$version-linux-$arch
  tarball=$dist/$name.tar.gz
  printf '\n== %s\n' "$name"
  if [ ! -f "$tarball" ]; then not_ok "$arch: $tarball exists"; continue; fi
  mkdir -p "$work/$arch"
  check "$arch: unpacks" tar xzf "$tarball" -C "$work/$arch"
  dir=$work/$arch/$name
  bin=$dir/canbridge-edge
  check "$arch: SHA256SUMS inside the tarball" bash -c "cd '$dir' && sha256sum -c --strict SHA256SUMS"
  for f in canbridge-edge canbridge-edge.service 80-can0.network 99-canbridge.conf config.example.json install.sh README.txt BUILDINFO.json licenses/node.txt licenses/socketcan.txt licenses/third-party.txt; do
    [ -e "$dir/$f" ] || { not_ok "$arch: $f in the tarball"; continue 2; }
  done
  ok "$arch: every file in the tarball"

  # --version: the fields, and the time a cold start takes
  start=$(date +%s%N)
  if run_bin "$arch" "$bin" --version >"$work/version" 2>&1; then
    ms=$((($(date +%s%N) - start) / 1000000))
    missing=
    # the addon was built with the patch pnpm applies (patches/README.md)
    patch_sha=$(sha256sum patches/socketcan@*.patch | cut -d' ' -f1)
    for field in "canbridge-edge $version" "protocol " "node v" "n-api " "addon socketcan " "addon patch sha256 $patch_sha" "linux-$arch" "single-executable"; do
      grep -q "$field" "$work/version" || missing="$missing '$field'"
    done
    if [ -z "$missing" ]; then
      ok "$arch: --version in $ms ms: $(paste -sd'|' "$work/version" | sed 's/|/ | /g')"
    else
      not_ok "$arch: --version lacks$missing"
      sed 's/^/       | /' "$work/version"
    fi
  else
    not_ok "$arch: --version runs"
    sed 's/^/       | /' "$work/version"
  fi
  check "$arch: --help" run_bin "$arch" "$bin" --help

  if run_bin "$arch" "$bin" --help 2>/dev/null | grep -q 'canbridge-edge doctor'; then
    # doctor exits 1 on a host it finds wanting (no can0 here, nothing on port 9): it must
    # still run every check and say what to fix
    run_bin "$arch" "$bin" doctor --server 127.0.0.1:9 >"$log" 2>&1
    code=$?
    summary=$(grep -E '^doctor: [0-9]+ FAIL, [0-9]+ WARN, [0-9]+ OK' "$log")
    if { [ "$code" = 0 ] || [ "$code" = 1 ]; } && [ -n "$summary" ] &&
      grep -qE '^FAIL +server +127\.0\.0\.1:9: ' "$log" && grep -qE '^(OK|WARN|FAIL) +addon ' "$log"; then
      ok "$arch: doctor runs every check (exit $code: $summary)"
    else
      not_ok "$arch: doctor (exit $code)"
      sed 's/^/       | /' "$log" | tail -30
    fi
  else
    not_ok "$arch: --help lists the doctor command"
  fi

  # install.sh into a temporary root, twice, then dry-run and uninstall
  dest=$work/$arch/root
  check "$arch: install.sh --prefix" "$dir/install.sh" --prefix "$dest" --server 10.1.2.3:29536 --bitrate 250K
  installed_ok=1
  for f in usr/local/bin/canbridge-edge etc/systemd/system/canbridge-edge.service etc/systemd/network/80-can0.network \
    etc/sysctl.d/99-canbridge.conf etc/canbridge/edge.json usr/local/share/doc/canbridge-edge/README.txt; do
    [ -f "$dest/$f" ] || { installed_ok=0; echo "       | missing $dest/$f"; }
  done
  [ -x "$dest/usr/local/bin/canbridge-edge" ] || installed_ok=0
  cmp -s "$bin" "$dest/usr/local/bin/canbridge-edge" || installed_ok=0
  grep -q '"server": "10.1.2.3:29536"' "$dest/etc/canbridge/edge.json" || installed_ok=0
  grep -q '^BitRate=250K$' "$dest/etc/systemd/network/80-can0.network" || installed_ok=0
  node -e "JSON.parse(require('fs').readFileSync('$dest/etc/canbridge/edge.json','utf8'))" 2>/dev/null || installed_ok=0
  if [ $installed_ok = 1 ]; then ok "$arch: installed files, modes and settings"; else not_ok "$arch: installed files, modes and settings"; fi

  echo '{"server": "keep.me:1", "channels": ["can0"]}' >"$dest/etc/canbridge/edge.json"
  check "$arch: install.sh again (idempotent)" "$dir/install.sh" --prefix "$dest"
  if grep -q keep.me "$dest/etc/canbridge/edge.json" && grep -q '^BitRate=250K$' "$dest/etc/systemd/network/80-can0.network"; then
    ok "$arch: a second install keeps edge.json and 80-can0.network"
  else
    not_ok "$arch: a second install keeps edge.json and 80-can0.network"
  fi

  before=$(cd "$dest" && find . -printf '%p %s %m\n' | sort | sha256sum)
  check "$arch: install.sh --dry-run" "$dir/install.sh" --prefix "$dest" --dry-run
  after=$(cd "$dest" && find . -printf '%p %s %m\n' | sort | sha256sum)
  if [ "$before" = "$after" ]; then ok "$arch: --dry-run changed nothing"; else not_ok "$arch: --dry-run changed nothing"; fi
  dry=$work/$arch/dry
  check "$arch: install.sh --dry-run into an empty root" "$dir/install.sh" --prefix "$dry" --dry-run
  if [ ! -e "$dry" ]; then ok "$arch: --dry-run created nothing"; else not_ok "$arch: --dry-run created nothing"; fi

  check "$arch: install.sh --uninstall" "$dir/install.sh" --prefix "$dest" --uninstall
  if [ ! -e "$dest/usr/local/bin/canbridge-edge" ] && [ ! -e "$dest/etc/systemd/system/canbridge-edge.service" ] &&
    [ -e "$dest/etc/canbridge/edge.json" ]; then
    ok "$arch: --uninstall removed the program and kept the configuration"
  else
    not_ok "$arch: --uninstall removed the program and kept the configuration"
  fi

  # the real thing as root, in a private mount namespace (copies of /etc, /run and an empty
  # /usr/local; sysctl, systemctl and networkctl are stubs that record their calls)
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    stubs=$work/$arch/stubs
    calls=$work/$arch/calls
    mkdir -p "$stubs" "$work/$arch/etc"
    for c in sysctl systemctl networkctl; do
      printf '#!/bin/sh\necho "%s $*" >> "%s"\n' "$c" "$calls" >"$stubs/$c"
      chmod +x "$stubs/$c"
    done
    cp -a /etc/. "$work/$arch/etc/"
    check "$arch: install.sh as root (private mount namespace)" unshare -m sh -ec "
      mount --bind '$work/$arch/etc' /etc
      mount -t tmpfs tmpfs /usr/local
      mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system
      PATH='$stubs':\$PATH '$dir/install.sh' --server 10.9.8.7:29536 --start --force
      PATH='$stubs':\$PATH '$dir/install.sh' --force
      id canbridge
      getent passwd canbridge | grep -q ':/usr/sbin/nologin\$'
      test -x /usr/local/bin/canbridge-edge
      grep -q '\"server\": \"10.9.8.7:29536\"' /etc/canbridge/edge.json
      grep -q '^net.core.rmem_default = 4194304' /etc/sysctl.d/99-canbridge.conf"
    if grep -q 'sysctl -q -p /etc/sysctl.d/99-canbridge.conf' "$calls" 2>/dev/null &&
      grep -q 'systemctl enable canbridge-edge.service' "$calls" &&
      grep -q 'systemctl restart canbridge-edge.service' "$calls" &&
      grep -q 'systemctl daemon-reload' "$calls"; then
      ok "$arch: as root it applies the sysctl, reloads systemd, enables and (--start) restarts the service"
    else
      not_ok "$arch: as root it applies the sysctl, reloads systemd, enables and (--start) restarts the service"
      sed 's/^/       | /' "$calls" 2>/dev/null
    fi
  else
    echo "skip   $arch: install.sh as root (needs root and unshare)"
  fi

  if command -v systemd-analyze >/dev/null; then
    # the unit as installed, its ExecStart pointed at the unpacked executable: no warning at all
    sed "s#/usr/local/bin/canbridge-edge#$bin#" "$dir/canbridge-edge.service" >"$work/$arch/canbridge-edge.service"
    check "$arch: systemd-analyze verify canbridge-edge.service" \
      bash -c "out=\$(systemd-analyze verify '$work/$arch/canbridge-edge.service' 2>&1) && [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
  fi

  if [ $e2e = 1 ]; then
    check "$arch: end to end over the virtual backend" node packaging/edge/e2e.ts --binary "$bin" --arch "$arch" --no-rss --frames 2000 --rate 1000
    sed 's/^/       | /' "$log" | tail -1
  fi
done

if [ $vm = 1 ]; then
  for arch in "${list[@]}"; do
    [ "$arch" = arm64 ] || [ "$arch" = armv7 ] || continue
    printf '\n== %s in a full-system VM (qemu-system)\n' "$arch"
    check "$arch: real SocketCAN (vcan0) in an $arch VM: 1000 cangen frames arrive" bash packaging/edge/vm/vm-test.sh --arch "$arch"
    grep -E '^\[vm-test\] (VM ran|ok)|RESULT' "$log" | sed 's/^/       | /'
  done
fi

printf '\nedge-packaging: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
