// StrykerJS with vitest.mutation.config.ts: the mutants of one module run against the test files
// named in OBS_MUTATION_TESTS only (docs/testing.md, "Mutation testing"). Example:
//   OBS_MUTATION_TESTS=test/logger.test.ts pnpm --filter @obs/core exec \
//     stryker run stryker.narrow.config.mjs --mutate src/logging/logger.ts
import { readFileSync } from 'node:fs';

const base = JSON.parse(readFileSync(new URL('./stryker.config.json', import.meta.url), 'utf8'));
delete base.$schema;
delete base._comment;

export default {
  ...base,
  vitest: { ...base.vitest, configFile: 'vitest.mutation.config.ts' },
};
