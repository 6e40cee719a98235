/**
 * The one configuration resolver of @obs. It reads the `OTEL_*` variables that the OpenTelemetry
 * specification and `@opentelemetry/sdk-node` define, plus a few `OBS_*` variables of our own, and
 * an options object whose fields override them. The result is frozen and validated: every bad value
 * has already cost one warning (naming the variable) and fallen back to its default, and nothing
 * later in the process parses configuration again.
 *
 * Deliberate differences from the specification's defaults, chosen so that a service with no
 * collector stays quiet: `OTEL_METRICS_EXPORTER` defaults to `prometheus` (scraped from the app's own
 * `/metrics` route) and `OTEL_LOGS_EXPORTER` to `none` (logs go to stdout as JSON lines).
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { warn } from '../diag.js';
import type { SentryBeforeSend } from '../errors/types.js';
import { HEALTH_DEFAULTS } from '../health/registry.js';
import { load } from '../lazy.js';
import {
  DECIMAL_NUMBER,
  isUnset,
  parseBoolean,
  parseEnum,
  parseKeyValueList,
  parseList,
  parseNonNegativeInt,
  parseNumberInRange,
  parsePort,
  parseString,
  parseUrl,
  type Raw,
  toNumber,
} from './parse.js';

/** Instrumentations @obs knows, by the short names `OTEL_NODE_ENABLED_INSTRUMENTATIONS` uses. */
export const INSTRUMENTATION_NAMES = [
  'http',
  'undici',
  'express',
  'fastify',
  'koa',
  'nestjs-core',
  'pino',
  'pg',
  'mysql2',
  'ioredis',
  'redis',
  'amqplib',
  'runtime-node',
  'graphql',
  'grpc',
  'knex',
] as const;
/** A short instrumentation name, e.g. `http` for `@opentelemetry/instrumentation-http`. */
export type InstrumentationName = (typeof INSTRUMENTATION_NAMES)[number];

/**
 * Bundled instrumentations that load only when `OTEL_NODE_ENABLED_INSTRUMENTATIONS` names them.
 * `fastify` (`@fastify/otel`): the Fastify and NestJS adapters put the route template on the server
 * span and the metric themselves; `@fastify/otel` adds an INTERNAL span per request (and, when asked,
 * per hook) at ~30-50 µs of CPU per request (docs/performance.md), so it is opt-in, as it is in
 * OpenTelemetry's `auto-instrumentations-node`. `graphql`, `grpc` and `knex` add a span per resolver,
 * call or query builder on top of what the http and database instrumentations record
 * (docs/instrumentations.md).
 */
export const OPT_IN_INSTRUMENTATIONS: readonly InstrumentationName[] = ['fastify', 'graphql', 'grpc', 'knex'];

/** What loads when `OTEL_NODE_ENABLED_INSTRUMENTATIONS` is not set: every bundled one but the opt-in ones. */
export const DEFAULT_INSTRUMENTATIONS: readonly InstrumentationName[] = INSTRUMENTATION_NAMES.filter(
  (name) => !OPT_IN_INSTRUMENTATIONS.includes(name),
);

const OTEL_INSTRUMENTATION_PREFIX = '@opentelemetry/instrumentation-';

/**
 * The name an instrumentation goes by in `OTEL_NODE_ENABLED_INSTRUMENTATIONS` and
 * `OTEL_NODE_DISABLED_INSTRUMENTATIONS`: its package (or `instrumentationName`) without the
 * `@opentelemetry/instrumentation-` prefix, as OpenTelemetry's `auto-instrumentations-node` does
 * (`@opentelemetry/instrumentation-dataloader` -> `dataloader`); any other package keeps its whole
 * name, lower-cased (`@acme/instrumentation-soap`).
 */
export function instrumentationShortName(packageName: string): string {
  const name = packageName.trim().toLowerCase();
  return name.startsWith(OTEL_INSTRUMENTATION_PREFIX) ? name.slice(OTEL_INSTRUMENTATION_PREFIX.length) : name;
}

export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
/** `OTEL_TRACES_SAMPLER` values @obs supports (spec: "General SDK Configuration"). */
export type SamplerName = (typeof SAMPLERS)[number];

export const PROPAGATORS = ['tracecontext', 'baggage', 'b3', 'b3multi', 'none'] as const;
export type PropagatorName = (typeof PROPAGATORS)[number];

export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
/**
 * OTLP transport. `grpc` uses the `@opentelemetry/exporter-*-otlp-grpc` packages and `@grpc/grpc-js`,
 * optional peer dependencies the app installs ({@link missingGrpcPackages}: without them, one warning
 * and `http/protobuf`); they are loaded only for a signal whose protocol is `grpc` (../otlp.ts).
 */
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/**
 * The timeout, in milliseconds, that a timeout variable set to `0` stands for: the specification's
 * "no limit" (SDK environment variables, "Timeout"). The longest delay `setTimeout` takes (~24.8 days);
 * a longer one would fire at once.
 */
export const NO_TIMEOUT_MS = 2_147_483_647;

export const DIAG_LEVELS = ['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'] as const;
export type DiagLevel = (typeof DIAG_LEVELS)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** pino level names. */
export type LogLevel = (typeof LOG_LEVELS)[number];

export const RESOURCE_DETECTORS = [
  'env',
  'host',
  'os',
  'process',
  'serviceinstance',
  'container',
  'all',
  'none',
] as const;
export type ResourceDetectorName = (typeof RESOURCE_DETECTORS)[number];

