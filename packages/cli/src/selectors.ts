/**
 * PromQL building blocks shared by the rules and the dashboard. Every metric and label name comes from
 * `METRICS` in `@obs/core`, the definitions the SDK records with, so a rename there changes the
 * generated queries (or fails generation, for a label that no longer exists) instead of leaving them
 * pointing at series that are never written.
 */
import { METRICS, type MetricDefinition } from '@obs/core';

/** Series Prometheus itself writes for every scrape target: 1 when the last scrape worked. */
export const UP = 'up';
/** Upper-bound label of classic histogram buckets. */
export const LE = 'le';
/** Target labels Prometheus attaches to every scraped series. */
export const JOB = 'job';
export const INSTANCE = 'instance';

/** The series a rule or panel looks at: the scrape job, and optional further target labels. */
export interface Selection {
  /** The Prometheus `job` label of the service's scrape targets. */
  job?: string;
  /** A `service` target label (prometheus-operator and many relabelling setups attach one). */
  service?: string;
  /** Further target labels to match exactly, e.g. `{ namespace: 'shop' }`. */
  labels?: Readonly<Record<string, string>>;
}

/** The parts of a histogram's exposition: the OpenTelemetry exporter adds no unit suffix. */
export type HistogramPart = 'bucket' | 'count' | 'sum';

/** A PromQL string literal. */
export function quote(value: string): string {
  return JSON.stringify(value);
}

/** Equality matchers for a selection, in a stable order: `job`, `service`, then the rest by name. */
export function selectionMatchers(selection: Selection): string[] {
  const out: string[] = [];
  if (selection.job !== undefined) out.push(`${JOB}=${quote(selection.job)}`);
  if (selection.service !== undefined) out.push(`service=${quote(selection.service)}`);
  for (const name of Object.keys(selection.labels ?? {}).sort()) {
    out.push(`${name}=${quote((selection.labels as Record<string, string>)[name] as string)}`);
  }
  return out;
}

/**
 * The labels that identify one service in aggregated series: `job` plus every other selected label,
 * so alerts keep them for routing and templating.
 */
export function identityLabels(selection: Selection): string[] {
  const out: string[] = [JOB];
  if (selection.service !== undefined) out.push('service');
  for (const name of Object.keys(selection.labels ?? {}).sort()) if (!out.includes(name)) out.push(name);
  return out;
}

/**
 * A label of a metric, as the exporter renders it.
 * @throws Error when the definition does not list that label (the SDK no longer records it)
 */
export function label(def: MetricDefinition, name: string): string {
  if (!def.labels.includes(name)) {
    throw new Error(`${def.name} has no label ${name} (labels: ${def.labels.join(', ') || 'none'})`);
  }
  return name;
}

/**
 * The exposition name of a metric: `_bucket`/`_count`/`_sum` for histograms, the plain name (with
 * `_total` already on counters) otherwise.
 * @throws Error when a histogram part is asked of a non-histogram or the reverse
 */
export function seriesName(def: MetricDefinition, part?: HistogramPart): string {
  if (def.kind === 'histogram') {
    if (!part) throw new Error(`${def.name} is a histogram: query its _bucket, _count or _sum series`);
    return `${def.prometheus}_${part}`;
  }
  if (part) throw new Error(`${def.name} is a ${def.kind}, not a histogram`);
  return def.prometheus;
}

/** `name{m1,m2}` (or the bare name without matchers). */
export function vectorSelector(name: string, matchers: readonly string[]): string {
  return matchers.length ? `${name}{${matchers.join(',')}}` : name;
}

/** A selector for a metric's series. */
export function series(def: MetricDefinition, matchers: readonly string[], part?: HistogramPart): string {
  return vectorSelector(seriesName(def, part), matchers);
}

/**
 * The bucket matcher for an upper bound. The OpenTelemetry exporter writes `le="1"`; Prometheus 3
 * normalises classic bucket bounds to `le="1.0"`, so integral bounds match both.
 */
export function leMatcher(bound: number): string {
  const text = String(bound);
  return Number.isInteger(bound) ? `${LE}=~${quote(`${text}|${text}\\.0`)}` : `${LE}=${quote(text)}`;
}

/**
 * The upper bounds of a histogram, checked: a latency threshold has to be one of them, or the share
 * of requests under it cannot be read from the buckets.
 * @throws Error when `bound` is not one of the definition's bucket bounds
 */
export function bucketBound(def: MetricDefinition, bound: number): number {
  if (!def.buckets?.includes(bound)) {
    throw new Error(`${bound} s is not a bucket bound of ${def.name}; use one of: ${(def.buckets ?? []).join(', ')}`);
  }
  return bound;
}

/** `by (a, b)`. */
export function by(labels: readonly string[]): string {
  return `by (${labels.join(', ')})`;
}

