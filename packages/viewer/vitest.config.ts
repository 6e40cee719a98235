import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60000,
    hookTimeout: 60000,
    // The browser tests start Chromium and the reference service: one file at a time on 2 cores.
    fileParallelism: false,
  },
});
