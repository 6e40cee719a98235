/**
 * Fastify's own behaviour holds under the preload with @fastify/otel on (issue 15, item 16): its
 * setNotFoundHandler patch (0.21.2) returns undefined instead of the instance, so chained calls threw
 * at start-up, and throws on a call without a handler. The same script runs plain and under the
 * preload; the answers must be the same.
 */
import { fileURLToPath } from 'node:url';
import { runNode } from '@obs/testkit';
import { describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));

describe('setNotFoundHandler with @fastify/otel enabled', () => {
  it('returns the instance and answers as plain Fastify does', async () => {
    const plain = await runNode(['not-found-handler.mjs'], { cwd: FIXTURES });
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
    expect(JSON.parse(plain.stdout)).toEqual({
      returnsInstance: true,
      childReturnsChild: true,
      noHandlerReturnsInstance: true,
      hooksOnlyReturnsInstance: true,
      b404: '404 {"notFound":"b"}',
      bOk: '200 {"ok":true}',
      child404: '404 {"notFound":"child"}',
      d404: '404',
      e404: '404',
    });
    const preloaded = await runNode(['--import', '@obs/register', 'not-found-handler.mjs'], {
      cwd: FIXTURES,
      env: { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,fastify', OTEL_TRACES_EXPORTER: 'none' },
    });
    expect(preloaded.stderr).toBe('');
    expect(preloaded.code).toBe(0);
    // (the preload's own lines, if any, are not the script's)
    expect(preloaded.stdout.split('\n').filter((l) => l.startsWith('{"returnsInstance"'))).toEqual([
      plain.stdout.trim(),
    ]);
  });
});
