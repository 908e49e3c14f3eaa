// Kernel tests: real SocketCAN (vcan), run inside scripts/kernel-harness.sh by `pnpm test:kernel`.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/kernel/**/*.test.ts'],
    // The JSON report feeds the suite's closing line (scripts/test-summary.mjs).
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report-kernel.json' },
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // one kernel, shared interfaces: one file at a time
    fileParallelism: false,
  },
})
