#!/usr/bin/env bash
# Runs the edge's kernel tests (real SocketCAN on vcan, in the project's harness; those of
# packages/edge-client and the edge's tests with a TCPBus in packages/e2e) against the x64
# single executable from dist/edge instead of `node dist/main.js`:
#   bash packaging/edge/kernel-test.sh [--binary PATH]
# Without --binary it unpacks dist/edge/canbridge-edge-<version>-linux-x64.tar.gz. The tests
# start the daemon (and `doctor`) through EdgeProcess (@canbridge/edge-client/testing), which
# runs $CANBRIDGE_EDGE_BIN in place of dist/main.js when it is set.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
root=$PWD
bin=
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) bin=$(readlink -f "$2"); shift 2 ;;
    -h | --help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kernel-test.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  version=$(node -p "require('./packages/edge-client/package.json').version")
  tarball=dist/edge/canbridge-edge-$version-linux-x64.tar.gz
  [ -f "$tarball" ] || { echo "kernel-test.sh: $tarball missing: bash scripts/build-edge.sh --arch x64" >&2; exit 1; }
  rm -f "$root/packaging/.cache/kernel-sea/edge-process.ts" # left by the text-patching predecessor
  work=$root/packaging/.cache/kernel-sea/unpacked
  rm -rf "$work" && mkdir -p "$work"
  tar xzf "$tarball" -C "$work"
  bin=$work/canbridge-edge-$version-linux-x64/canbridge-edge
fi
echo "kernel-test: edge kernel tests against $bin ($("$bin" --version | head -1))" >&2
# the tests' own imports: the edge's test tooling and the workstation library (TCPBus), built
pnpm --filter '@canbridge/e2e^...' run build >/dev/null ||
  { echo "kernel-test.sh: the packages the end-to-end tests import do not build" >&2; exit 1; }
export CANBRIDGE_EDGE_BIN=$bin
export PATH=$root/node_modules/.bin:$PATH
# the harness as `pnpm test:kernel` runs it (raised socket buffers: candump, the tests'
# reference, loses frames at the default); the default reporter only: the JSON report of
# vitest.kernel.config.ts belongs to `pnpm test:kernel`
# the e2e files named are those that start the daemon through EdgeProcess
exec bash scripts/kernel-harness.sh --fd --vcan vcan0,vcan1 \
  --sysctl net.core.rmem_default=4194304 --sysctl net.core.rmem_max=8388608 --timeout 1200 -- \
  bash -c 'cd packages/edge-client && vitest run --config vitest.kernel.config.ts --reporter=default &&
    cd ../e2e && vitest run --config vitest.kernel.config.ts --reporter=default \
      test/kernel/doctor.test.ts test/kernel/unprivileged.test.ts test/kernel/spool-restart.test.ts \
      test/kernel/fleet-vcan.test.ts'
