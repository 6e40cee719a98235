import { defineConfig } from 'vitest/config';

/** Coverage floors: a little under the numbers measured (docs/testing.md). */
const THRESHOLDS = { statements: 90, branches: 82, functions: 95, lines: 92 };

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // `vitest run --coverage` (the package's test script): v8 coverage of src/ (the server, store and
    // series), which the tests run in process. The UI in ui/ runs in Chromium and is not measured.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      thresholds: THRESHOLDS,
    },
    testTimeout: 60000,
    hookTimeout: 60000,
    // The browser tests start Chromium and the reference service: one file at a time on 2 cores.
    fileParallelism: false,
  },
});
