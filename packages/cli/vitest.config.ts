import { defineConfig } from 'vitest/config';

/** Coverage floors: a little under the numbers measured (docs/testing.md). */
const THRESHOLDS = { statements: 89, branches: 79, functions: 93, lines: 91 };

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // `vitest run --coverage` (the package's test script): v8 coverage of src/ in the test process
    // (code that runs only in the child processes the tests start is not measured), with a floor.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      thresholds: THRESHOLDS,
    },
    testTimeout: 60000,
    hookTimeout: 60000,
    // Two files at once (vitest's default on 2 cores is one): the end-to-end files mostly wait on the
    // Prometheus, Alertmanager, PM2 and services they start, each on a port freePort() claimed for it.
    maxWorkers: 2,
  },
});
