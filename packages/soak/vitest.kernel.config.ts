// Kernel tests: real SocketCAN (vcan), run inside scripts/kernel-harness.sh by `pnpm test:kernel`:
// the CI soak and the soak over ssh.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/kernel/**/*.test.ts'],
    // one kernel, one vcan0: one file at a time
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report-kernel.json' },
  },
})
