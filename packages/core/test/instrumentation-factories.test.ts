/**
 * How @obs builds each bundled instrumentation (../src/tracing/instrumentations.ts), in the test
 * process: which run with the SDK disabled, what each is configured to record, and the hooks @obs puts
 * into them (its own work untraced, its own routes ignored, the request id on pino lines, SQL
 * sanitised in the dialect of its driver, pools found on first use). The instrumentations are built,
 * never enabled here; test/data-services.test.ts and the adapters' tests run them against real
 * libraries and services.
 */

import { context, metrics, ROOT_CONTEXT, type Tracer, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { suppressTracing } from '@opentelemetry/core';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Env, INSTRUMENTATION_NAMES, type InstrumentationName, resolveConfig } from '../src/config/resolve.js';
import { withRequestId } from '../src/context.js';
import { discoverPool } from '../src/data/pools.js';
import { createMetricsPipeline } from '../src/metrics/pipeline.js';
import {
  createInstrumentations,
  DEFERRED_INSTRUMENTATIONS,
  esmHookedModules,
  type InstrumentationHooks,
  runningInstrumentations,
} from '../src/tracing/instrumentations.js';

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  context.disable();
});

const HOOKS: InstrumentationHooks = { ignoreIncomingPath: () => false };

/** Instrumentations built in a test, disabled after it (undici and the runtime ones enable themselves). */
let built: Instrumentation[] = [];
afterEach(() => {
  for (const i of built) i.disable();
  built = [];
});

/** Build the one instrumentation of `name`. */
function build(name: InstrumentationName, hooks: Partial<InstrumentationHooks> = {}) {
  const list = createInstrumentations([name], { ...HOOKS, ...hooks });
  built.push(...list);
  expect(list).toHaveLength(1);
  return list[0] as Omit<Instrumentation, 'getConfig'> & {
    getConfig(): Record<string, unknown>;
    isEnabled(): boolean;
  };
}

const config = (env: Env) => resolveConfig({}, { OTEL_LOG_LEVEL: 'none', ...env });

