/**
 * The curated default instrumentation set. Each entry is required only when selected, so a service
 * pays start-up time only for what it uses. Layer-by-layer framework spans are off by default (one
 * SERVER span per request plus spans for outgoing calls and the app's own work): the framework
 * instrumentations still put the route template on the server span and on
 * `http.server.request.duration`.
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { InstrumentationName, ObsConfig } from '../config/resolve.js';
import { activeRequestId } from '../context.js';
import { measureDbOperations } from '../data/db-spans.js';
import { discoverPool } from '../data/pools.js';
import { amqpHooks } from '../data/queue.js';
import { sanitizeSql } from '../data/sql.js';
import { load } from '../lazy.js';
import { opentelemetry, otelCore, otelInstrumentation } from '../otel.js';
import { addedInstrumentations, modulesOf } from './added-instrumentations.js';
import { GENERATED_ESM_HOOKED_MODULES } from './esm-hooked-modules.generated.js';
import { DeferredFastifyInstrumentation } from './fastify.js';
import { measureRpcCalls } from './rpc-metrics.js';

const { InstrumentationNodeModuleFile } = otelInstrumentation;
const { isTracingSuppressed } = otelCore;
const { context } = opentelemetry;

/**
 * The instrumentations that run for `config`: the enabled ones; with the SDK disabled
 * (`OTEL_SDK_DISABLED`) only `http` and `undici`, if enabled, whose outgoing side carries the active
 * context on through the API's no-op tracer (none when `OTEL_PROPAGATORS=none`).
 */
export function runningInstrumentations(config: ObsConfig): readonly InstrumentationName[] {
  if (!config.disabled) return config.instrumentations;
  if (config.propagators.length === 0) return [];
  return config.instrumentations.filter((name) => name === 'http' || name === 'undici');
}

type PinoMixin = (context: object, level: number) => Record<string, unknown>;

/**
 * instrumentation-pino whose mixin also puts the active request's id on every line a pino logger
 * writes inside a request, the app's own loggers included. Its own mixin adds `trace_id`, `span_id` and
 * `trace_flags` only with a valid span context, so with tracing off (`OTEL_TRACES_EXPORTER=none`) its
 * `logHook` never runs; this wraps the mixin it builds (`_getMixinFunction()`, an internal of
 * instrumentation-pino 0.70, pinned; express/test/apps.test.ts fails if it goes away).
 */
function pinoWithRequestIds(): new (config: object) => Instrumentation {
  const { PinoInstrumentation } = load(
    '@opentelemetry/instrumentation-pino',
  ) as typeof import('@opentelemetry/instrumentation-pino');
  const Base = PinoInstrumentation as unknown as new (
    config: object,
  ) => Instrumentation & {
    _getMixinFunction(): PinoMixin;
  };
  return class PinoWithRequestIds extends Base {
    override _getMixinFunction(): PinoMixin {
      const otelMixin = super._getMixinFunction();
      return function obsMixin(context, level) {
        const record = otelMixin(context, level); // a new object on every call
        const requestId = activeRequestId();
        if (requestId !== undefined) record.request_id = requestId;
        return record;
      };
    }
  };
}

/** Hooks the rest of core hands to the instrumentations. */
export interface InstrumentationHooks {
  /** True for requests @obs should not trace or measure (its own health and metrics routes). */
  ignoreIncomingPath(path: string): boolean;
  /**
   * True when `@opentelemetry/instrumentation-http` makes the SERVER spans too
   * (`OBS_HTTP_SERVER_INSTRUMENTATION=otel`); by default @obs's request observer does, and the
   * instrumentation only sees outgoing requests.
   */
  httpIncoming?: boolean;
  /**
   * True when a logs exporter is configured. Without one, instrumentation-pino's log sending (a
   * multistream that JSON-parses every line for the no-op Logs API) is turned off: it cost ~12% of
   * Express throughput in packages/bench (docs/performance.md) for records nobody receives.
   */
  logSending?: boolean;
  /**
   * `OBS_ROOT_CLIENT_SPANS`: trace database and cache operations made outside any span (a poller, a
   * timer). Default false: they are measured but make no root trace. The pg, mysql2, ioredis and redis
   * instrumentations apply it through @obs's measuring tracer (src/data/db-spans.ts); an
   * instrumentation that does not go through it takes it as its own `requireParentSpan: !rootClientSpans`.
   */
  rootClientSpans?: boolean;
}

