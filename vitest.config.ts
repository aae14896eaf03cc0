import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // The JSON report feeds the plain "N passed, N failed" line that .ci/run prints at the end.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Lab hosts are real processes in network namespaces: files that build them must not race each other.
    fileParallelism: true,
    poolOptions: { forks: { singleFork: false } },
    pool: 'forks',
  },
});
