import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // kernel tests need real SocketCAN: `pnpm test:kernel` runs them (vitest.kernel.config.ts)
    exclude: [...configDefaults.exclude, 'test/kernel/**'],
    // The JSON report feeds the suite's closing line (scripts/test-summary.mjs).
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
    testTimeout: 20_000,
  },
})
