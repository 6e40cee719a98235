// Writes src/tracing/esm-hooked-modules.generated.ts from the built code (run `pnpm run build` first):
// `pnpm --filter @obs/core generate`. With `--check` it writes nothing and exits 1 when the file is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { deriveEsmHookedModules, esmHookedModulesSource } from '../dist/tracing/derive-esm-hooked-modules.js';

const file = new URL('../src/tracing/esm-hooked-modules.generated.ts', import.meta.url);
const source = esmHookedModulesSource(deriveEsmHookedModules());
if (process.argv.includes('--check')) {
  if (readFileSync(file, 'utf8') !== source) {
    console.error(`${file.pathname} is stale: run \`pnpm --filter @obs/core generate\``);
    process.exitCode = 1;
  }
} else {
  writeFileSync(file, source);
}
