import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60000,
    hookTimeout: 60000,
    // Every target is a real server process, and most of a scenario's time is spent waiting for it
    // (a slow request, a drain, a flush): three files at a time keep two cores busy. The two longest
    // suites are split over two files each (targets.ts, TARGET_SHARES). Each file keeps to its own
    // data (the data test's database, queues named per run, free ports).
    fileParallelism: true,
    maxWorkers: 3,
  },
});