/** Per-signal OTLP exporter settings after resolution. */
export interface OtlpSignalConfig {
  /**
   * Full URL including the signal path, e.g. `http://localhost:4318/v1/traces`; for `grpc` the
   * endpoint without a path (default `http://localhost:4317`; `https://` means TLS).
   */
  url: string;
  protocol: OtlpProtocol;
  headers: Record<string, string>;
  /** Per-export timeout in milliseconds (spec default 10000; `0` in the variable is {@link NO_TIMEOUT_MS}). */
  timeoutMs: number;
  compression: 'gzip' | 'none';
}

/** Batch processor settings (`OTEL_BSP_*` for spans, `OTEL_BLRP_*` for log records), milliseconds and counts. */
export interface BatchConfig {
  scheduledDelayMs: number;
  exportTimeoutMs: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
}

/**
 * Options that override the environment. Every field is optional; the environment variable each one
 * overrides is named in its comment. Typed values are validated exactly like the variables.
 */
export interface ObsOptions {
  /** `OTEL_SERVICE_NAME`. Default: `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, else `npm_package_name`, else `unknown_service:node`. */
  serviceName?: string;
  /**
   * `service.version` resource attribute. Default: `service.version` in `OTEL_RESOURCE_ATTRIBUTES`,
   * else `npm_package_version` when npm/pnpm started the process and `npm_package_name` is the service name.
   */
  serviceVersion?: string;
  /** Merged over `OTEL_RESOURCE_ATTRIBUTES`. */
  resourceAttributes?: Record<string, string | number | boolean>;
  /** `OTEL_SDK_DISABLED`: traces, metrics and OTLP logs become no-ops; routes still answer, and `OTEL_PROPAGATORS` still carry context in and out. */
  disabled?: boolean;
  /** `OTEL_TRACES_EXPORTER`: `otlp` (default), `console`, `none`. */
  tracesExporter?: string | string[];
  /** `OTEL_METRICS_EXPORTER`: `prometheus` (default; the /metrics route), `otlp`, `console`, `none`. */
  metricsExporter?: string | string[];
  /** `OTEL_LOGS_EXPORTER`: `none` (default), `otlp`, `console`. */
  logsExporter?: string | string[];
  /** `OTEL_EXPORTER_OTLP_*` for all signals. */
  otlp?: {
    endpoint?: string;
    protocol?: OtlpProtocol;
    headers?: Record<string, string>;
    timeoutMs?: number;
    compression?: 'gzip' | 'none';
  };
  /** `OTEL_TRACES_SAMPLER`. Default `parentbased_always_on`. */
  sampler?: SamplerName;
  /** `OTEL_TRACES_SAMPLER_ARG`: ratio in [0, 1] for the ratio samplers. Default 1. */
  samplerRatio?: number;
  /** `OTEL_PROPAGATORS`. Default `tracecontext,baggage`. */
  propagators?: PropagatorName[];
  /**
   * `OTEL_NODE_ENABLED_INSTRUMENTATIONS` / `OTEL_NODE_DISABLED_INSTRUMENTATIONS` (short names), plus
   * the instrumentations the app brings (docs/instrumentations.md). Default: enabled
   * {@link DEFAULT_INSTRUMENTATIONS} (all but {@link OPT_IN_INSTRUMENTATIONS}) and every added one,
   * none disabled. An array is shorthand for `{ add: [...] }`. Under `@obs/register` @obs is already
   * started and these options are ignored: use `OBS_INSTRUMENTATION_PACKAGES` there.
   */
  instrumentations?:
    | {
        /** Short names; also those of `packages` and `add`. */
        enabled?: string[];
        disabled?: string[];
        /**
         * `OBS_INSTRUMENTATION_PACKAGES`: OpenTelemetry instrumentation packages the app has installed,
         * loaded by name from the app's directory (`process.cwd()`) and run like the bundled ones.
         */
        packages?: string[];
        /** Instrumentation objects the app built itself (`new DataloaderInstrumentation()`). */
        add?: Instrumentation[];
      }
    /** Shorthand for `{ add: [...] }`. */
    | Instrumentation[];
  /** `OTEL_LOG_LEVEL`: the OpenTelemetry SDK's own diagnostics. Default `warn`. */
  diagLevel?: DiagLevel;
  /** `OBS_LOG_LEVEL`: the application logger's level. Default `info`. */
  logLevel?: LogLevel;
  /** `OBS_LOG_SYNC`: one `write(2)` per log line instead of one per event-loop turn. Default false. */
  logSync?: boolean;
  /** `OBS_REDACT_KEYS`: extra keys to redact, matched case-insensitively at any depth. */
  redactKeys?: string[];
  /**
   * `OBS_REDACT_STRINGS`: look for secret shapes inside strings (bearer tokens, JWTs, URL passwords,
   * `password=...` and `"token": "..."` pairs) in log lines, span attributes and Sentry events.
   * Default true. Keys, URLs and query strings are redacted either way.
   */
  redactStrings?: boolean;
  /** `OBS_SHUTDOWN_TIMEOUT_MS`: budget for flushing every pillar at shutdown. Default 5000. */
  shutdownTimeoutMs?: number;
  /** `OBS_HANDLE_SIGNALS`: flush on SIGTERM/SIGINT and then end the process as Node would. Default true. */
  handleSignals?: boolean;
  /**
   * `OBS_HTTP_SERVER_INSTRUMENTATION`: who makes the SERVER span and `http.server.request.duration`
   * of incoming requests. `obs` (default): @obs's request observer, one observation per request.
   * `otel`: `@opentelemetry/instrumentation-http`'s incoming side, for apps that need its hooks.
   */
  httpServerInstrumentation?: HttpServerInstrumentation;
  /**
   * `OBS_ROOT_CLIENT_SPANS`: trace database and cache operations (pg, mysql2, ioredis, redis) made
   * outside any span, e.g. by a poller or a timer, as root traces of their own. Default false: they
   * are measured (`db.client.operation.duration`) but not traced. Operations inside a request, a
   * consumed message or `withSpan` are traced either way.
   */
  rootClientSpans?: boolean;
  /**
   * `OBS_SHUTDOWN_DELAY_MS`: after a termination signal, readiness fails at once but the server keeps
   * serving this long (load balancers notice) before it stops accepting connections. Default 5000 in
   * Kubernetes (`KUBERNETES_SERVICE_HOST` set), else 0.
   */
  shutdownDelayMs?: number;
  /** `OBS_DRAIN_TIMEOUT_MS`: how long in-flight requests may take to finish once the server stops accepting. Default 10000. */
  drainTimeoutMs?: number;
  /** Health probes: `OBS_HEALTH_CACHE_MS` (default 1000), `OBS_HEALTH_TIMEOUT_MS` (default 900), `OBS_HEALTH_DETAILS` (default false). */
  health?: { cacheMs?: number; timeoutMs?: number; details?: boolean };
  /** `OTEL_EXPORTER_PROMETHEUS_HOST` / `_PORT`: a standalone scrape server, only when a port is given. */
  prometheus?: { host?: string; port?: number };
  /** `OTEL_METRIC_EXPORT_INTERVAL` (ms) for OTLP push. Default 60000. */
  metricExportIntervalMs?: number;
  /** Error reporting to Sentry (needs the optional peer `@sentry/node` 11.x); see docs/apm.md. */
  sentry?: SentryOptions;
  /**
   * `OBS_MANAGEMENT_PORT`: serve the probes and `/metrics` on this port, on a server of their own,
   * instead of on the app's port (no app middleware or hooks run for them). 0 picks a free port.
   * Default unset: the adapters serve them on the app's port.
   */
  managementPort?: number;
  /** `OBS_MANAGEMENT_ADDRESS`: the interface of the management server. Default all interfaces (Node's default). */
  managementAddress?: string;
  /**
   * `OBS_HTTP_LOG_FIELDS`: standard fields added to every completion line, by their semantic-convention
   * names: `user_agent.original`, `client.address`, `http.response.body.size`. Default none.
   */
  httpLogFields?: HttpLogField[];
}

