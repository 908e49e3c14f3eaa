// The CI soak: real SocketCAN (vcan), run inside scripts/kernel-harness.sh by `pnpm test:kernel`.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/soak/ci-soak.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report-kernel.json' },
  },
})
