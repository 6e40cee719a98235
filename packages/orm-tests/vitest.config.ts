import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60000,
    hookTimeout: 60000,
    // Each file opens pools on the shared databases; one file at a time on 2-core machines.
    fileParallelism: false,
  },
});
