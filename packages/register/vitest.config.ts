import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The tests start real Node processes under the preload (c8 collects their coverage of dist/).
    testTimeout: 30000,
    hookTimeout: 30000,
    fileParallelism: false,
  },
});
