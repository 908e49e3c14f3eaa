#!/usr/bin/env bash
# The figures of the built executables (dist/edge), as a table: size, --version cold start
# (native or qemu-user), cold start to first frame forwarded over loopback (e2e.ts), and on
# the host RSS idle and at 5,000 frames/s. Medians of --runs runs (default 5 / 3).
#   bash packaging/edge/figures.sh [--arch x64,arm64,armv7] [--runs N] [--node-baseline]
# --node-baseline also measures `node packages/edge-client/dist/main.js` (the same code
# without the single-executable packaging) for comparison.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
arches=x64,arm64,armv7
runs=5
baseline=0
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arches=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --node-baseline) baseline=1; shift ;;
    *) echo "figures.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
version=$(node -p "require('./packages/edge-client/package.json').version")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
host=$(uname -m)
runner() {
  case "$1/$host" in
    x64/x86_64 | arm64/aarch64 | node/*) echo "" ;;
    arm64/*) echo "qemu-aarch64-static -L /usr/aarch64-linux-gnu" ;;
    armv7/*) echo "qemu-arm-static -L /usr/arm-linux-gnueabihf" ;;
  esac
}
printf '%-6s %-10s %-11s %-18s %-22s %s\n' arch how binary "--version (ms)" "first frame (ms)" "RSS idle / 5k fps (MiB)"
list=${arches//,/ }
[ $baseline = 1 ] && list="$list node"
for arch in $list; do
  if [ "$arch" = node ]; then
    bin=$work/node-main.sh
    printf '#!/bin/sh\nexec %s %s "$@"\n' "$(command -v node)" "$PWD/packages/edge-client/dist/main.js" >"$bin"
    chmod +x "$bin"
    size="-"
    e2e_arch=$(case $host in x86_64) echo x64 ;; aarch64) echo arm64 ;; esac)
  else
    tar xzf "dist/edge/canbridge-edge-$version-linux-$arch.tar.gz" -C "$work"
    bin=$work/canbridge-edge-$version-linux-$arch/canbridge-edge
    size=$(du -m --apparent-size "$bin" | cut -f1)
    e2e_arch=$arch
  fi
  r=$(runner "$arch")
  how=${r:+qemu-user}
  how=${how:-native}
  # shellcheck disable=SC2086
  v=$(for _ in $(seq "$runs"); do s=$(date +%s%N); $r "$bin" --version >/dev/null; echo $((($(date +%s%N) - s) / 1000000)); done | median)
  f=$(for _ in $(seq $(((runs + 1) / 2))); do
    node packaging/edge/e2e.ts --binary "$bin" --arch "$e2e_arch" --no-rss --frames 200 --rate 1000 --json |
      node -e "process.stdout.write(String(Math.round(JSON.parse(require('fs').readFileSync(0,'utf8')).firstFrameMs)))"
    echo
  done | median)
  rss=-
  if [ -z "$r" ]; then
    rss=$(node packaging/edge/e2e.ts --binary "$bin" --arch "$e2e_arch" --frames 200 --rate 1000 --rss-rate 5000 --rss-seconds 10 --json |
      node -e "const r=JSON.parse(require('fs').readFileSync(0,'utf8')); process.stdout.write(r.idleRssMiB.toFixed(1)+' / '+r.loadRssMiB.toFixed(1)+' ('+r.loadRateFps+' fps)')")
  fi
  printf '%-6s %-10s %-11s %-18s %-22s %s\n' "$arch" "$how" "${size} MiB" "$v" "$f" "$rss"
done
printf '(load average at the end: %s)\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