/** The standard fields `OBS_HTTP_LOG_FIELDS` can add to the completion line (semantic-convention attribute names). */
export const HTTP_LOG_FIELDS = ['user_agent.original', 'client.address', 'http.response.body.size'] as const;
export type HttpLogField = (typeof HTTP_LOG_FIELDS)[number];

/** Sentry settings; each field overrides the variable named in its comment. See docs/apm.md. */
export interface SentryOptions {
  /** `SENTRY_DSN`. Without a DSN, nothing of Sentry is loaded. */
  dsn?: string;
  /** `SENTRY_RELEASE`. Default `<service.name>@<service.version>` when the resource has a version. */
  release?: string;
  /** `SENTRY_ENVIRONMENT`. Default the `deployment.environment.name` resource attribute. */
  environment?: string;
  /** `OBS_SENTRY_MIN_STATUS`: report a request's error when its response status is at least this (400..599). Default 500. */
  minStatus?: number;
  /** `SENTRY_TRACES_SAMPLE_RATE`: turns Sentry's own tracing on (its spans go to Sentry only). Default off. */
  tracesSampleRate?: number;
  /** Edit or drop (return null) events before @obs scrubs them with the redaction rules and sends them. */
  beforeSend?: SentryBeforeSend;
}

const DEFAULT_DETECTORS = ['env', 'host', 'process', 'serviceinstance'];

