import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60000,
    hookTimeout: 60000,
    // The end-to-end test starts Prometheus, Alertmanager and the reference service; run files one
    // after another on 2-core machines.
    fileParallelism: false,
  },
});
