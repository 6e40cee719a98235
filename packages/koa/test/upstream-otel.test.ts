/**
 * Koa's own behaviour holds under the preload with the koa instrumentation on (issue 15, item 16):
 * instrumentation-koa 0.72 reads `.router` of whatever app.use() gets, so `app.use(null)` threw an
 * OpenTelemetry TypeError instead of Koa's `middleware must be a function!`. The same script runs
 * plain and under the preload; the answers must be the same.
 */
import { fileURLToPath } from 'node:url';
import { runNode } from '@obs/testkit';
import { describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));

describe('app.use() of a value that is not middleware, with the koa instrumentation', () => {
  it("throws Koa's own TypeError, and the app keeps serving", async () => {
    const plain = await runNode(['use-non-function.mjs'], { cwd: FIXTURES });
    expect(plain.stderr).toBe('');
    expect(JSON.parse(plain.stdout)).toEqual([
      'TypeError: middleware must be a function!',
      'TypeError: middleware must be a function!',
      'TypeError: middleware must be a function!',
      'TypeError: middleware must be a function!',
      true,
      '200 ok',
    ]);
    const preloaded = await runNode(['--import', '@obs/register', 'use-non-function.mjs'], {
      cwd: FIXTURES,
      env: { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,koa', OTEL_TRACES_EXPORTER: 'none' },
    });
    expect(preloaded.stderr).toBe('');
    expect(preloaded.code).toBe(0);
    expect(preloaded.stdout.split('\n').filter((l) => l.startsWith('['))).toEqual([plain.stdout.trim()]);
  });
});
