import { defineConfig } from 'vitest/config';

/** Coverage floors: a little under the numbers measured (docs/testing.md). */
const THRESHOLDS = { statements: 73, branches: 72, functions: 66, lines: 75 };

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
    // sized for a busy 2-core machine (real databases, child processes)
    testTimeout: 15000,
  },
});
