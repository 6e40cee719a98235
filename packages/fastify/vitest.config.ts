import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30000,
    hookTimeout: 30000,
    // Each test file starts real server processes; run files one after another on 2-core machines.
    fileParallelism: false,
  },
});
