/**
 * Every metric @obs emits or relies on, defined once. The SDK records with these definitions and the
 * alerting/dashboard generators read them, so a rename can never leave an alert pointing at nothing.
 *
 * `name` is the OpenTelemetry instrument name (semantic conventions); `prometheus` is the name the
 * OpenTelemetry Prometheus exporter renders it as (dots become underscores, no unit suffix, `_total`
 * only on monotonic sums; histograms add `_bucket`, `_sum`, `_count`).
 */

/** Instrument kinds, as in the OpenTelemetry metrics API. */
export type MetricKind = 'counter' | 'updowncounter' | 'histogram' | 'gauge';

/** A metric definition. */
export interface MetricDefinition {
  /** OpenTelemetry instrument name. */
  readonly name: string;
  /** Name in the Prometheus exposition (without `_bucket`/`_sum`/`_count`). */
  readonly prometheus: string;
  readonly kind: MetricKind;
  /** UCUM unit: `s`, `By`, `1`, `{request}`. */
  readonly unit: string;
  readonly description: string;
  /** Attribute names as rendered in Prometheus (dots become underscores). */
  readonly labels: readonly string[];
  /** Explicit histogram bucket boundaries, in the metric's unit. */
  readonly buckets?: readonly number[];
  /** Where the definition comes from. */
  readonly source: string;
}

/**
 * Prometheus name for an OpenTelemetry instrument, as `@opentelemetry/exporter-prometheus` renders it.
 * @param monotonic true for counters (adds `_total`)
 */
export function toPrometheusName(name: string, monotonic = false): string {
  const base = name.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_+/g, '_');
  return monotonic && !base.endsWith('_total') ? `${base}_total` : base;
}

function define(def: Omit<MetricDefinition, 'prometheus'>): MetricDefinition {
  return Object.freeze({ ...def, prometheus: toPrometheusName(def.name, def.kind === 'counter') });
}

/** Bucket advice for `http.server.request.duration` (semconv, seconds). */
export const HTTP_DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

/** Bucket advice for `db.client.operation.duration` (semconv, seconds). */
export const DB_DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

/** Bucket advice for `messaging.process.duration` (semconv, seconds). */
export const MESSAGING_DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

