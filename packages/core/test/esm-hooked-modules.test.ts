/**
 * The table of modules each bundled instrumentation patches (../src/tracing/esm-hooked-modules.generated.ts,
 * read by the deferred loader and @obs/register's ESM hooks) is derived from the instrumentations' own
 * module definitions (issue 18): the generator, run here on the sources, must make exactly the
 * committed file. After changing an instrumentation or its version: `pnpm --filter @obs/core generate`.
 */
import { channel } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { INSTRUMENTATION_NAMES } from '../src/config/resolve.js';
import {
  deriveEsmHookedModules,
  esmHookedModulesSource,
  MODULE_ALIASES,
} from '../src/tracing/derive-esm-hooked-modules.js';
import { GENERATED_ESM_HOOKED_MODULES } from '../src/tracing/esm-hooked-modules.generated.js';
import { DEFERRED_INSTRUMENTATIONS, ESM_HOOKED_MODULES } from '../src/tracing/instrumentations.js';

const GENERATED_FILE = new URL('../src/tracing/esm-hooked-modules.generated.ts', import.meta.url);

describe('the ESM hooked modules table', () => {
  // derived in each test, not while the file loads: Stryker then runs a mutant against the tests that reach it
  it('is the committed generated file, regenerated from the instrumentations (`pnpm --filter @obs/core generate`)', () => {
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(esmHookedModulesSource(deriveEsmHookedModules()));
    expect(ESM_HOOKED_MODULES).toBe(GENERATED_ESM_HOOKED_MODULES);
  });

  it('names, per instrumentation, its module definitions and then only its documented aliases', () => {
    const derived = deriveEsmHookedModules();
    expect(Object.keys(derived)).toEqual([...INSTRUMENTATION_NAMES]);
    expect(derived.pg).toEqual(['pg', 'pg-pool']);
    expect(derived.redis).toEqual(['redis', '@redis/client', '@node-redis/client']);
    expect(derived.mysql2).toEqual(['mysql2', 'mysql2/promise']);
    expect(derived.http).toEqual(['https', 'http', 'node:http', 'node:https']);
    // diagnostics channels and runtime metrics: nothing to hook
    expect(derived.undici).toEqual([]);
    expect(derived['runtime-node']).toEqual([]);
    for (const [name, aliases] of Object.entries(MODULE_ALIASES)) {
      expect(derived[name as keyof typeof derived].slice(-aliases.length), name).toEqual(aliases);
    }
  });

  it('gives every deferred instrumentation a module to wait for', () => {
    const derived = deriveEsmHookedModules();
    for (const name of DEFERRED_INSTRUMENTATIONS) expect(derived[name].length, name).toBeGreaterThan(0);
  });

  it('leaves no instrumentation it built running (undici, enabled when built, no longer listens)', () => {
    deriveEsmHookedModules();
    expect(channel('undici:request:create').hasSubscribers).toBe(false);
  });
});
