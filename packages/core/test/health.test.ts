import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { captureDiagnostics } from '../src/diag.js';
import {
  type HealthCheck,
  HealthCheckError,
  HealthRegistry,
  type HealthSettings,
  summariseError,
} from '../src/health/registry.js';
import { METRICS } from '../src/metrics/names.js';
import { settlesAt, sleep } from './helpers.js';

/** A registry that runs its checks on every probe (no cache), as most tests want. */
const uncached = (settings: HealthSettings = {}) => new HealthRegistry({ cacheMs: 0, ...settings });

afterEach(() => {
  vi.useRealTimers();
});

describe('HealthRegistry', () => {
  it('answers 200 ok with no checks', async () => {
    const health = uncached();
    expect(await health.live()).toEqual({ statusCode: 200, body: { status: 'ok', checks: {} } });
    expect(await health.ready()).toEqual({ statusCode: 200, body: { status: 'ok', checks: {} } });
  });

  it('reports ok for sync and async checks that succeed, with their duration', async () => {
    const health = uncached()
      .add({ name: 'sync', check: () => 'fine' })
      .add({
        name: 'async',
        check: async () => {
          await sleep(20);
        },
      });
    const { statusCode, body } = await health.ready();
    expect(statusCode).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.checks.sync).toEqual({ status: 'ok', critical: true, duration_ms: expect.any(Number) });
    expect(body.checks.async?.status).toBe('ok');
    expect(body.checks.async?.duration_ms).toBeGreaterThanOrEqual(15);
    expect(body.checks.async).not.toHaveProperty('error');
  });

  it('answers 503 error when a critical check throws or rejects, keeping the others', async () => {
    const health = uncached()
      .add({
        name: 'db',
        check: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
      })
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
    expect(body.checks.db).toMatchObject({ status: 'error', critical: true, error: 'ECONNREFUSED' });
    expect(body.checks.cache).toMatchObject({ status: 'error', error: 'failed' });
    expect(body.checks.queue).toMatchObject({ status: 'ok' });
  });

  it('is degraded, still 200, when only non-critical checks fail; 503 as soon as a critical one fails too', async () => {
    let dbUp = true;
    const health = uncached()
      .add({ name: 'recommendations', critical: false, check: () => Promise.reject(new HealthCheckError('HTTP 503')) })
      .add({
        name: 'db',
        check: () => {
          if (!dbUp) throw new Error('down');
        },
      });
    const degraded = await health.ready();
    expect(degraded.statusCode).toBe(200);
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.checks.recommendations).toMatchObject({ status: 'error', critical: false, error: 'HTTP 503' });
    dbUp = false;
    const failing = await health.ready();
    expect(failing.statusCode).toBe(503);
    expect(failing.body.status).toBe('error');
  });

  it('fails a check that never settles within its timeout, and aborts its signal', async () => {
    let signal: AbortSignal | undefined;
    const health = uncached().add({
      name: 'hangs',
      timeoutMs: 50,
      check: (s) => {
        signal = s;
        return new Promise(() => {});
      },
    });
    vi.useFakeTimers();
    const answer = health.ready();
    expect(await settlesAt(answer)).toBe(50);
    const { statusCode, body } = await answer;
    expect(statusCode).toBe(503);
    expect(body.checks.hangs).toMatchObject({ status: 'error', error: 'timeout' });
    expect(body.checks.hangs?.duration_ms).toBe(50);
    expect(signal?.aborted).toBe(true);
  });

  it('uses a 1000 ms check timeout by default, bounded by the answer deadline (900 ms by default)', async () => {
    const hangs = { name: 'hangs', check: () => new Promise(() => {}) };
    const long = uncached({ timeoutMs: 5000, details: true }).add(hangs);
    expect((await long.ready()).body.checks.hangs?.detail).toBe('timed out after 1000 ms');

    vi.useFakeTimers();
    const byDefault = uncached({ details: true })
      .add(hangs)
      .add({ ...hangs, name: 'patient', timeoutMs: 60_000 });
    const answer = byDefault.ready();
    expect(await settlesAt(answer)).toBe(900);
    const { body } = await answer;
    expect(body.checks.hangs?.detail).toBe('timed out after 900 ms');
    expect(body.checks.patient?.detail).toBe('timed out after 900 ms');
  });

  it('answers within the deadline whatever the checks do', async () => {
    const health = uncached({ timeoutMs: 120 });
    for (let i = 0; i < 5; i++) health.add({ name: `slow${i}`, timeoutMs: 10_000, check: () => sleep(5000) });
    vi.useFakeTimers();
    const answer = health.ready();
    expect(await settlesAt(answer)).toBe(120);
    const { statusCode, body } = await answer;
    expect(statusCode).toBe(503);
    expect(Object.values(body.checks).map((c) => c.error)).toEqual(Array(5).fill('timeout'));
  });

  it('runs checks concurrently', async () => {
    const slow = (name: string): HealthCheck => ({ name, check: () => sleep(60) });
    const health = uncached().add(slow('a')).add(slow('b')).add(slow('c'));
    vi.useFakeTimers();
    expect(await settlesAt(health.ready())).toBe(60); // one after the other would be 180
  });

  it('keeps liveness, readiness and startup checks apart (readiness is the default kind)', async () => {
    const calls: string[] = [];
    const health = uncached()
      .add({ name: 'loop', kind: 'liveness', check: () => calls.push('loop') })
      .add({ name: 'warm', kind: 'startup', check: () => calls.push('warm') })
      .add({
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
    const health = uncached()
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

  it('answers shutting_down also when shutdown begins while the readiness checks run', async () => {
    const health = uncached().add({ name: 'db', check: () => sleep(50) });
    const pending = health.ready();
    health.markShuttingDown();
    expect(await pending).toEqual({ statusCode: 503, body: { status: 'shutting_down', checks: {} } });
  });

  it('answers startup 503 starting until markStarted, then runs the startup checks, then 200 for good', async () => {
    let warm = false;
    let runs = 0;
    const health = uncached().add({
      name: 'cache-warm',
      kind: 'startup',
      check: () => {
        runs++;
        if (!warm) throw new HealthCheckError('still warming');
      },
    });
    expect(await health.startup()).toEqual({ statusCode: 503, body: { status: 'starting', checks: {} } });
    expect(runs).toBe(0);
    health.markStarted();
    expect(health.started).toBe(true);
    const cold = await health.startup();
    expect(cold.statusCode).toBe(503);
    expect(cold.body).toMatchObject({ status: 'starting', checks: { 'cache-warm': { error: 'still warming' } } });
    warm = true;
    expect((await health.startup()).statusCode).toBe(200);
    warm = false;
    expect((await health.startup()).statusCode).toBe(200);
    expect(runs).toBe(2);
  });

  it('replaces a check registered twice under one name, and removes checks, whatever is cached', async () => {
    const health = new HealthRegistry({ cacheMs: 60_000 })
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
      { name: 'bad-kind', kind: 'sometimes', check: () => undefined },
    ];
    for (const check of invalid) {
      expect(() => health.add(check as HealthCheck)).toThrow(TypeError);
    }
  });
});

describe('HealthRegistry: cache and single flight', () => {
  it('shares one run among concurrent probes and reuses its answer for the cache period', async () => {
    let runs = 0;
    const health = new HealthRegistry({ cacheMs: 150 }).add({
      name: 'db',
      check: async () => {
        runs++;
        await sleep(30);
      },
    });
    const answers = await Promise.all(Array.from({ length: 100 }, () => health.ready()));
    expect(runs).toBe(1);
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    for (let i = 0; i < 20; i++) await health.ready();
    expect(runs).toBe(1);
    await sleep(170);
    await Promise.all(Array.from({ length: 50 }, () => health.ready()));
    expect(runs).toBe(2);
  });

  it('with cacheMs 0 still shares the run in flight, and runs again afterwards', async () => {
    let runs = 0;
    const health = uncached().add({ name: 'db', check: () => sleep(20).then(() => runs++) });
    await Promise.all(Array.from({ length: 30 }, () => health.ready()));
    expect(runs).toBe(1);
    await health.ready();
    expect(runs).toBe(2);
  });

  it('caches failures too (a dependency that is down is not hammered)', async () => {
    let runs = 0;
    const health = new HealthRegistry({ cacheMs: 10_000 }).add({
      name: 'db',
      check: () => {
        runs++;
        throw new Error('down');
      },
    });
    for (let i = 0; i < 10; i++) expect((await health.ready()).statusCode).toBe(503);
    expect(runs).toBe(1);
  });

  it('caches each probe kind separately', async () => {
    const runs = { liveness: 0, readiness: 0 };
    const health = new HealthRegistry({ cacheMs: 10_000 })
      .add({ name: 'loop', kind: 'liveness', check: () => runs.liveness++ })
      .add({ name: 'db', check: () => runs.readiness++ });
    await Promise.all([health.live(), health.ready(), health.live(), health.ready()]);
    expect(runs).toEqual({ liveness: 1, readiness: 1 });
  });
});

describe('HealthRegistry: what the answers reveal', () => {
  const secretError = () =>
    Object.assign(new Error('password authentication failed for user "shop" at db.internal.example:5432'), {
      code: '28P01',
    });

  it('summarises errors by code, never by message', async () => {
    const health = uncached()
      .add({ name: 'auth', check: () => Promise.reject(secretError()) })
      .add({
        name: 'refused',
        check: () =>
          Promise.reject(
            new TypeError('fetch failed', {
              cause: Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:5432'), { code: 'ECONNREFUSED' }),
            }),
          ),
      })
      .add({
        name: 'aggregate',
        check: () =>
          Promise.reject(
            new AggregateError([Object.assign(new Error('connect ENOTFOUND db.internal'), { code: 'ENOTFOUND' })]),
          ),
      })
      .add({
        name: 'mysql',
        check: () =>
          Promise.reject(
            Object.assign(new Error("Access denied for user 'root'@'10.0.0.2'"), { code: 'ER_ACCESS_DENIED_ERROR' }),
          ),
      })
      .add({ name: 'redis', check: () => Promise.reject(new Error('WRONGPASS invalid username-password pair')) })
      .add({ name: 'typed', check: () => Promise.reject(new RangeError('postgres://shop:hunter2@db.internal/shop')) })
      .add({ name: 'plain', check: () => Promise.reject('postgres://shop:hunter2@db.internal/shop') })
      .add({ name: 'public', check: () => Promise.reject(new HealthCheckError('backlog above 10000\nsecond line')) });
    const { body } = await health.ready();
    expect(Object.fromEntries(Object.entries(body.checks).map(([k, v]) => [k, v.error]))).toEqual({
      auth: 'auth failed',
      refused: 'ECONNREFUSED',
      aggregate: 'ENOTFOUND',
      mysql: 'auth failed',
      redis: 'auth failed',
      typed: 'RangeError',
      plain: 'failed',
      public: 'backlog above 10000',
    });
    const text = JSON.stringify(body);
    for (const secret of ['hunter2', 'db.internal', '10.1.2.3', 'shop', 'root', 'password', '\n', ' at ']) {
      expect(text).not.toContain(secret);
    }
    for (const result of Object.values(body.checks)) expect(result).not.toHaveProperty('detail');
  });

  it('adds the first line of each message as detail, capped at 200 characters, only when configured', async () => {
    const health = uncached({ details: true })
      .add({ name: 'multi', check: () => Promise.reject(new Error('first line\nsecond line')) })
      .add({ name: 'long', check: () => Promise.reject(new Error('x'.repeat(500))) })
      .add({ name: 'nameOnly', check: () => Promise.reject(new TypeError('')) })
      .add({ name: 'string', check: () => Promise.reject('plain string\nmore') });
    const { body } = await health.ready();
    expect(body.checks.multi?.detail).toBe('first line');
    expect(body.checks.long?.detail).toBe(`${'x'.repeat(200)}…`);
    expect(body.checks.nameOnly?.detail).toBe('TypeError');
    expect(body.checks.string?.detail).toBe('plain string');
    for (const result of Object.values(body.checks)) {
      expect(result.detail).not.toContain('\n');
      expect(result.detail).not.toMatch(/\bat /);
    }
  });

  it('summariseError: codes, auth failures, timeouts, names', () => {
    expect(summariseError(Object.assign(new Error('x'), { code: 'ETIMEDOUT' }))).toBe('ETIMEDOUT');
    expect(summariseError(Object.assign(new Error('x'), { code: 'ER_PARSE_ERROR' }))).toBe('ER_PARSE_ERROR');
    expect(summariseError(new DOMException('aborted', 'AbortError'))).toBe('timeout');
    expect(summariseError(new Error('Handshake terminated by server: 403 (ACCESS-REFUSED) ACCESS_REFUSED'))).toBe(
      'auth failed',
    );
    expect(summariseError(undefined)).toBe('failed');
    expect(summariseError(null)).toBe('failed');
  });
});

describe('HealthRegistry: timeouts', () => {
  it('replaces a timeout Node timers cannot hold with the default, with a warning', async () => {
    const lines: string[] = [];
    const restore = captureDiagnostics(lines);
    try {
      const registry = uncached();
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

describe('HealthRegistry: metrics', () => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({ readers: [reader] });
  beforeAll(() => {
    metrics.setGlobalMeterProvider(provider);
  });
  afterAll(async () => {
    metrics.disable();
    await provider.shutdown();
  });

  it('records the status and duration of every run with the METRICS definitions, not of cached answers', async () => {
    const health = new HealthRegistry({ cacheMs: 60_000 })
      .add({ name: 'postgres', check: () => sleep(5) })
      .add({ name: 'recommendations', critical: false, check: () => Promise.reject(new Error('down')) })
      .add({ name: 'loop', kind: 'liveness', check: () => undefined });
    await Promise.all([health.ready(), health.ready(), health.live()]);
    await health.ready();
    await reader.forceFlush();
    const collected =
      exporter
        .getMetrics()
        .at(-1)
        ?.scopeMetrics.flatMap((s) => s.metrics) ?? [];
    const status = collected.find((m) => m.descriptor.name === METRICS.healthCheckStatus.name);
    const duration = collected.find((m) => m.descriptor.name === METRICS.healthCheckDuration.name);
    expect(status?.descriptor.unit).toBe(METRICS.healthCheckStatus.unit);
    expect(duration?.descriptor.unit).toBe('s');
    const points = (status?.dataPoints ?? []).map((p) => [p.attributes, p.value]);
    expect(points).toEqual(
      expect.arrayContaining([
        [{ 'health.check.name': 'postgres', 'health.check.kind': 'readiness', 'health.check.critical': 'true' }, 1],
        [
          {
            'health.check.name': 'recommendations',
            'health.check.kind': 'readiness',
            'health.check.critical': 'false',
          },
          0,
        ],
        [{ 'health.check.name': 'loop', 'health.check.kind': 'liveness', 'health.check.critical': 'true' }, 1],
      ]),
    );
    expect(points).toHaveLength(3);
    const postgres = duration?.dataPoints.find((p) => p.attributes['health.check.name'] === 'postgres');
    const value = postgres?.value as { count: number; sum: number; buckets: { boundaries: number[] } };
    // one run for three readiness answers: the others were shared or cached
    expect(value.count).toBe(1);
    expect(value.sum).toBeGreaterThan(0.004);
    expect(value.sum).toBeLessThan(1);
    expect(value.buckets.boundaries).toEqual(METRICS.healthCheckDuration.buckets);
  });
});

/** Written from the surviving StrykerJS mutants of src/health/registry.ts (docs/testing.md, "Mutation testing"). */
describe('HealthRegistry: mutation-testing edges', () => {
  const coded = (code: unknown, name?: string) =>
    Object.assign(new Error('db.internal:5432 said no'), { code }, name ? { name } : {});

  it('summarises every listed auth code as "auth failed"', () => {
    for (const code of [
      '28P01',
      '28000',
      'ER_ACCESS_DENIED_ERROR',
      'ER_DBACCESS_DENIED_ERROR',
      'NOAUTH',
      'WRONGPASS',
    ]) {
      expect(summariseError(coded(code))).toBe('auth failed');
    }
  });

  it('takes only whole errno and SQLSTATE codes, as strings', () => {
    expect(summariseError(coded('ECONNREFUSED'))).toBe('ECONNREFUSED');
    expect(summariseError(coded('42601'))).toBe('42601');
    expect(summariseError(coded('XX000'))).toBe('XX000');
    for (const code of ['xECONNREFUSED', 'ECONNREFUSED-x', '142P01', '42P01x', 'ABCDE', 2002]) {
      expect(summariseError(coded(code))).toBe('failed');
    }
  });

  it('takes only whole Prisma kinds, and only well-formed error names', () => {
    expect(summariseError({ kind: 'DatabaseNotReachable' })).toBe('DatabaseNotReachable');
    expect(summariseError({ kind: 'SomethingElse' })).toBe('failed');
    expect(summariseError({ kind: 'DatabaseNotReachable at db.internal' })).toBe('failed');
    expect(summariseError({ kind: 'XDatabaseNotReachable' })).toBe('failed');
    expect(summariseError(coded(undefined, 'AbortError'))).toBe('timeout');
    expect(summariseError(coded(undefined, 'TimeoutError'))).toBe('timeout');
    expect(summariseError(coded(undefined, 'ConnectionError'))).toBe('ConnectionError');
    expect(summariseError(coded(undefined, 'xConnectionError'))).toBe('failed');
    expect(summariseError(coded(undefined, 'ConnectionError: db.internal'))).toBe('failed');
  });

  it('summarises an empty public message as "failed", and an error whose meta is null by its code', () => {
    expect(summariseError(new HealthCheckError(''))).toBe('failed');
    expect(summariseError(Object.assign(coded('ECONNREFUSED'), { meta: null }))).toBe('ECONNREFUSED');
  });

  it('follows at most five errors of a cause chain', () => {
    let err: Error = coded('ECONNREFUSED');
    for (let i = 0; i < 5; i++) err = new Error(`wrapper ${i}`, { cause: err });
    expect(summariseError(err)).toBe('failed');
    expect(summariseError((err.cause as Error).cause)).toBe('ECONNREFUSED');
  });

  it('keeps a public message of exactly 200 characters whole', () => {
    const message = 'x'.repeat(200);
    expect(summariseError(new HealthCheckError(message))).toBe(message);
    expect(summariseError(new HealthCheckError(`${message}y`))).toBe(`${message}…`);
  });

  it('replaces a timeout that is not a positive number of milliseconds, and keeps the largest timer', async () => {
    const lines: string[] = [];
    const restore = captureDiagnostics(lines);
    try {
      const registry = uncached();
      for (const [name, timeoutMs] of [
        ['zero', 0],
        ['negative', -5],
        ['infinite', Number.POSITIVE_INFINITY],
      ] as const) {
        registry.add({ name, check: () => undefined, timeoutMs });
      }
      expect(lines).toHaveLength(3);
      registry.add({ name: 'largest', check: () => undefined, timeoutMs: 2_147_483_647 });
      registry.add({ name: 'default', check: () => undefined });
      expect(lines).toHaveLength(3);
      const { statusCode, body } = await registry.ready();
      expect(statusCode).toBe(200);
      expect(Object.values(body.checks).map((c) => c.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    } finally {
      restore();
    }
  });

  it('does not serve a cached answer after a check is removed and registered again', async () => {
    const health = new HealthRegistry({ cacheMs: 60_000 });
    health.add({ name: 'db', check: () => undefined });
    expect((await health.ready()).statusCode).toBe(200);
    health.remove('db');
    health.add({
      name: 'db',
      check: () => {
        throw new HealthCheckError('down');
      },
    });
    expect(await health.ready()).toMatchObject({ statusCode: 503, body: { checks: { db: { error: 'down' } } } });
  });

  it('stays error when a non-critical check fails after a critical one', async () => {
    const fail = () => {
      throw new HealthCheckError('down');
    };
    const health = uncached()
      .add({ name: 'critical', check: fail })
      .add({ name: 'optional', check: fail, critical: false });
    expect(await health.ready()).toMatchObject({ statusCode: 503, body: { status: 'error' } });
  });

  it('measures a failing check from its start', async () => {
    const health = uncached().add({
      name: 'db',
      check: () => {
        throw new HealthCheckError('down');
      },
    });
    const started = performance.now();
    const { body } = await health.ready();
    expect(body.checks.db?.duration_ms).toBeLessThanOrEqual(performance.now() - started + 1);
  });

  it('answers startup 200 ok with no checks once it has passed', async () => {
    const health = uncached().add({ name: 'warm', kind: 'startup', check: () => undefined });
    health.markStarted();
    expect((await health.startup()).statusCode).toBe(200);
    expect(await health.startup()).toEqual({ statusCode: 200, body: { status: 'ok', checks: {} } });
  });
});
