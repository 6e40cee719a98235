/**
 * The services the conformance suite runs against: every reference service in examples/, started
 * the way its `start` script starts it. Adding a framework means adding its example and one line
 * here. `OBS_CONFORMANCE=express,koa` narrows a run to some targets.
 */
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
  /**
   * False where the framework cannot make an in-process request while it serves real ones: on Express,
   * light-my-request rewires the prototypes of every request of the app it injects into, which breaks
   * the app's real requests (without @obs too); the service answers 501 there.
   */
  inProcessRequests: boolean;
}

const example = (dir: string) => fileURLToPath(new URL(`../../../examples/${dir}`, import.meta.url));

const ALL: Target[] = [
  { name: 'express', cwd: example('express'), entry: 'src/server.js', inProcessRequests: false },
  { name: 'fastify', cwd: example('fastify'), entry: 'src/server.js', inProcessRequests: true },
  { name: 'koa', cwd: example('koa'), entry: 'src/server.js', inProcessRequests: true },
  { name: 'nestjs', cwd: example('nestjs'), entry: 'dist/main.js', inProcessRequests: false },
  {
    name: 'nestjs-fastify',
    cwd: example('nestjs'),
    entry: 'dist/main.js',
    env: { NEST_PLATFORM: 'fastify' },
    inProcessRequests: true,
  },
];

const only = process.env.OBS_CONFORMANCE?.split(',').map((s) => s.trim());

/** The targets of this run. */
export const TARGETS: Target[] = only ? ALL.filter((t) => only.includes(t.name)) : ALL;