describe('runningInstrumentations', () => {
  it('are the enabled ones while the SDK runs', () => {
    const enabled = config({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,pg,undici,pino' });
    expect(runningInstrumentations(enabled)).toEqual(['http', 'pg', 'undici', 'pino']);
  });

  it('with OTEL_SDK_DISABLED, only the enabled http and undici ones, which carry the context on', () => {
    const env = { OTEL_SDK_DISABLED: 'true', OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pg,undici,pino,http' };
    expect(runningInstrumentations(config(env))).toEqual(['undici', 'http']);
    expect(runningInstrumentations(config({ ...env, OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pg,http' }))).toEqual([
      'http',
    ]);
  });

  it('with OTEL_SDK_DISABLED and OTEL_PROPAGATORS=none, none', () => {
    const disabled = config({ OTEL_SDK_DISABLED: 'true', OTEL_PROPAGATORS: 'none' });
    expect(runningInstrumentations(disabled)).toEqual([]);
  });

  it("with OTEL_SDK_DISABLED, the ES module hooks intercept http's modules only, not the app's packages'", () => {
    const disabled = config({
      OTEL_SDK_DISABLED: 'true',
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,pg,dataloader',
      OBS_INSTRUMENTATION_PACKAGES: '@opentelemetry/instrumentation-dataloader',
    });
    expect(esmHookedModules(disabled)).toEqual(['https', 'http', 'node:http', 'node:https']);
  });
});

describe('the deferred instrumentations', () => {
  it('are every module-patching one: all but undici, fastify (diagnostics channels) and the runtime metrics', () => {
    const eager = ['undici', 'fastify', 'runtime-node'];
    expect([...DEFERRED_INSTRUMENTATIONS].sort()).toEqual(
      INSTRUMENTATION_NAMES.filter((n) => !eager.includes(n)).sort(),
    );
  });

  it('are built without enabling themselves (the deferred loader hands them their modules)', () => {
    for (const name of DEFERRED_INSTRUMENTATIONS) expect(build(name).isEnabled(), name).toBe(false);
  });
});

describe('http and undici', () => {
  it("leave @obs's own work (exports, health checks: tracing suppressed) untraced and unmeasured", () => {
    const http = build('http').getConfig().ignoreOutgoingRequestHook as () => boolean;
    const undici = build('undici').getConfig().ignoreRequestHook as () => boolean;
    expect([http(), undici()]).toEqual([false, false]);
    context.with(suppressTracing(context.active()), () => expect([http(), undici()]).toEqual([true, true]));
  });

  it("http sees incoming requests only with OBS_HTTP_SERVER_INSTRUMENTATION=otel, and ignores @obs's routes by path", () => {
    expect(build('http').getConfig().disableIncomingRequestInstrumentation).toBe(true);
    const paths: string[] = [];
    const http = build('http', {
      httpIncoming: true,
      ignoreIncomingPath: (path) => {
        paths.push(path);
        return path === '/metrics';
      },
    }).getConfig();
    expect(http.disableIncomingRequestInstrumentation).toBe(false);
    const ignore = http.ignoreIncomingRequestHook as (req: { url?: string }) => boolean;
    expect([ignore({ url: '/metrics?x=1' }), ignore({ url: '/orders' }), ignore({})]).toEqual([true, false, false]);
    expect(paths).toEqual(['/metrics', '/orders', '/']);
  });
});

describe('frameworks', () => {
  it('express and koa make no span per middleware, handler or router layer', () => {
    expect(build('express').getConfig().ignoreLayersType).toEqual(['middleware', 'request_handler', 'router']);
    expect(build('koa').getConfig().ignoreLayersType).toEqual(['middleware', 'router']);
  });

  it("koa's app.use() of anything but a function reaches Koa's own use()", () => {
    const koa = build('koa') as unknown as {
      _getKoaUsePatch(original: (m: unknown) => unknown): (m: unknown) => unknown;
    };
    const given: unknown[] = [];
    const use = koa._getKoaUsePatch((middleware) => given.push(middleware));
    const middleware = async () => {};
    use(null);
    use(middleware);
    expect(given).toEqual([null, middleware]);
  });
});

describe('pino', () => {
  it('sends log records only when a logs exporter is configured', () => {
    expect(build('pino').getConfig().disableLogSending).toBe(true);
    expect(build('pino', { logSending: true }).getConfig().disableLogSending).toBe(false);
  });

  it("puts the active request's id on every line written inside a request", () => {
    const pino = build('pino') as unknown as { _getMixinFunction(): (ctx: object, level: number) => object };
    const mixin = pino._getMixinFunction();
    expect(mixin({}, 30)).toEqual({});
    context.with(withRequestId(ROOT_CONTEXT, 'req-7'), () => expect(mixin({}, 30)).toEqual({ request_id: 'req-7' }));
  });
});

/** The instrumentation's spans under a parent span, through a real tracer provider. */
function spansOf(instrumentation: Pick<Instrumentation, 'setTracerProvider'>, record: (tracer: Tracer) => void) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  instrumentation.setTracerProvider(provider);
  const parent = provider.getTracer('test').startSpan('request');
  context.with(trace.setSpan(ROOT_CONTEXT, parent), () =>
    record((instrumentation as unknown as { tracer: Tracer }).tracer),
  );
  return exporter.getFinishedSpans().map((s) => ({ name: s.name, text: s.attributes['db.query.text'] }));
}

describe('databases and caches', () => {
  it("pg's spans carry SQL sanitised as PostgreSQL ($$ quoting), named by their summary", () => {
    const spans = spansOf(build('pg'), (tracer) =>
      tracer.startSpan('pg.query', { attributes: { 'db.query.text': 'SELECT $$s3cret$$ FROM users' } }).end(),
    );
    expect(spans).toEqual([{ name: 'SELECT users', text: 'SELECT ? FROM users' }]);
  });

  it('pg reports its pools through @obs, not its own pool listeners', () => {
    const pg = build('pg') as unknown as { _setPoolConnectEventListeners: unknown };
    expect(pg._setPoolConnectEventListeners).toBe(discoverPool);
  });

  it("mysql2's spans and statements carry SQL sanitised as MySQL (double-quoted strings)", () => {
    const mysql2 = build('mysql2');
    const statement = 'SELECT * FROM users WHERE name = "s3cret"';
    expect(mysql2.getConfig().maskStatement).toBe(true);
    expect((mysql2.getConfig().maskStatementHook as (sql: string) => string)(statement)).toBe(
      'SELECT * FROM users WHERE name = ?',
    );
    const spans = spansOf(mysql2, (tracer) =>
      tracer.startSpan('mysql2', { attributes: { 'db.query.text': statement } }).end(),
    );
    expect(spans).toEqual([{ name: 'SELECT users', text: 'SELECT * FROM users WHERE name = ?' }]);
  });

  it("mysql2 hooks the pool's getConnection, where a pool is found on first use", async () => {
    const definition = (
      build('mysql2') as unknown as { getModuleDefinitions(): ModuleDefinition[] }
    ).getModuleDefinitions()[0];
    const file = definition?.files.find((f) => f.name === 'mysql2/lib/pool.js');
    expect(file?.supportedVersions).toEqual(['>=1.4.2 <4']);
    const calls: unknown[][] = [];
    const original = function getConnection(this: unknown, ...args: unknown[]) {
      calls.push([this, ...args]);
      return 'connection';
    };
    const exports = { prototype: { getConnection: original } };
    file?.patch(exports);
    expect(exports.prototype.getConnection).not.toBe(original);
    const pipeline = createMetricsPipeline(config({}), resourceFromAttributes({ 'service.name': 'factories-test' }));
    metrics.setGlobalMeterProvider(pipeline.meterProvider);
    // a mysql2 pool's shape: two connections, one of them free
    const pool = {
      _allConnections: [{}, {}],
      _freeConnections: [{}],
      _connectionQueue: [],
      config: { connectionLimit: 5, connectionConfig: { host: 'db.internal', port: 3306, database: 'shop' } },
    };
    expect(exports.prototype.getConnection.call(pool, 'callback')).toBe('connection');
    expect(calls).toEqual([[pool, 'callback']]);
    const { body } = await pipeline.render();
    expect(body).toMatch(
      /^db_client_connection_max\{.*db_client_connection_pool_name="db\.internal:3306\/shop".*\} 5$/m,
    );
    await pipeline.shutdown();
    metrics.disable();
    file?.unpatch(exports);
    expect(exports.prototype.getConnection).toBe(original);
  });

  it('ioredis and redis measure commands outside any span too, named by their operation', () => {
    for (const name of ['ioredis', 'redis'] as const) {
      const redis = build(name);
      expect(redis.getConfig().requireParentSpan, name).toBe(false);
      const spans = spansOf(redis, (tracer) =>
        tracer.startSpan('redis', { attributes: { 'db.operation.name': 'get' } }).end(),
      );
      expect(
        spans.map((s) => s.name),
        name,
      ).toEqual(['GET']);
    }
  });

  it('knex traces a query outside any span only with OBS_ROOT_CLIENT_SPANS', () => {
    expect(build('knex').getConfig().requireParentSpan).toBe(true);
    expect(build('knex', { rootClientSpans: true }).getConfig().requireParentSpan).toBe(false);
  });
});

describe('opt-in and runtime', () => {
  it('graphql makes no span for a trivial property resolver', () => {
    expect(build('graphql').getConfig().ignoreTrivialResolveSpans).toBe(true);
  });

  it('runtime-node is the event loop, GC and heap every 5 s, plus process CPU and memory', () => {
    const list = createInstrumentations(['runtime-node'], HOOKS);
    built.push(...list);
    const configs = list.map((i) => [i.instrumentationName, (i as unknown as { _config: object })._config]);
    expect(configs).toEqual([
      ['@opentelemetry/instrumentation-runtime-node', expect.objectContaining({ monitoringPrecision: 5000 })],
      [
        '@opentelemetry/instrumentation-host-metrics',
        expect.objectContaining({ metricGroups: ['process.cpu', 'process.memory'] }),
      ],
    ]);
  });
});

interface ModuleDefinition {
  files: {
    name: string;
    supportedVersions: string[];
    patch(exports: unknown): unknown;
    unpatch(exports: unknown): void;
  }[];
}
