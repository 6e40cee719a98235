/**
 * The services the conformance suite runs against: every reference service in examples/, started
 * the way its `start` script starts it. Adding a framework (or a major version of one) means adding
 * its example and one line here. `OBS_CONFORMANCE=express,koa` narrows a run to some targets.
 *
 * examples/express4 and examples/nestjs11 run the source of examples/express and examples/nestjs on
 * the older major (Express 4, NestJS 11): their `build` copies or compiles that source into their own
 * dist/, and they install the adapter injected (pnpm `dependenciesMeta.injected`), a copy whose
 * peer dependencies resolve to that example's framework, as in an app's own install.
 */
import { cpSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Target {
  /** Name used in test titles and OBS_CONFORMANCE. */
  name: string;
  /** Example folder. */
  cwd: string;
  /** Entry file, as in the example's `start` script. */
  entry: string;
  /** Extra environment (e.g. the platform a NestJS app runs on). */
  env?: Record<string, string>;
  /** The @obs adapter the example installs injected (`express` for `@obs/express`). */
  injected?: string;
}

const example = (dir: string) => fileURLToPath(new URL(`../../../examples/${dir}`, import.meta.url));
const PACKAGES_DIR = fileURLToPath(new URL('../../', import.meta.url));

const ALL: Target[] = [
  { name: 'express', cwd: example('express'), entry: 'src/server.js' },
  {
    name: 'express4',
    cwd: example('express4'),
    entry: 'dist/server.js',
    injected: 'express',
  },
  { name: 'fastify', cwd: example('fastify'), entry: 'src/server.js' },
  { name: 'koa', cwd: example('koa'), entry: 'src/server.js' },
  { name: 'nestjs', cwd: example('nestjs'), entry: 'dist/main.js' },
  {
    name: 'nestjs-fastify',
    cwd: example('nestjs'),
    entry: 'dist/main.js',
    env: { NEST_PLATFORM: 'fastify' },
  },
  { name: 'nestjs11', cwd: example('nestjs11'), entry: 'dist/main.js', injected: 'nestjs' },
  {
    name: 'nestjs11-fastify',
    cwd: example('nestjs11'),
    entry: 'dist/main.js',
    env: { NEST_PLATFORM: 'fastify' },
    injected: 'nestjs',
  },
];

const only = process.env.OBS_CONFORMANCE?.split(',').map((s) => s.trim());

/** The targets of this run. */
export const TARGETS: Target[] = only ? ALL.filter((t) => only.includes(t.name)) : ALL;

const isNest = (t: Target) => t.name.startsWith('nestjs');

/**
 * TARGETS in two shares, the NestJS targets and the others, for the longest suites: each share is a
 * test file of its own, and vitest runs files in parallel (a file's tests run one after another).
 */
export const TARGET_SHARES = { nestjs: TARGETS.filter(isNest), others: TARGETS.filter((t) => !isNest(t)) };

/**
 * Put the adapter's current dist/ into the injected copies the targets run. pnpm does this itself
 * after `pnpm run build` in the adapter (`syncInjectedDepsAfterScripts` in pnpm-workspace.yaml), but
 * a build that turbo restores from its cache writes new files without running the script, and the
 * copy would keep the previous build.
 * @throws when a target's adapter is not an injected copy (a plain workspace link would run the
 *   adapter against the workspace's newer framework major)
 */
export function syncInjectedAdapters(targets: Target[] = TARGETS): void {
  const done = new Set<string>();
  for (const target of targets) {
    if (!target.injected) continue;
    const source = join(PACKAGES_DIR, target.injected);
    const copy = realpathSync(join(target.cwd, 'node_modules', '@obs', target.injected));
    if (done.has(copy)) continue;
    done.add(copy);
    if (copy === realpathSync(source)) {
      throw new Error(`${target.cwd} links @obs/${target.injected} instead of an injected copy: run pnpm install`);
    }
    rmSync(join(copy, 'dist'), { recursive: true, force: true });
    cpSync(join(source, 'dist'), join(copy, 'dist'), { recursive: true });
  }
}
