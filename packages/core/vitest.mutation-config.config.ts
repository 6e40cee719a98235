import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The in-process tests that exercise `src/config/resolve.ts` (default) or, with
 * `OBS_MUTATION_TESTS=sdk`, `src/sdk.ts`: the test set of `stryker.config-sdk.json` (docs/testing.md,
 * "Mutation testing"). Tests that start a child process load `dist/`, not `src/`, so they cannot kill
 * a mutant of `src/`; tests that resolve a configuration in a `beforeAll` hook (`errors-sentry`) make
 * every mutant "static" (run against every test), so they are left out too, to keep a run short.
 */
const TESTS = {
  config: [
    'test/config.test.ts',
    'test/config-parse.test.ts',
    'test/config-hostile-values.test.ts',
    'test/instrumentation-selection.test.ts',
    'test/otlp-grpc-optional.test.ts',
    'test/management-server.test.ts',
    'test/errors.test.ts',
    'test/docs-consistency.test.ts',
  ],
  sdk: ['test/telemetry.test.ts', 'test/spec-variables.test.ts'],
};

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: process.env.OBS_MUTATION_TESTS === 'sdk' ? TESTS.sdk : TESTS.config,
  },
});