/** `OBS_SHUTDOWN_DELAY_MS` default in Kubernetes: endpoint removal reaches kube-proxy and ingresses within a few seconds. */
export const KUBERNETES_SHUTDOWN_DELAY_MS = 5000;
/** `OBS_DRAIN_TIMEOUT_MS` default: the slowest request a drain waits for. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10000;

/** The resolved, frozen configuration. */
export interface ObsConfig {
  readonly disabled: boolean;
  readonly serviceName: string;
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly resourceDetectors: readonly ResourceDetectorName[];
  readonly traces: {
    readonly exporters: readonly ('otlp' | 'console')[];
    readonly otlp: OtlpSignalConfig;
    readonly sampler: SamplerName;
    readonly samplerRatio: number;
    readonly batch: BatchConfig;
    readonly limits: {
      readonly attributeValueLengthLimit?: number;
      readonly attributeCountLimit?: number;
      readonly eventCountLimit?: number;
      readonly linkCountLimit?: number;
      /** `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT` */
      readonly attributePerEventCountLimit?: number;
      /** `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT` */
      readonly attributePerLinkCountLimit?: number;
    };
    /** `OBS_ROOT_CLIENT_SPANS`: database and cache operations outside any span make root traces. */
    readonly rootClientSpans: boolean;
  };
  readonly metrics: {
    readonly exporters: readonly ('otlp' | 'console')[];
    readonly otlp: OtlpSignalConfig;
    readonly temporality: 'cumulative' | 'delta' | 'lowmemory';
    readonly exportIntervalMs: number;
    readonly exportTimeoutMs: number;
    /** Standalone Prometheus server; `port` undefined means serve only through the adapters' route. */
    readonly prometheus: { readonly host: string; readonly port: number | undefined };
    /**
     * `OTEL_METRICS_EXEMPLAR_FILTER`: which measurements of the request, outgoing-call and database
     * duration histograms become exemplars in the OpenMetrics exposition (`trace_based`: those in a
     * sampled span; `always_on`: any in a valid span; `always_off`: none).
     */
    readonly exemplarFilter: 'trace_based' | 'always_on' | 'always_off';
  };
  readonly logs: {
    readonly exporters: readonly ('otlp' | 'console')[];
    readonly otlp: OtlpSignalConfig;
    readonly batch: BatchConfig;
    /**
     * Log record limits: `OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT` (else `OTEL_ATTRIBUTE_COUNT_LIMIT`) and
     * `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT` (else `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`);
     * undefined means the SDK's default (128 attributes, no length limit).
     */
    readonly limits: {
      readonly attributeCountLimit?: number;
      readonly attributeValueLengthLimit?: number;
    };
    readonly level: LogLevel;
    /** `OBS_LOG_SYNC`: each line written before the logging call returns. */
    readonly sync: boolean;
    readonly redactKeys: readonly string[];
    /** Redact secret shapes inside strings in logs, spans and Sentry events (`OBS_REDACT_STRINGS`). */
    readonly redactStrings: boolean;
  };
  readonly propagators: readonly PropagatorName[];
  /** The bundled instrumentations that run. */
  readonly instrumentations: readonly InstrumentationName[];
  /** `OBS_INSTRUMENTATION_PACKAGES` that run (not named in the disabled list, named in the enabled one if set). */
  readonly instrumentationPackages: readonly string[];
  /** Short names of the `start({ instrumentations })` objects that run, by the same rules. */
  readonly addedInstrumentations: readonly string[];
  readonly diagLevel: DiagLevel;
  readonly shutdownTimeoutMs: number;
  readonly handleSignals: boolean;
  /** Who makes the SERVER span of incoming requests (`OBS_HTTP_SERVER_INSTRUMENTATION`). */
  readonly httpServerInstrumentation: HttpServerInstrumentation;
  /** Error reporting to Sentry (`SENTRY_*`, `OBS_SENTRY_MIN_STATUS`). */
  readonly sentry: {
    /** The DSN; undefined when unset or invalid (Sentry is then not loaded). */
    readonly dsn: string | undefined;
    readonly release: string | undefined;
    readonly environment: string | undefined;
    /** Lowest response status whose error is reported. */
    readonly minStatus: number;
    /** Sentry's own tracing; undefined means off. */
    readonly tracesSampleRate: number | undefined;
  };
  /** Milliseconds between readiness failing and the server no longer accepting connections. */
  readonly shutdownDelayMs: number;
  /** Milliseconds in-flight requests get to finish before their connections are closed. */
  readonly drainTimeoutMs: number;
  readonly health: {
    /** Milliseconds a probe answer is reused (concurrent probes always share one run). */
    readonly cacheMs: number;
    /** Deadline of a probe answer in milliseconds: no check runs longer. */
    readonly timeoutMs: number;
    /** Add each failing check's error message (`detail`) to the answers. */
    readonly details: boolean;
  };
  /** The probes' and scrape's own server (`OBS_MANAGEMENT_PORT`, `OBS_MANAGEMENT_ADDRESS`); port undefined: the app's port. */
  readonly management: { readonly port: number | undefined; readonly address: string | undefined };
  /** Standard fields added to the completion line (`OBS_HTTP_LOG_FIELDS`). */
  readonly httpLogFields: readonly HttpLogField[];
}

/** Values of `OBS_HTTP_SERVER_INSTRUMENTATION`. */
export const HTTP_SERVER_INSTRUMENTATIONS = ['obs', 'otel'] as const;
export type HttpServerInstrumentation = (typeof HTTP_SERVER_INSTRUMENTATIONS)[number];

/** An environment: `process.env` or a test's own record. */
export type Env = Record<string, string | undefined>;

const SIGNAL_EXPORTERS = ['otlp', 'console', 'none', 'prometheus'] as const;

function exportersFor(
  raw: Raw,
  name: string,
  fallback: (typeof SIGNAL_EXPORTERS)[number][],
  allowPrometheus: boolean,
): ('otlp' | 'console')[] {
  const allowed = allowPrometheus ? SIGNAL_EXPORTERS : SIGNAL_EXPORTERS.filter((e) => e !== 'prometheus');
  const list = parseList(raw, name, allowed, fallback);
  if (list.includes('none')) {
    if (list.length > 1) warn(`${name} combines "none" with other exporters; "none" wins`);
    return [];
  }
  const out: ('otlp' | 'console')[] = [];
  for (const item of list) {
    if (item === 'otlp' || item === 'console') out.push(item);
  }
  return out;
}

const HEADERS = { headers: true } as const;

const SIGNAL_PATHS = { traces: 'v1/traces', metrics: 'v1/metrics', logs: 'v1/logs' } as const;

/** The OTLP/gRPC exporter package of each signal, an optional peer dependency of @obs/core. */
export const GRPC_EXPORTER_PACKAGES = {
  traces: '@opentelemetry/exporter-trace-otlp-grpc',
  metrics: '@opentelemetry/exporter-metrics-otlp-grpc',
  logs: '@opentelemetry/exporter-logs-otlp-grpc',
} as const;