/** The metrics @obs's pipeline produces, by role. */
export const METRICS = {
  /** Recorded by `@opentelemetry/instrumentation-http` with the route the adapters supply. */
  httpServerRequestDuration: define({
    name: 'http.server.request.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Duration of HTTP server requests.',
    labels: ['http_request_method', 'http_route', 'http_response_status_code', 'error_type', 'url_scheme'],
    buckets: HTTP_DURATION_BUCKETS,
    source: 'OpenTelemetry semantic conventions, HTTP metrics (stable): http.server.request.duration',
  }),
  /**
   * Outgoing HTTP calls (node:http, node:https and fetch/undici), recorded by
   * `@opentelemetry/instrumentation-http` and `-undici`. A call that got no response (refused, reset,
   * timed out) has `error_type` and no `http_response_status_code`.
   */
  httpClientRequestDuration: define({
    name: 'http.client.request.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Duration of HTTP client requests.',
    labels: [
      'http_request_method',
      'server_address',
      'server_port',
      'http_response_status_code',
      'error_type',
      'network_protocol_version',
    ],
    buckets: HTTP_DURATION_BUCKETS,
    source: 'OpenTelemetry semantic conventions, HTTP metrics (stable): http.client.request.duration',
  }),
  eventLoopDelayP99: define({
    name: 'nodejs.eventloop.delay.p99',
    kind: 'gauge',
    unit: 's',
    description: 'Event loop delay, 99th percentile.',
    labels: [],
    source: 'OpenTelemetry semantic conventions, Node.js runtime metrics; @opentelemetry/instrumentation-runtime-node',
  }),
  eventLoopUtilization: define({
    name: 'nodejs.eventloop.utilization',
    kind: 'gauge',
    unit: '1',
    description: 'Event loop utilization (0..1).',
    labels: [],
    source: 'OpenTelemetry semantic conventions, Node.js runtime metrics; @opentelemetry/instrumentation-runtime-node',
  }),
  heapUsed: define({
    name: 'v8js.memory.heap.used',
    kind: 'gauge',
    unit: 'By',
    description: 'V8 heap space used, by space.',
    labels: ['v8js_heap_space_name'],
    source: 'OpenTelemetry semantic conventions, V8 JS runtime metrics; @opentelemetry/instrumentation-runtime-node',
  }),
  gcDuration: define({
    name: 'v8js.gc.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Garbage collection duration, by type.',
    labels: ['v8js_gc_type'],
    source: 'OpenTelemetry semantic conventions, V8 JS runtime metrics; @opentelemetry/instrumentation-runtime-node',
  }),
  processCpuTime: define({
    name: 'process.cpu.time',
    kind: 'counter',
    unit: 's',
    description: 'CPU time used by the process, by mode (user, system).',
    labels: ['cpu_mode'],
    source: 'OpenTelemetry semantic conventions, process metrics; @opentelemetry/instrumentation-host-metrics',
  }),
  processMemoryUsage: define({
    name: 'process.memory.usage',
    kind: 'updowncounter',
    unit: 'By',
    description: 'Resident set size of the process.',
    labels: [],
    source: 'OpenTelemetry semantic conventions, process metrics; @opentelemetry/instrumentation-host-metrics',
  }),
  /**
   * @obs's own export health (src/export-health.ts): spans, log records and metric data points it
   * could not deliver. `signal`: `traces`, `logs`, `metrics`; `reason`: `queue_full`, `export_limit`,
   * `unavailable`, `timeout`, `rejected`, `export_failed`.
   */
  telemetryDropped: define({
    name: 'obs.telemetry.dropped',
    kind: 'counter',
    unit: '{item}',
    description: 'Spans, log records and metric data points @obs dropped instead of exporting, by signal and reason.',
    labels: ['signal', 'reason'],
    source:
      '@obs export health (docs/configuration.md, "Export health"); reasons after OpenTelemetry error.type values',
  }),
  /** Recorded by the health registry each time a check runs (no semconv exists for health checks). */
  healthCheckStatus: define({
    name: 'health.check.status',
    kind: 'gauge',
    unit: '1',
    description: 'Outcome of the last run of a health check: 1 healthy, 0 failing.',
    labels: ['health_check_name', 'health_check_kind', 'health_check_critical'],
    source: '@obs health registry (docs/kubernetes.md); label names follow OpenTelemetry attribute naming',
  }),
  healthCheckDuration: define({
    name: 'health.check.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Duration of health check runs.',
    labels: ['health_check_name', 'health_check_kind'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    source: '@obs health registry',
  }),
  /**
   * Database client operations (pg, mysql2, ioredis, redis), recorded by @obs for every query span
   * the instrumentations start, sampled or not (src/data/db-spans.ts).
   */
  dbClientOperationDuration: define({
    name: 'db.client.operation.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Duration of database client operations.',
    labels: [
      'db_system_name',
      'db_namespace',
      'db_operation_name',
      'db_collection_name',
      'error_type',
      'server_address',
      'server_port',
    ],
    buckets: DB_DURATION_BUCKETS,
    source: 'OpenTelemetry semantic conventions, database metrics (stable): db.client.operation.duration',
  }),
  /** gRPC calls served, from instrumentation-grpc's SERVER spans (opt-in `grpc`: src/tracing/rpc-metrics.ts). */
  rpcServerCallDuration: define({
    name: 'rpc.server.call.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Measures the duration of an incoming Remote Procedure Call (RPC).',
    labels: ['rpc_system_name', 'rpc_method', 'rpc_status_code'],
    buckets: HTTP_DURATION_BUCKETS,
    source: 'OpenTelemetry semantic conventions, RPC metrics (stable): rpc.server.call.duration',
  }),
  /** gRPC calls made, from instrumentation-grpc's CLIENT spans (opt-in `grpc`: src/tracing/rpc-metrics.ts). */
  rpcClientCallDuration: define({
    name: 'rpc.client.call.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Measures the duration of an outgoing Remote Procedure Call (RPC).',
    labels: ['rpc_system_name', 'rpc_method', 'rpc_status_code', 'server_address'],
    buckets: HTTP_DURATION_BUCKETS,
    source: 'OpenTelemetry semantic conventions, RPC metrics (stable): rpc.client.call.duration',
  }),
  /** Connections of each pool by state (`idle`, `used`), read from pg and mysql2 pools at collection. */
  dbClientConnectionCount: define({
    name: 'db.client.connection.count',
    kind: 'updowncounter',
    unit: '{connection}',
    description: 'The number of connections that are currently in state described by the state attribute.',
    labels: ['db_client_connection_pool_name', 'db_client_connection_state', 'db_system_name'],
    source: 'OpenTelemetry semantic conventions, database metrics (development): db.client.connection.count',
  }),
  dbClientConnectionMax: define({
    name: 'db.client.connection.max',
    kind: 'updowncounter',
    unit: '{connection}',
    description: 'The maximum number of open connections allowed.',
    labels: ['db_client_connection_pool_name', 'db_system_name'],
    source: 'OpenTelemetry semantic conventions, database metrics (development): db.client.connection.max',
  }),
  dbClientConnectionPendingRequests: define({
    name: 'db.client.connection.pending_requests',
    kind: 'updowncounter',
    unit: '{request}',
    description: 'The number of current pending requests for an open connection.',
    labels: ['db_client_connection_pool_name', 'db_system_name'],
    source: 'OpenTelemetry semantic conventions, database metrics (development): db.client.connection.pending_requests',
  }),
  /** Cache reads through `obs.data.cache()`; no semantic convention exists for caches. */
  cacheRequests: define({
    name: 'cache.requests',
    kind: 'counter',
    unit: '{request}',
    description: 'Cache reads by outcome: hit, miss, or error (the cache could not be read).',
    labels: ['cache_name', 'cache_result'],
    source: '@obs cache helper (docs/data.md); no OpenTelemetry semantic convention exists for cache hits',
  }),
  /** Messages handled by `obs.data.consume()` (amqplib), failed ones with `error_type`. */
  messagingProcessDuration: define({
    name: 'messaging.process.duration',
    kind: 'histogram',
    unit: 's',
    description: 'Duration of processing operation.',
    labels: ['messaging_system', 'messaging_operation_name', 'messaging_destination_name', 'error_type'],
    buckets: MESSAGING_DURATION_BUCKETS,
    source: 'OpenTelemetry semantic conventions, messaging metrics (development): messaging.process.duration',
  }),
  messagingClientConsumedMessages: define({
    name: 'messaging.client.consumed.messages',
    kind: 'counter',
    unit: '{message}',
    description: 'Number of messages that were delivered to the application; failed ones carry error_type.',
    labels: ['messaging_system', 'messaging_operation_name', 'messaging_destination_name', 'error_type'],
    source: 'OpenTelemetry semantic conventions, messaging metrics (development): messaging.client.consumed.messages',
  }),
  /** Messages published through amqplib (counted by the instrumentation's publish hook). */
  messagingClientSentMessages: define({
    name: 'messaging.client.sent.messages',
    kind: 'counter',
    unit: '{message}',
    description: 'Number of messages producer attempted to send to the broker.',
    labels: ['messaging_system', 'messaging_operation_name', 'messaging_destination_name'],
    source: 'OpenTelemetry semantic conventions, messaging metrics (development): messaging.client.sent.messages',
  }),
  /** Ready messages per queue, from `obs.data.watchQueueDepth()`; no semantic convention exists. */
  messagingQueueDepth: define({
    name: 'messaging.queue.depth',
    kind: 'gauge',
    unit: '{message}',
    description: 'Messages waiting in the queue, ready for delivery (not yet delivered to a consumer).',
    labels: ['messaging_system', 'messaging_destination_name'],
    source: '@obs queue depth watcher (docs/data.md); RabbitMQ queue.declare-ok message count',
  }),
  messagingQueueConsumers: define({
    name: 'messaging.queue.consumers',
    kind: 'gauge',
    unit: '{consumer}',
    description: 'Consumers attached to the queue.',
    labels: ['messaging_system', 'messaging_destination_name'],
    source: '@obs queue depth watcher (docs/data.md); RabbitMQ queue.declare-ok consumer count',
  }),
} as const;