/** The HTTP server duration histogram and its labels: the basis of the RED rules and panels. */
export const HTTP = {
  metric: METRICS.httpServerRequestDuration,
  method: label(METRICS.httpServerRequestDuration, 'http_request_method'),
  route: label(METRICS.httpServerRequestDuration, 'http_route'),
  status: label(METRICS.httpServerRequestDuration, 'http_response_status_code'),
  /** Matches 5xx answers: the failures of the availability SLI. */
  serverError: `${label(METRICS.httpServerRequestDuration, 'http_response_status_code')}=~"5.."`,
} as const;

/**
 * The outgoing HTTP calls histogram and its labels: the RED of the service's HTTP dependencies, by
 * the server they call.
 */
export const HTTP_CLIENT = {
  metric: METRICS.httpClientRequestDuration,
  server: label(METRICS.httpClientRequestDuration, 'server_address'),
  status: label(METRICS.httpClientRequestDuration, 'http_response_status_code'),
  /**
   * Matches failed calls: 5xx answers and calls that got no answer (refused, reset, timed out: no
   * status label, which an empty-matching regex selects).
   */
  failed: `${label(METRICS.httpClientRequestDuration, 'http_response_status_code')}=~"5..|"`,
} as const;

/**
 * The gRPC call histograms (opt-in `grpc` instrumentation, docs/instrumentations.md) and their
 * labels: served calls by method, outgoing calls by the server they go to.
 */
export const RPC = {
  server: METRICS.rpcServerCallDuration,
  client: METRICS.rpcClientCallDuration,
  method: label(METRICS.rpcServerCallDuration, 'rpc_method'),
  status: label(METRICS.rpcServerCallDuration, 'rpc_status_code'),
  clientServer: label(METRICS.rpcClientCallDuration, 'server_address'),
  /**
   * Matches the statuses that mean the server failed (the OpenTelemetry gRPC conventions' list for
   * server spans): UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS. A
   * caller's own mistake (INVALID_ARGUMENT, NOT_FOUND, ...) is not the server failing.
   */
  failed: `${label(METRICS.rpcServerCallDuration, 'rpc_status_code')}=~"UNKNOWN|DEADLINE_EXCEEDED|UNIMPLEMENTED|INTERNAL|UNAVAILABLE|DATA_LOSS"`,
} as const;

/** The data-layer metrics the rules and the dashboard read (docs/data.md). */
export const DATA = {
  connections: METRICS.dbClientConnectionCount,
  connectionsMax: METRICS.dbClientConnectionMax,
  pending: METRICS.dbClientConnectionPendingRequests,
  pool: label(METRICS.dbClientConnectionCount, 'db_client_connection_pool_name'),
  poolState: label(METRICS.dbClientConnectionCount, 'db_client_connection_state'),
  queueDepth: METRICS.messagingQueueDepth,
  queue: label(METRICS.messagingQueueDepth, 'messaging_destination_name'),
  cacheRequests: METRICS.cacheRequests,
  cache: label(METRICS.cacheRequests, 'cache_name'),
  cacheResult: label(METRICS.cacheRequests, 'cache_result'),
} as const;

/** The health-check metrics and their labels. */
export const HEALTH = {
  status: METRICS.healthCheckStatus,
  duration: METRICS.healthCheckDuration,
  name: label(METRICS.healthCheckStatus, 'health_check_name'),
  kind: label(METRICS.healthCheckStatus, 'health_check_kind'),
  critical: label(METRICS.healthCheckStatus, 'health_check_critical'),
  durationName: label(METRICS.healthCheckDuration, 'health_check_name'),
} as const;

/** The runtime metrics the rules and the dashboard read. */
export const RUNTIME = {
  eventLoopDelayP99: METRICS.eventLoopDelayP99,
  eventLoopUtilization: METRICS.eventLoopUtilization,
  heapUsed: METRICS.heapUsed,
  heapSpace: label(METRICS.heapUsed, 'v8js_heap_space_name'),
  gcDuration: METRICS.gcDuration,
  gcType: label(METRICS.gcDuration, 'v8js_gc_type'),
  cpuTime: METRICS.processCpuTime,
  cpuMode: label(METRICS.processCpuTime, 'cpu_mode'),
  memory: METRICS.processMemoryUsage,
} as const;

/** @obs's own export health: what it dropped instead of exporting, by signal and reason. */
export const EXPORT = {
  dropped: METRICS.telemetryDropped,
  signal: label(METRICS.telemetryDropped, 'signal'),
  reason: label(METRICS.telemetryDropped, 'reason'),
} as const;

/** Every exposition series name the SDK's definitions allow (histograms expanded into their parts). */
export function knownSeriesNames(): Set<string> {
  const names = new Set<string>([UP]);
  for (const def of Object.values(METRICS) as MetricDefinition[]) {
    if (def.kind === 'histogram')
      for (const part of ['bucket', 'count', 'sum'] as const) names.add(seriesName(def, part));
    else names.add(def.prometheus);
  }
  return names;
}