/**
 * The packages OTLP over gRPC needs for `signal` that cannot be resolved from @obs/core: they are
 * optional peer dependencies (they bring protobufjs, whose install script makes npm, pnpm and Yarn
 * print a notice in every app that installs @obs), installed by the apps that export over gRPC.
 */
export function missingGrpcPackages(signal: keyof typeof GRPC_EXPORTER_PACKAGES): string[] {
  return [GRPC_EXPORTER_PACKAGES[signal], '@grpc/grpc-js'].filter((id) => {
    try {
      load.resolve(id);
      return false;
    } catch {
      return true;
    }
  });
}

function otlpFor(env: Env, options: ObsOptions, signal: keyof typeof SIGNAL_PATHS): OtlpSignalConfig {
  const S = signal.toUpperCase();
  const o = options.otlp ?? {};
  // The first source that is set (an empty variable counts as unset), and its name for warnings.
  const pick = (option: Raw, optionName: string, setting: string): [Raw, string] => {
    if (!isUnset(option)) return [option, optionName];
    const specific = `OTEL_EXPORTER_OTLP_${S}_${setting}`;
    if (!isUnset(env[specific])) return [env[specific], specific];
    return [env[`OTEL_EXPORTER_OTLP_${setting}`], `OTEL_EXPORTER_OTLP_${setting}`];
  };
  const [protocolRaw, protocolName] = pick(o.protocol, 'options.otlp.protocol', 'PROTOCOL');
  let protocol = parseEnum(protocolRaw, protocolName, OTLP_PROTOCOLS, 'http/protobuf');
  if (protocol === 'grpc') {
    if (missingGrpcPackages(signal).length > 0) {
      // one line for every signal (diag prints a message once): all the packages gRPC lacks
      const missing = new Set((['traces', 'metrics', 'logs'] as const).flatMap(missingGrpcPackages));
      const ids = [...missing].sort((a, b) => Number(a === '@grpc/grpc-js') - Number(b === '@grpc/grpc-js')).join(' ');
      warn(
        `OTLP over gRPC needs optional packages that are not installed: npm install ${ids}; the signals without them are exported with http/protobuf`,
      );
      protocol = 'http/protobuf';
    }
  }
  const grpc = protocol === 'grpc';
  const specific = parseUrl(env[`OTEL_EXPORTER_OTLP_${S}_ENDPOINT`], `OTEL_EXPORTER_OTLP_${S}_ENDPOINT`, undefined);
  let url: string;
  if (specific !== undefined && o.endpoint === undefined) {
    url = specific; // a signal-specific endpoint is used as is (spec)
  } else {
    const base =
      parseUrl(o.endpoint, 'options.otlp.endpoint', undefined) ??
      parseUrl(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'OTEL_EXPORTER_OTLP_ENDPOINT', undefined) ??
      (grpc ? 'http://localhost:4317' : 'http://localhost:4318');
    // gRPC has no signal paths: the service names the signal (spec, "OTLP Exporter Configuration")
    url = grpc ? base : `${base.replace(/\/+$/, '')}/${SIGNAL_PATHS[signal]}`;
  }
  const headers = {
    ...parseKeyValueList(env.OTEL_EXPORTER_OTLP_HEADERS, 'OTEL_EXPORTER_OTLP_HEADERS', HEADERS),
    ...parseKeyValueList(env[`OTEL_EXPORTER_OTLP_${S}_HEADERS`], `OTEL_EXPORTER_OTLP_${S}_HEADERS`, HEADERS),
    ...parseKeyValueList(o.headers, 'options.otlp.headers', HEADERS),
  };
  const [timeoutRaw, timeoutName] = pick(o.timeoutMs, 'options.otlp.timeoutMs', 'TIMEOUT');
  const timeoutMs = parseTimeout(timeoutRaw, timeoutName, 10000);
  const [compressionRaw, compressionName] = pick(o.compression, 'options.otlp.compression', 'COMPRESSION');
  const compression = parseEnum(compressionRaw, compressionName, ['gzip', 'none'] as const, 'none');
  return { url, protocol, headers, timeoutMs, compression };
}

function batchFor(env: Env, prefix: 'OTEL_BSP' | 'OTEL_BLRP', delayDefault: number): BatchConfig {
  const maxQueueSize = parseNonNegativeInt(env[`${prefix}_MAX_QUEUE_SIZE`], `${prefix}_MAX_QUEUE_SIZE`, 2048, {
    min: 1,
  });
  let maxExportBatchSize = parseNonNegativeInt(
    env[`${prefix}_MAX_EXPORT_BATCH_SIZE`],
    `${prefix}_MAX_EXPORT_BATCH_SIZE`,
    512,
    { min: 1 },
  );
  if (maxExportBatchSize > maxQueueSize) {
    warn(
      `${prefix}_MAX_EXPORT_BATCH_SIZE (${maxExportBatchSize}) exceeds ${prefix}_MAX_QUEUE_SIZE (${maxQueueSize}); using ${maxQueueSize}`,
    );
    maxExportBatchSize = maxQueueSize;
  }
  return {
    scheduledDelayMs: parseNonNegativeInt(env[`${prefix}_SCHEDULE_DELAY`], `${prefix}_SCHEDULE_DELAY`, delayDefault),
    exportTimeoutMs: parseTimeout(env[`${prefix}_EXPORT_TIMEOUT`], `${prefix}_EXPORT_TIMEOUT`, 30000),
    maxQueueSize,
    maxExportBatchSize,
  };
}

