import { defineConfig } from 'vitest/config';

/**
 * A narrower vitest config for StrykerJS (stryker.narrow.config.mjs): only the in-process test files
 * named in `OBS_MUTATION_TESTS` (comma-separated), so that a module's mutants are run against the
 * tests that exercise it rather than every test that imports it (docs/testing.md).
 */
const files = (process.env.OBS_MUTATION_TESTS ?? '')
  .split(',')
  .map((f) => f.trim())
  .filter((f) => f !== '');
if (files.length === 0) throw new Error('OBS_MUTATION_TESTS: name the test files, comma-separated');

export default defineConfig({
  test: {
    include: files,
    testTimeout: 15000,
  },
});