/**
 * True while @obs does its own work: the SDK's exports (spans, metrics, log records), Sentry
 * envelopes and health checks run with tracing suppressed (`suppressTracing`). Their outgoing HTTP
 * requests are neither traced nor measured: instrumentation-http and instrumentation-undici would
 * otherwise still record them in `http.client.request.duration`, making the collector look like a
 * dependency of the service.
 */
function ownWork(): boolean {
  return isTracingSuppressed(context.active());
}

type Factory = (hooks: InstrumentationHooks) => Instrumentation | Instrumentation[];

/** Koa's `Application#use`. */
type KoaUse = (this: unknown, middleware: unknown) => unknown;

type GetConnection = (this: object, ...args: unknown[]) => unknown;
/** `mysql2/lib/pool.js`: the Pool class. */
type MysqlPoolModule = { prototype: { getConnection: GetConnection } };

/** Wraps mysql2's Pool#getConnection: the pool is reported on /metrics from its first use. */
function mysqlPoolDiscovery(original: GetConnection): GetConnection {
  return function getConnection(this: object, ...args: unknown[]) {
    discoverPool(this);
    return original.apply(this, args);
  };
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

const FACTORIES: Record<InstrumentationName, Factory> = {
  // Query strings, URLs and other attributes are redacted at export with the logs' rules, for every
  // instrumentation alike (./redact-spans.ts); instrumentation-http's own defaults (`sig`, ...) stay.
  http: (hooks) => {
    const { HttpInstrumentation } = load('@opentelemetry/instrumentation-http');
    return new HttpInstrumentation({
      enabled: false,
      disableIncomingRequestInstrumentation: hooks.httpIncoming !== true,
      ignoreIncomingRequestHook: (req: { url?: string }) => hooks.ignoreIncomingPath(pathOf(req.url)),
      ignoreOutgoingRequestHook: ownWork,
    });
  },
  undici: () =>
    new (load('@opentelemetry/instrumentation-undici').UndiciInstrumentation)({ ignoreRequestHook: ownWork }),
  express: () =>
    new (load('@opentelemetry/instrumentation-express').ExpressInstrumentation)({
      enabled: false,
      ignoreLayersType: ['middleware', 'request_handler', 'router'],
    }),
  // @fastify/otel (the Fastify project's instrumentation; fastify left opentelemetry-js-contrib). It
  // hooks every Fastify instance as it is created (diagnostics channel), sets the route template on the
  // RPC metadata, and makes its request span INTERNAL under the http instrumentation's SERVER span.
  // One span per request, like the other frameworks: no span per hook or for the handler. Loaded with
  // the first Fastify instance (./fastify.ts), so other apps do not pay for it at start-up.
  fastify: () => new DeferredFastifyInstrumentation({ instrumentHooks: false, instrumentHandler: false }),
  koa: () => {
    const instrumentation = new (load('@opentelemetry/instrumentation-koa').KoaInstrumentation)({
      enabled: false,
      ignoreLayersType: ['middleware', 'router'],
    });
    // instrumentation-koa 0.72 reads `.router` of whatever app.use() is given, so `app.use(null)` threw
    // its TypeError instead of Koa's "middleware must be a function!": anything but a function goes
    // straight to Koa's own use(). Reported upstream (see the issue 15 notes).
    const hooks = instrumentation as unknown as { _getKoaUsePatch?: (original: KoaUse) => KoaUse };
    const getUsePatch = hooks._getKoaUsePatch;
    if (typeof getUsePatch === 'function') {
      hooks._getKoaUsePatch = (original) => {
        const patched = getUsePatch.call(instrumentation, original);
        return function use(this: unknown, middleware: unknown) {
          return (typeof middleware === 'function' ? patched : original).call(this, middleware);
        };
      };
    }
    return instrumentation;
  },
  'nestjs-core': () => new (load('@opentelemetry/instrumentation-nestjs-core').NestInstrumentation)({ enabled: false }),
  pino: (hooks) =>
    new (pinoWithRequestIds())({
      enabled: false,
      disableLogSending: hooks.logSending !== true,
    }),
  // Databases and caches: the pinned versions emit the stable database conventions by default (no
  // OTEL_SEMCONV_STABILITY_OPT_IN needed); @obs's measuring tracer rewrites their spans (sanitised SQL,
  // operation, collection, summary as the span name) and records db.client.operation.duration for every
  // driver (src/data/db-spans.ts). Pools are registered for the db.client.connection.* gauges on first
  // use (src/data/pools.ts); test/data-services.test.ts fails if an upgrade breaks either hook.
  pg: (hooks) => {
    const instrumentation = new (load('@opentelemetry/instrumentation-pg').PgInstrumentation)({ enabled: false });
    // instrumentation-pg calls this on every pool.connect() (it is where it would attach its own pool
    // listeners, whose counts go stale): the pool is reported by @obs instead.
    const internals = instrumentation as unknown as { _setPoolConnectEventListeners?: (pool: unknown) => void };
    if (typeof internals._setPoolConnectEventListeners === 'function') {
      internals._setPoolConnectEventListeners = discoverPool;
    }
    return measureDbOperations(instrumentation, { sql: 'postgresql' }, hooks.rootClientSpans);
  },
  mysql2: (hooks) => {
    const { MySQL2Instrumentation } = load(
      '@opentelemetry/instrumentation-mysql2',
    ) as typeof import('@opentelemetry/instrumentation-mysql2');
    class Mysql2WithPools extends MySQL2Instrumentation {
      protected override init() {
        const definitions = super.init();
        // mysql2 pools register on their first getConnection (pool.query goes through it too).
        definitions[0]?.files.push(
          new InstrumentationNodeModuleFile(
            'mysql2/lib/pool.js',
            ['>=1.4.2 <4'],
            (exports: MysqlPoolModule) => {
              this._wrap(exports.prototype, 'getConnection', mysqlPoolDiscovery);
              return exports;
            },
            (exports?: MysqlPoolModule) => {
              if (exports) this._unwrap(exports.prototype, 'getConnection');
            },
          ),
        );
        return definitions;
      }
    }
    // maskStatement: without it, the bound values are formatted into db.query.text
    const instrumentation = new Mysql2WithPools({
      enabled: false,
      maskStatement: true,
      maskStatementHook: (sql: string) => sanitizeSql(sql, 'mysql'),
    });
    return measureDbOperations(instrumentation, { sql: 'mysql' }, hooks.rootClientSpans);
  },
  // requireParentSpan off (ioredis' default is on): it would skip a command outside any span entirely,
  // its duration too; the measuring tracer applies OBS_ROOT_CLIENT_SPANS instead (src/data/db-spans.ts),
  // so the readiness check's PING (tracing suppressed) is neither traced nor measured, and a poller's
  // commands are measured without making root traces.
  ioredis: (hooks) =>
    measureDbOperations(
      new (load('@opentelemetry/instrumentation-ioredis').IORedisInstrumentation)({
        enabled: false,
        requireParentSpan: false,
      }),
      { redis: true },
      hooks.rootClientSpans,
    ),
  redis: (hooks) =>
    measureDbOperations(
      new (load('@opentelemetry/instrumentation-redis').RedisInstrumentation)({
        enabled: false,
        requireParentSpan: false,
      }),
      { redis: true },
      hooks.rootClientSpans,
    ),
  // Publish and consume spans with the trace context in the message headers (a consumer span is a
  // child of the producer span); @obs's hooks add the current messaging attributes and count sends.
  amqplib: () =>
    new (load('@opentelemetry/instrumentation-amqplib').AmqplibInstrumentation)({ ...amqpHooks(), enabled: false }),
  // Opt-in (docs/instrumentations.md). GraphQL: parse, validate and execute spans, and a span per
  // resolver the schema defines (trivial property resolvers are left out); argument values are not
  // recorded (instrumentation-graphql's default); the query text is redacted at export.
  graphql: () =>
    new (load('@opentelemetry/instrumentation-graphql').GraphQLInstrumentation)({
      enabled: false,
      ignoreTrivialResolveSpans: true,
    }),
  // gRPC client and server spans (@grpc/grpc-js); instrumentation-grpc records no metrics, so
  // rpc.client.call.duration and rpc.server.call.duration are taken from its spans (./rpc-metrics.ts).
  grpc: () =>
    measureRpcCalls(new (load('@opentelemetry/instrumentation-grpc').GrpcInstrumentation)({ enabled: false })),
  // A span per knex query around the driver's own (pg's or mysql2's, which record
  // db.client.operation.duration): knex adds the builder's view, never a second measurement.
  // Outside any span it follows OBS_ROOT_CLIENT_SPANS like the drivers (a poller makes no root trace).
  knex: (hooks) =>
    new (load('@opentelemetry/instrumentation-knex').KnexInstrumentation)({
      enabled: false,
      requireParentSpan: !hooks.rootClientSpans,
    }),
  // Runtime metrics: event loop, GC and heap (runtime-node) plus process CPU and memory (host-metrics).
  'runtime-node': () => [
    new (load('@opentelemetry/instrumentation-runtime-node').RuntimeNodeInstrumentation)({
      monitoringPrecision: 5000,
    }),
    new (load('@opentelemetry/instrumentation-host-metrics').HostMetricsInstrumentation)({
      metricGroups: ['process.cpu', 'process.memory'],
    }),
  ],
};

/** Build the selected instrumentations (not yet enabled). */
export function createInstrumentations(
  names: readonly InstrumentationName[],
  hooks: InstrumentationHooks,
): Instrumentation[] {
  return names.flatMap((name) => FACTORIES[name](hooks));
}

/**
 * The instrumentations that work by patching the modules of {@link ESM_HOOKED_MODULES}: created when
 * one of those modules first loads (./deferred-instrumentations.ts), not at start-up. Their factories
 * above construct them with `enabled: false`: the deferred loader hands them their modules itself.
 */
export const DEFERRED_INSTRUMENTATIONS: ReadonlySet<InstrumentationName> = new Set<InstrumentationName>([
  'http',
  'express',
  'koa',
  'nestjs-core',
  'pino',
  'pg',
  'mysql2',
  'ioredis',
  'redis',
  'amqplib',
  'graphql',
  'grpc',
  'knex',
]);

/**
 * The modules each bundled instrumentation patches: the names of its own module definitions
 * (`getModuleDefinitions()`), then the other specifiers apps import those packages by
 * (`node:http`, `mysql2/promise`, `amqplib/callback_api`, Express 5's `router`: `MODULE_ALIASES` in
 * ./derive-esm-hooked-modules.ts). Derived, not hand-kept: a generator constructs every bundled
 * instrumentation and writes ./esm-hooked-modules.generated.ts (`pnpm --filter @obs/core generate`),
 * and test/esm-hooked-modules.test.ts fails when that file differs from what the instrumentations
 * declare. Start-up only reads the table (constructing every instrumentation costs ~90 ms:
 * docs/performance.md). The deferred loader watches these packages and the ESM loader hooks of
 * `@obs/register` intercept these specifiers ({@link esmHookedModules}): only these modules are
 * wrapped by import-in-the-middle; wrapping every module has broken applications.
 */
export const ESM_HOOKED_MODULES: Record<InstrumentationName, readonly string[]> = GENERATED_ESM_HOOKED_MODULES;

/**
 * The module specifiers `@obs/register`'s ES module loader hooks must intercept for this
 * configuration: those of the bundled instrumentations that run ({@link runningInstrumentations}: with
 * `OTEL_SDK_DISABLED=true` only the propagating http and undici ones, {@link ESM_HOOKED_MODULES}) and
 * those the app's own instrumentation packages declare in their module definitions
 * (`OBS_INSTRUMENTATION_PACKAGES`; loading them here is what running them costs anyway, and they
 * are built once).
 */
export function esmHookedModules(config: ObsConfig): string[] {
  const bundled = runningInstrumentations(config).flatMap((name) => ESM_HOOKED_MODULES[name]);
  const added = config.disabled ? [] : addedInstrumentations(config, []).flatMap(modulesOf);
  return [...new Set([...bundled, ...added])];
}
