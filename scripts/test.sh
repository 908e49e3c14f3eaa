#!/usr/bin/env bash
# The whole test suite: unit and loopback-TCP tests of every package, a short fuzz pass of
# the decoder, and the kernel tests on real SocketCAN (vcan on this host when it has
# AF_CAN, otherwise inside a User-Mode Linux kernel). Ends with one closing line,
# "tests: N passed, N failed, N skipped"; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
command -v pnpm >/dev/null || { echo "test: no pnpm on PATH; run 'bash scripts/setup.sh' first" >&2; exit 1; }
step() { printf '\n== test: %s\n' "$*" >&2; }
rm -f packages/*/.vitest-report*.json

step "unit and loopback tests (all packages)"
pnpm test

step "decoder fuzz, short pass"
pnpm --filter @canbridge/protocol run fuzz:ci

step "kernel tests on real SocketCAN"
pnpm run test:kernel

node scripts/test-summary.mjs packages/*/.vitest-report*.json
