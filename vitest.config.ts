import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Lab hosts are real processes in network namespaces: files that build them must not race each other.
    fileParallelism: true,
    poolOptions: { forks: { singleFork: false } },
    pool: 'forks',
  },
});
