import { defineConfig } from 'vitest/config';

/** Coverage floors: a little under the numbers measured (docs/testing.md). */
const THRESHOLDS = { statements: 47, branches: 44, functions: 46, lines: 47 };

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
  },
});
