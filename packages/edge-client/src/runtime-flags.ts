// The V8 settings canbridge-edge is meant to run with. The single executable carries them
// (packaging/edge/build.ts puts them in its SEA execArgv); `pnpm bench` runs `node` with them,
// so that it measures what ships; with `node dist/main.js`, give them to node yourself.
// Measured with `pnpm bench` part 1 (1,000,000 frames/s) and bench/vcan-rates.ts (kernel
// harness, 1,000 and 5,000 frames/s, 6 trials each), against no flags:
// - --max-opt=2: Maglev, not Turbofan. Peak RSS 7 MB lower (Turbofan's code pages and its
//   compile memory), CPU per frame at real bus rates unchanged within the trials' spread;
// - --max-semi-space-size=1: the main thread's young generation at V8's smallest, as the
//   workers' (WORKER_LIMITS): with --threads 1 the main thread carries the frames, 5 MB less;
// - --max-old-space-size=256: a leak ends in a restart, not the OOM killer; below 2 GB V8
//   also skips remapping its builtins next to the main isolate (2 MB).
// --max-opt is refused in NODE_OPTIONS: it goes on node's command line (or execArgv).
export const RUNTIME_FLAGS: readonly string[] = [
  '--max-opt=2',
  '--max-semi-space-size=1',
  '--max-old-space-size=256',
]
