#!/usr/bin/env bash
# The main job on one machine, no hardware: a workstation TCPBus printing every frame, and
# canbridge-edge streaming a virtual CAN channel to it over loopback TCP.
# Usage: bash scripts/bridge-demo.sh [seconds] [frames-per-second]   (defaults: 5, 20)
# The edge sends seconds × frames-per-second frames, and the demo ends once the TCPBus
# has printed every one of them (the count it announces is the count it shows).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
seconds=${1:-5}
rate=${2:-20}
[[ $seconds =~ ^[0-9]+$ && $rate =~ ^[0-9]+$ ]] || { echo "usage: bridge-demo.sh [seconds] [frames-per-second]" >&2; exit 2; }
[ -f packages/edge-client/dist/main.js ] || pnpm build >/dev/null
frames=$((seconds * rate))
((frames > 0)) || { echo "bridge-demo: nothing to send (seconds × frames-per-second is 0)" >&2; exit 2; }
echo "bridge-demo: $frames frames ($seconds s at $rate frames/s) from a virtual channel, over loopback TCP" >&2
port=$((30000 + RANDOM % 20000))
node packaging/edge/receive.ts --host 127.0.0.1 --port "$port" --frames "$frames" &
receiver=$!
trap 'kill "$receiver" "${edge:-}" 2>/dev/null || true' EXIT
sleep 1
node packages/edge-client/dist/main.js --server "127.0.0.1:$port" --edge-id demo-edge \
  --channel "virtual:demo?rate=$rate&pattern=mixed&count=$frames" --spool-dir "$(mktemp -d)" \
  --log-level error &
edge=$!
# the receiver stops once every frame has come; a generous bound for a stuck run
( sleep $((seconds + 60)) && kill "$receiver" 2>/dev/null ) &
watchdog=$!
wait "$receiver" || true
kill "$watchdog" 2>/dev/null || true
kill -TERM "$edge"
wait "$edge" || true
