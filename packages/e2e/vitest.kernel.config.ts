// Kernel tests: real SocketCAN (vcan), run inside scripts/kernel-harness.sh by `pnpm test:kernel`:
// the edge's doctor, unprivileged run and spool restart with a TCPBus, the log files and
// `canbridge dump`/`play` against can-utils, and the fleet (edge → gateway → JetStream).
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/kernel/**/*.test.ts'],
    // The JSON report feeds the suite's closing line (scripts/test-summary.mjs).
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report-kernel.json' },
    testTimeout: 300_000,
    hookTimeout: 60_000,
    // one kernel, shared interfaces: one file at a time
    fileParallelism: false,
  },
})
