import { describe, expect, it } from 'vitest';
import { captureDiagnostics } from '../src/diag.js';
import { type HealthCheck, HealthRegistry } from '../src/health/registry.js';
import { sleep } from './helpers.js';

describe('HealthRegistry', () => {
  it('answers 200 ok with no checks', async () => {
    const health = new HealthRegistry();
    expect(await health.live()).toEqual({ statusCode: 200, body: { status: 'ok', checks: {} } });
    expect(await health.ready()).toEqual({ statusCode: 200, body: { status: 'ok', checks: {} } });
  });

  it('reports ok for sync and async checks that succeed, with their duration', async () => {
    const health = new HealthRegistry().add({ name: 'sync', check: () => 'fine' }).add({
      name: 'async',
      check: async () => {
        await sleep(20);
      },
    });
    const { statusCode, body } = await health.ready();
    expect(statusCode).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.checks.sync).toEqual({ status: 'ok', duration_ms: expect.any(Number) });
    expect(body.checks.async?.status).toBe('ok');
    expect(body.checks.async?.duration_ms).toBeGreaterThanOrEqual(15);
    expect(body.checks.async).not.toHaveProperty('error');
  });

  it('answers 503 error when one check throws or rejects, keeping the others', async () => {
    const health = new HealthRegistry()
      .add({ name: 'db', check: () => Promise.reject(new Error('connection refused')) })
      .add({
        name: 'cache',
        check: () => {
          throw new Error('cache down');
        },
      })
      .add({ name: 'queue', check: async () => true });
    const { statusCode, body } = await health.ready();
    expect(statusCode).toBe(503);
    expect(body.status).toBe('error');
    expect(body.checks.db).toMatchObject({ status: 'error', error: 'connection refused' });
    expect(body.checks.cache).toMatchObject({ status: 'error', error: 'cache down' });
    expect(body.checks.queue).toMatchObject({ status: 'ok' });
  });

  it('fails a check that never settles within its timeout, and aborts its signal', async () => {
    let signal: AbortSignal | undefined;
    const health = new HealthRegistry().add({
      name: 'hangs',
      timeoutMs: 50,
      check: (s) => {
        signal = s;
        return new Promise(() => {});
      },
    });
    const started = performance.now();
    const { statusCode, body } = await health.ready();
    const elapsed = performance.now() - started;
    expect(statusCode).toBe(503);
    expect(body.checks.hangs).toMatchObject({ status: 'error', error: 'timed out after 50 ms' });
    expect(body.checks.hangs?.duration_ms).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(500);
    expect(signal?.aborted).toBe(true);
  });

  it('uses a 1000 ms timeout by default', async () => {
    const health = new HealthRegistry().add({ name: 'hangs', check: () => new Promise(() => {}) });
    const { body } = await health.ready();
    expect(body.checks.hangs?.error).toBe('timed out after 1000 ms');
  });

  it('runs checks concurrently', async () => {
    const slow = (name: string): HealthCheck => ({ name, check: () => sleep(60) });
    const health = new HealthRegistry().add(slow('a')).add(slow('b')).add(slow('c'));
    const started = performance.now();
    await health.ready();
    expect(performance.now() - started).toBeLessThan(150);
  });

  it('keeps liveness and readiness checks apart (readiness is the default kind)', async () => {
    const calls: string[] = [];
    const health = new HealthRegistry().add({ name: 'loop', kind: 'liveness', check: () => calls.push('loop') }).add({
      name: 'db',
      check: () => {
        calls.push('db');
        throw new Error('down');
      },
    });
    const live = await health.live();
    expect(live.statusCode).toBe(200);
    expect(Object.keys(live.body.checks)).toEqual(['loop']);
    expect(calls).toEqual(['loop']);

    const ready = await health.ready();
    expect(ready.statusCode).toBe(503);
    expect(Object.keys(ready.body.checks)).toEqual(['db']);
    expect(calls).toEqual(['loop', 'db']);
  });

  it('answers readiness 503 shutting_down after markShuttingDown without running checks; liveness goes on', async () => {
    let readinessRuns = 0;
    const health = new HealthRegistry()
      .add({ name: 'db', check: () => readinessRuns++ })
      .add({ name: 'loop', kind: 'liveness', check: () => undefined });
    expect((await health.ready()).statusCode).toBe(200);
    expect(health.shuttingDown).toBe(false);
    health.markShuttingDown();
    expect(health.shuttingDown).toBe(true);
    expect(await health.ready()).toEqual({ statusCode: 503, body: { status: 'shutting_down', checks: {} } });
    expect(readinessRuns).toBe(1);
    expect((await health.live()).statusCode).toBe(200);
  });

  it('summarises an error as its first line, without the stack, capped at 200 characters', async () => {
    const multiLine = new Error('first line\nsecond line');
    const long = new Error('x'.repeat(500));
    const nameOnly = new TypeError('');
    const health = new HealthRegistry()
      .add({ name: 'multi', check: () => Promise.reject(multiLine) })
      .add({ name: 'long', check: () => Promise.reject(long) })
      .add({ name: 'nameOnly', check: () => Promise.reject(nameOnly) })
      .add({ name: 'string', check: () => Promise.reject('plain string\nmore') });
    const { body } = await health.ready();
    expect(body.checks.multi?.error).toBe('first line');
    expect(body.checks.long?.error).toBe(`${'x'.repeat(200)}…`);
    expect(body.checks.nameOnly?.error).toBe('TypeError');
    expect(body.checks.string?.error).toBe('plain string');
    for (const result of Object.values(body.checks)) {
      expect(result.error).not.toContain('\n');
      expect(result.error).not.toMatch(/\bat /);
    }
  });

  it('replaces a check registered twice under one name, and removes checks', async () => {
    const health = new HealthRegistry()
      .add({ name: 'db', check: () => Promise.reject(new Error('old')) })
      .add({ name: 'db', check: () => undefined });
    expect((await health.ready()).statusCode).toBe(200);
    expect(health.remove('db')).toBe(true);
    expect(health.remove('db')).toBe(false);
    expect((await health.ready()).body.checks).toEqual({});
  });

  it('throws TypeError for an invalid registration', () => {
    const health = new HealthRegistry();
    const invalid: unknown[] = [
      undefined,
      null,
      {},
      { name: '', check: () => undefined },
      { name: 42, check: () => undefined },
      { name: 'no-function' },
      { name: 'not-a-function', check: 'yes' },
    ];
    for (const check of invalid) {
      expect(() => health.add(check as HealthCheck)).toThrow(TypeError);
    }
  });
});

describe('HealthRegistry: timeouts', () => {
  it('replaces a timeout Node timers cannot hold with the default, with a warning', async () => {
    const lines: string[] = [];
    const restore = captureDiagnostics(lines);
    try {
      const registry = new HealthRegistry();
      registry.add({ name: 'nan', check: () => sleep(20), timeoutMs: Number.NaN });
      registry.add({ name: 'huge', check: () => sleep(20), timeoutMs: 3.6e9 });
      const { statusCode, body } = await registry.ready();
      expect(statusCode).toBe(200);
      expect(body.checks.nan?.status).toBe('ok');
      expect(body.checks.huge?.status).toBe('ok');
      expect(lines).toHaveLength(2);
    } finally {
      restore();
    }
  });
});
