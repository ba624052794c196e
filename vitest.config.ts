import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Each file gets its own database; PGlite start-up and scrypt hashing need headroom on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
