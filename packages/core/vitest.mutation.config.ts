import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The vitest config of `stryker.narrow.config.mjs`: only the in-process test files named in
 * `OBS_MUTATION_TESTS` (comma-separated: file paths, or the name of a set below), so that a module's
 * mutants run against the tests that exercise it rather than every test that imports it. Tests that
 * start a child process load `dist/`, not `src/`, and cannot kill a mutant of `src/`; tests that
 * resolve a configuration while a file loads or in a `beforeAll` make Stryker run every mutant
 * against every test ("static"). docs/testing.md, "Mutation testing", lists the set each module used.
 */
const SETS: Record<string, string[]> = {
  /** `src/config/resolve.ts`: the tests that resolve a configuration in the test process. */
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
  /** `src/sdk.ts`, `src/logging/export.ts`: the tests that start the pipeline in the test process. */
  sdk: ['test/telemetry.test.ts', 'test/spec-variables.test.ts'],
};

const files = (process.env.OBS_MUTATION_TESTS ?? '')
  .split(',')
  .map((name) => name.trim())
  .filter((name) => name !== '')
  .flatMap((name) => SETS[name] ?? [name]);
if (files.length === 0) {
  throw new Error(`OBS_MUTATION_TESTS: name test files or a set (${Object.keys(SETS).join(', ')}), comma-separated`);
}

export default defineConfig({ ...base, test: { ...base.test, include: files } });
