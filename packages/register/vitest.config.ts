import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The tests start real Node processes under the preload (c8 collects their coverage of dist/).
    testTimeout: 60000,
    hookTimeout: 60000,
    fileParallelism: false,
  },
});
