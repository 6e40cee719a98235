import { defineConfig } from 'vitest/config';

/** Coverage floors: a little under the numbers measured (docs/testing.md). */
const THRESHOLDS = { statements: 76, branches: 74, functions: 70, lines: 78 };

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
    // a file's beforeAll connects to the real services; 10 s (the default) ran out with two runs at once
    hookTimeout: 30000,
    // Two files at once (vitest's default on 2 cores is one): many files wait on the child processes
    // and databases they use. Every file names its tables, queues and keys for its own run.
    maxWorkers: 2,
    // Worker threads, not forked processes: the same tests and coverage for about a fifth less CPU
    // (no process per file). No test here needs a process of its own: those that do start one.
    pool: 'threads',
  },
});
