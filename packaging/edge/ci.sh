#!/usr/bin/env bash
# CI for the canbridge-edge single executables, in order (each step fails the run):
#   1. install-build-deps.sh --arch x64,arm64,armv7   cross compilers, qemu-user (root; no-op when present)
#   2. scripts/build-edge.sh --arch x64,arm64,armv7    the executables and tarballs in dist/edge
#   3. test.sh --arch x64,arm64,armv7                  the tarballs: --version, --help, doctor, install.sh,
#                                                      systemd unit, end to end over the virtual backend
#                                                      (the arm ones under qemu-user)
#   4. kernel-test.sh                                  the edge's kernel tests (vcan) against the x64 executable
# Prints the time of each step and of the whole run.
#   bash packaging/edge/ci.sh          (.ci/run calls this before scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
arches=x64,arm64,armv7
started=$SECONDS
timings=()
step() {
  local name=$1 t0=$SECONDS
  shift
  printf '\n[edge-ci] === %s: %s\n' "$name" "$*" >&2
  if ! "$@"; then
    printf '[edge-ci] FAILED: %s (after %ds)\n' "$name" $((SECONDS - t0)) >&2
    exit 1
  fi
  timings+=("$(printf '%-12s %4ds' "$name" $((SECONDS - t0)))")
}
step build-deps bash packaging/edge/install-build-deps.sh --arch "$arches"
step build bash scripts/build-edge.sh --arch "$arches"
step test bash packaging/edge/test.sh --arch "$arches"
step kernel-test bash packaging/edge/kernel-test.sh
printf '\n[edge-ci] ok in %ds:\n' $((SECONDS - started)) >&2
printf '[edge-ci]   %s\n' "${timings[@]}" >&2
