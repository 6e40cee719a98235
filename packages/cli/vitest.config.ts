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
    // The end-to-end tests start Prometheus, Alertmanager, PM2 and reference services: one file at a
    // time (with two files at once, the PM2 test's Prometheus once refused connections mid-test on a
    // loaded machine; the cause is not known yet).
    fileParallelism: false,
  },
});