/** A timeout in milliseconds, where `0` means no limit ({@link NO_TIMEOUT_MS}; spec "Timeout"). */
function parseTimeout(raw: Raw, name: string, fallback: number): number {
  const value = parseNonNegativeInt(raw, name, fallback);
  return value === 0 ? NO_TIMEOUT_MS : Math.min(value, NO_TIMEOUT_MS);
}

function optionalLimit(env: Env, names: string[]): number | undefined {
  for (const name of names) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    const value = parseNonNegativeInt(raw, name, -1, { fallbackLabel: "the SDK's default" });
    return value < 0 ? undefined : value;
  }
  return undefined;
}

function resolveServiceName(env: Env, options: ObsOptions, attributes: Record<string, string>): string {
  return (
    parseString(options.serviceName, undefined) ??
    parseString(env.OTEL_SERVICE_NAME, undefined) ??
    parseString(attributes['service.name'], undefined) ??
    parseString(env.npm_package_name, undefined) ??
    'unknown_service:node'
  );
}

/** The DSN syntax `@sentry/core` 11 parses (its `DSN_REGEX`): the key is letters, digits and `_`. */
const SENTRY_DSN_REGEX = /^(?:(\w+):)\/\/(?:(\w+)(?::(\w+)?)?@)((?:\[[:.%\w]+\]|[\w.-]+))(?::(\d+))?\/(.+)/;

/**
 * A Sentry DSN as `@sentry/core` accepts it (`http(s)://PUBLIC_KEY@HOST[:PORT][/PATH]/PROJECT_ID`,
 * numeric project id), else undefined, with a warning that does not print the key.
 */
function parseDsn(raw: Raw, name: string): string | undefined {
  if (isUnset(raw)) return undefined;
  const text = String(raw).trim();
  const match = SENTRY_DSN_REGEX.exec(text);
  const protocol = match?.[1];
  const projectId = match?.[6]?.split('/').pop() ?? '';
  if (!match || (protocol !== 'http' && protocol !== 'https') || !/^\d+$/.test(projectId)) {
    warn(`${name} is not a Sentry DSN (https://PUBLIC_KEY@HOST/PROJECT_ID); errors are not reported to Sentry`);
    return undefined;
  }
  return text;
}

