import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60000,
    hookTimeout: 60000,
    // Each test file starts real server processes; run files one after another on 2-core machines.
    fileParallelism: false,
  },
});