function resolveSentry(env: Env, options: ObsOptions, serviceName: string, attributes: Record<string, string>) {
  const o = options.sentry ?? {};
  const dsn = parseDsn(o.dsn ?? env.SENTRY_DSN, o.dsn !== undefined ? 'options.sentry.dsn' : 'SENTRY_DSN');
  const version = parseString(attributes['service.version'], undefined);
  const release =
    parseString(o.release, undefined) ??
    parseString(env.SENTRY_RELEASE, undefined) ??
    (version !== undefined ? `${serviceName}@${version}` : undefined);
  const environment =
    parseString(o.environment, undefined) ??
    parseString(env.SENTRY_ENVIRONMENT, undefined) ??
    parseString(attributes['deployment.environment.name'], undefined) ??
    parseString(attributes['deployment.environment'], undefined);
  const minStatus = parseNonNegativeInt(o.minStatus ?? env.OBS_SENTRY_MIN_STATUS, 'OBS_SENTRY_MIN_STATUS', 500, {
    min: 400,
    max: 599,
  });
  const rateRaw = o.tracesSampleRate ?? env.SENTRY_TRACES_SAMPLE_RATE;
  let tracesSampleRate: number | undefined;
  if (!isUnset(rateRaw)) {
    const rate = toNumber(rateRaw, DECIMAL_NUMBER);
    if (Number.isFinite(rate) && rate >= 0 && rate <= 1) tracesSampleRate = rate;
    else {
      warn(
        `SENTRY_TRACES_SAMPLE_RATE=${JSON.stringify(rateRaw)} is not a number between 0 and 1; Sentry's tracing stays off`,
      );
    }
  }
  return { dsn, release, environment, minStatus, tracesSampleRate };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * Resolve the configuration from an environment and options (options win).
 * Never throws; see the module comment for how bad values are handled.
 * @param env defaults to `process.env`
 */
export function resolveConfig(options: ObsOptions = {}, env: Env = process.env): ObsConfig {
  const resourceAttributes: Record<string, string> = {
    ...parseKeyValueList(env.OTEL_RESOURCE_ATTRIBUTES, 'OTEL_RESOURCE_ATTRIBUTES'),
    ...parseKeyValueList(options.resourceAttributes, 'options.resourceAttributes'),
  };
  const serviceName = resolveServiceName(env, options, resourceAttributes);
  resourceAttributes['service.name'] = serviceName;
  const version = parseString(options.serviceVersion, undefined) ?? resourceAttributes['service.version'];
  const npmVersion = parseString(env.npm_package_version, undefined);
  if (version !== undefined) resourceAttributes['service.version'] = version;
  else if (npmVersion !== undefined && env.npm_package_name === serviceName) {
    resourceAttributes['service.version'] = npmVersion;
  }

  let detectors = parseList(
    env.OTEL_NODE_RESOURCE_DETECTORS,
    'OTEL_NODE_RESOURCE_DETECTORS',
    undefined,
    DEFAULT_DETECTORS,
  ) as string[];
  const known = RESOURCE_DETECTORS as readonly string[];
  const requested = detectors.length;
  detectors = detectors.filter((d) => {
    if (known.includes(d)) return true;
    warn(
      `OTEL_NODE_RESOURCE_DETECTORS entry "${d}" is not bundled with @obs (cloud detectors call the network); ignoring it`,
    );
    return false;
  });
  if (requested > 0 && detectors.length === 0) detectors = [...DEFAULT_DETECTORS];
  if (detectors.includes('none')) detectors = [];
  else if (detectors.includes('all')) detectors = ['env', 'host', 'os', 'process', 'serviceinstance', 'container'];

  // Instrumentations the app brings run under the same lists as the bundled ones, on by default.
  const instrOptions = Array.isArray(options.instrumentations)
    ? { add: options.instrumentations }
    : options.instrumentations;
  const packages = (
    parseList(
      instrOptions?.packages ?? env.OBS_INSTRUMENTATION_PACKAGES,
      'OBS_INSTRUMENTATION_PACKAGES',
      undefined,
      [],
    ) as string[]
  ).filter((name) => {
    if (/^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/.test(name)) return true;
    warn(`OBS_INSTRUMENTATION_PACKAGES entry ${JSON.stringify(name)} is not a package name; ignoring it`);
    return false;
  });
  const added = (instrOptions?.add ?? []).map((i) => instrumentationShortName(String(i?.instrumentationName)));
  const bringYourOwn = [...packages.map(instrumentationShortName), ...added];
  const knownInstr = [...new Set([...INSTRUMENTATION_NAMES, ...bringYourOwn])];
  const enabled = parseList(
    instrOptions?.enabled ?? env.OTEL_NODE_ENABLED_INSTRUMENTATIONS,
    'OTEL_NODE_ENABLED_INSTRUMENTATIONS',
    knownInstr,
    [...new Set([...DEFAULT_INSTRUMENTATIONS, ...bringYourOwn])],
  );
  const disabledInstr = parseList(
    instrOptions?.disabled ?? env.OTEL_NODE_DISABLED_INSTRUMENTATIONS,
    'OTEL_NODE_DISABLED_INSTRUMENTATIONS',
    knownInstr,
    [],
  );
  const runs = (name: string) => enabled.includes(name) && !disabledInstr.includes(name);

  const sampler = parseEnum(
    options.sampler ?? env.OTEL_TRACES_SAMPLER,
    'OTEL_TRACES_SAMPLER',
    SAMPLERS,
    'parentbased_always_on',
  );
  const samplerRatio = sampler.endsWith('traceidratio')
    ? parseNumberInRange(options.samplerRatio ?? env.OTEL_TRACES_SAMPLER_ARG, 'OTEL_TRACES_SAMPLER_ARG', 1, 0, 1)
    : 1;

  const config: ObsConfig = {
    disabled: parseBoolean(options.disabled ?? env.OTEL_SDK_DISABLED, 'OTEL_SDK_DISABLED', false),
    serviceName,
    resourceAttributes,
    resourceDetectors: detectors as ResourceDetectorName[],
    traces: {
      exporters: exportersFor(
        options.tracesExporter ?? env.OTEL_TRACES_EXPORTER,
        'OTEL_TRACES_EXPORTER',
        ['otlp'],
        false,
      ),
      otlp: otlpFor(env, options, 'traces'),
      sampler,
      samplerRatio,
      batch: batchFor(env, 'OTEL_BSP', 5000),
      limits: {
        attributeValueLengthLimit: optionalLimit(env, [
          'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
          'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
        ]),
        attributeCountLimit: optionalLimit(env, ['OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT']),
        eventCountLimit: optionalLimit(env, ['OTEL_SPAN_EVENT_COUNT_LIMIT']),
        linkCountLimit: optionalLimit(env, ['OTEL_SPAN_LINK_COUNT_LIMIT']),
        attributePerEventCountLimit: optionalLimit(env, ['OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT']),
        attributePerLinkCountLimit: optionalLimit(env, ['OTEL_LINK_ATTRIBUTE_COUNT_LIMIT']),
      },
      rootClientSpans: parseBoolean(
        options.rootClientSpans ?? env.OBS_ROOT_CLIENT_SPANS,
        'OBS_ROOT_CLIENT_SPANS',
        false,
      ),
    },
    metrics: {
      exporters: exportersFor(
        options.metricsExporter ?? env.OTEL_METRICS_EXPORTER,
        'OTEL_METRICS_EXPORTER',
        ['prometheus'],
        true,
      ),
      otlp: otlpFor(env, options, 'metrics'),
      temporality: parseEnum(
        env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
        'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE',
        ['cumulative', 'delta', 'lowmemory'] as const,
        'cumulative',
      ),
      exportIntervalMs: parseNonNegativeInt(
        options.metricExportIntervalMs ?? env.OTEL_METRIC_EXPORT_INTERVAL,
        'OTEL_METRIC_EXPORT_INTERVAL',
        60000,
        { min: 1 },
      ),
      exportTimeoutMs: parseTimeout(env.OTEL_METRIC_EXPORT_TIMEOUT, 'OTEL_METRIC_EXPORT_TIMEOUT', 30000),
      prometheus: {
        host:
          parseString(options.prometheus?.host, undefined) ??
          parseString(env.OTEL_EXPORTER_PROMETHEUS_HOST, undefined) ??
          '0.0.0.0',
        port: parsePort(
          options.prometheus?.port ?? env.OTEL_EXPORTER_PROMETHEUS_PORT,
          'OTEL_EXPORTER_PROMETHEUS_PORT',
          undefined,
          1,
        ),
      },
      exemplarFilter: parseEnum(
        env.OTEL_METRICS_EXEMPLAR_FILTER,
        'OTEL_METRICS_EXEMPLAR_FILTER',
        ['trace_based', 'always_on', 'always_off'] as const,
        'trace_based',
      ),
    },
    logs: {
      exporters: exportersFor(options.logsExporter ?? env.OTEL_LOGS_EXPORTER, 'OTEL_LOGS_EXPORTER', ['none'], false),
      otlp: otlpFor(env, options, 'logs'),
      batch: batchFor(env, 'OTEL_BLRP', 1000),
      limits: {
        attributeCountLimit: optionalLimit(env, ['OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT']),
        attributeValueLengthLimit: optionalLimit(env, [
          'OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT',
          'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
        ]),
      },
      level: parseEnum(options.logLevel ?? env.OBS_LOG_LEVEL, 'OBS_LOG_LEVEL', LOG_LEVELS, 'info'),
      sync: parseBoolean(options.logSync ?? env.OBS_LOG_SYNC, 'OBS_LOG_SYNC', false),
      redactKeys: parseList(options.redactKeys ?? env.OBS_REDACT_KEYS, 'OBS_REDACT_KEYS', undefined, []),
      redactStrings: parseBoolean(options.redactStrings ?? env.OBS_REDACT_STRINGS, 'OBS_REDACT_STRINGS', true),
    },
    propagators: (() => {
      const list = parseList(options.propagators ?? env.OTEL_PROPAGATORS, 'OTEL_PROPAGATORS', PROPAGATORS, [
        'tracecontext',
        'baggage',
      ]);
      return list.includes('none') ? [] : list;
    })(),
    instrumentations: enabled
      .filter((name): name is InstrumentationName => (INSTRUMENTATION_NAMES as readonly string[]).includes(name))
      .filter(runs),
    // a package named like a bundled instrumentation turns the bundled one on instead
    instrumentationPackages: packages.filter(
      (name) =>
        !(INSTRUMENTATION_NAMES as readonly string[]).includes(instrumentationShortName(name)) &&
        runs(instrumentationShortName(name)),
    ),
    addedInstrumentations: added.filter(runs),
    diagLevel: parseEnum(options.diagLevel ?? env.OTEL_LOG_LEVEL, 'OTEL_LOG_LEVEL', DIAG_LEVELS, 'warn'),
    shutdownTimeoutMs: parseNonNegativeInt(
      options.shutdownTimeoutMs ?? env.OBS_SHUTDOWN_TIMEOUT_MS,
      'OBS_SHUTDOWN_TIMEOUT_MS',
      5000,
      { min: 1 },
    ),
    handleSignals: parseBoolean(options.handleSignals ?? env.OBS_HANDLE_SIGNALS, 'OBS_HANDLE_SIGNALS', true),
    httpServerInstrumentation: parseEnum(
      options.httpServerInstrumentation ?? env.OBS_HTTP_SERVER_INSTRUMENTATION,
      'OBS_HTTP_SERVER_INSTRUMENTATION',
      HTTP_SERVER_INSTRUMENTATIONS,
      'obs',
    ),
    sentry: resolveSentry(env, options, serviceName, resourceAttributes),
    shutdownDelayMs: parseNonNegativeInt(
      options.shutdownDelayMs ?? env.OBS_SHUTDOWN_DELAY_MS,
      'OBS_SHUTDOWN_DELAY_MS',
      isUnset(env.KUBERNETES_SERVICE_HOST) ? 0 : KUBERNETES_SHUTDOWN_DELAY_MS,
    ),
    drainTimeoutMs: parseNonNegativeInt(
      options.drainTimeoutMs ?? env.OBS_DRAIN_TIMEOUT_MS,
      'OBS_DRAIN_TIMEOUT_MS',
      DEFAULT_DRAIN_TIMEOUT_MS,
    ),
    health: {
      cacheMs: parseNonNegativeInt(
        options.health?.cacheMs ?? env.OBS_HEALTH_CACHE_MS,
        'OBS_HEALTH_CACHE_MS',
        HEALTH_DEFAULTS.cacheMs,
      ),
      timeoutMs: parseNonNegativeInt(
        options.health?.timeoutMs ?? env.OBS_HEALTH_TIMEOUT_MS,
        'OBS_HEALTH_TIMEOUT_MS',
        HEALTH_DEFAULTS.timeoutMs,
        { min: 1 },
      ),
      details: parseBoolean(options.health?.details ?? env.OBS_HEALTH_DETAILS, 'OBS_HEALTH_DETAILS', false),
    },
    management: {
      port: parsePort(options.managementPort ?? env.OBS_MANAGEMENT_PORT, 'OBS_MANAGEMENT_PORT', undefined),
      address: parseString(options.managementAddress ?? env.OBS_MANAGEMENT_ADDRESS, undefined),
    },
    httpLogFields: parseList(
      options.httpLogFields ?? env.OBS_HTTP_LOG_FIELDS,
      'OBS_HTTP_LOG_FIELDS',
      HTTP_LOG_FIELDS,
      [],
    ),
  };
  if (!config.disabled && config.logs.exporters.length > 0 && !config.instrumentations.includes('pino')) {
    warn(
      'OTEL_LOGS_EXPORTER is set but the pino instrumentation is disabled, so no log record reaches it; enable "pino" in OTEL_NODE_ENABLED_INSTRUMENTATIONS',
    );
  }
  return deepFreeze(config);
}
