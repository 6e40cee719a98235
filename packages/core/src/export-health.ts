/**
 * @obs's own export health: every span, log record and metric data point @obs could not deliver is
 * counted by signal and reason, exposed as the counter `obs.telemetry.dropped`
 * (`obs_telemetry_dropped_total{signal, reason}` in Prometheus; metrics/names.ts), and reported on
 * stderr at most once per {@link DROP_REPORT_INTERVAL_MS}, with the counts since the last report, so
 * losses after the first are visible too (docs/configuration.md, "Export health").
 *
 * Reasons: `queue_full` (the batch processor's queue was full: `OTEL_BSP_MAX_QUEUE_SIZE`,
 * `OTEL_BLRP_MAX_QUEUE_SIZE`), `export_limit` (as many exports in flight as allowed), `unavailable`
 * (no connection to the collector), `timeout` (no answer within `OTEL_EXPORTER_OTLP_TIMEOUT`, retries
 * included), `rejected` (the collector answered with an error status), `export_failed` (anything else).
 */
import type { Meter, MeterProvider } from '@opentelemetry/api';
import { report } from './diag.js';

/** The signal of dropped items, as in OTLP's export paths. */
export type TelemetrySignal = 'traces' | 'logs' | 'metrics';
/** Why items were dropped (see the module comment). */
export type DropReason = 'queue_full' | 'export_limit' | 'unavailable' | 'timeout' | 'rejected' | 'export_failed';

/** The shortest time between two drop reports on stderr, in milliseconds. */
export const DROP_REPORT_INTERVAL_MS = 30_000;

const ITEMS: Record<TelemetrySignal, string> = { traces: 'spans', logs: 'log records', metrics: 'metric data points' };

/** Totals since start (for the metric) and counts since the last report, by `signal|reason`. */
const totals = new Map<string, number>();
let unreported = new Map<string, number>();
let lastReportAt = Number.NEGATIVE_INFINITY;
let reportTimer: NodeJS.Timeout | undefined;
let exitHooked = false;

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/**
 * gRPC status codes (`@grpc/grpc-js` `status`) that say more than "rejected": DEADLINE_EXCEEDED,
 * UNAVAILABLE, CANCELLED (the client was closed at shutdown) and INTERNAL (e.g. a TLS handshake that failed).
 */
const GRPC_REASONS: Record<number, DropReason> = {
  1: 'export_failed',
  4: 'timeout',
  13: 'export_failed',
  14: 'unavailable',
};

/** The reason an export failed with `error` (an OTLP exporter's result error). */
export function dropReason(error: unknown): DropReason {
  const err = error as { message?: unknown; code?: unknown; name?: unknown; metadata?: unknown } | undefined;
  const message = typeof err?.message === 'string' ? err.message : '';
  if (message.includes('Concurrent export limit')) return 'export_limit';
  // a gRPC ServiceError: its `code` is a gRPC status (0-16), not an HTTP one
  if (typeof err?.code === 'number' && err.code < 100 && err.metadata !== undefined) {
    return GRPC_REASONS[err.code] ?? 'rejected';
  }
  if (/timed? ?out|timeout/i.test(message) || err?.code === 'ETIMEDOUT') return 'timeout';
  if (typeof err?.code === 'string' && NETWORK_ERRORS.has(err.code)) return 'unavailable';
  if (/ECONNREFUSED|ECONNRESET|socket hang up/.test(message)) return 'unavailable';
  // OTLPExporterError carries the HTTP status as `code`
  if (typeof err?.code === 'number' && err.code >= 400) return 'rejected';
  return 'export_failed';
}

/** Count `count` items of `signal` dropped for `reason`. */
export function recordDropped(signal: TelemetrySignal, reason: DropReason, count: number): void {
  if (!(count > 0)) return;
  const key = `${signal}|${reason}`;
  totals.set(key, (totals.get(key) ?? 0) + count);
  unreported.set(key, (unreported.get(key) ?? 0) + count);
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', reportDrops);
  }
  const wait = lastReportAt + DROP_REPORT_INTERVAL_MS - performance.now();
  if (wait <= 0) reportDrops();
  else reportTimer ??= setTimeout(reportDrops, wait).unref();
}

/** Print the drops since the last report (one line), if any. */
export function reportDrops(): void {
  if (reportTimer) clearTimeout(reportTimer);
  reportTimer = undefined;
  if (unreported.size === 0) return;
  const bySignal = new Map<TelemetrySignal, [DropReason, number][]>();
  for (const [key, count] of unreported) {
    const [signal, reason] = key.split('|') as [TelemetrySignal, DropReason];
    bySignal.set(signal, [...(bySignal.get(signal) ?? []), [reason, count]]);
  }
  unreported = new Map();
  const since = Number.isFinite(lastReportAt)
    ? `in the last ${Math.round((performance.now() - lastReportAt) / 1000)} s`
    : 'since start';
  lastReportAt = performance.now();
  const parts = [...bySignal].map(([signal, reasons]) => {
    const sum = reasons.reduce((n, [, c]) => n + c, 0);
    return `${sum} ${ITEMS[signal]} (${reasons.map(([r, c]) => `${r}: ${c}`).join(', ')})`;
  });
  report(
    'warn',
    `telemetry dropped ${since}: ${parts.join('; ')}; totals in obs_telemetry_dropped_total (next report in ${DROP_REPORT_INTERVAL_MS / 1000} s at the earliest)`,
  );
}

/** Expose the totals as the observable counter `obs.telemetry.dropped` on `meter`. */
export function observeDrops(meter: Meter, name: string, description: string, unit: string): void {
  meter.createObservableCounter(name, { description, unit }).addCallback((result) => {
    for (const [key, count] of totals) {
      const [signal, reason] = key.split('|');
      result.observe(count, { signal, reason });
    }
  });
}

const noop = () => {};
const NOOP_INSTRUMENT = { add: noop, record: noop, addCallback: noop, removeCallback: noop };

/**
 * A meter provider for a batch processor's `selfObsMeterProvider` option that only listens for the
 * processor's `queue_full` drops (the `otel.sdk.processor.*.processed` counter with
 * `error.type=queue_full`, OpenTelemetry semantic conventions for SDK metrics) and counts them here.
 */
export function queueDropListener(signal: TelemetrySignal): MeterProvider {
  const processed = {
    ...NOOP_INSTRUMENT,
    add(value: number, attributes?: Record<string, unknown>) {
      if (attributes?.['error.type'] === 'queue_full') recordDropped(signal, 'queue_full', value);
    },
  };
  const meter = new Proxy({} as Meter, {
    get: (_target, property) =>
      property === 'createCounter'
        ? (name: string) => (name.endsWith('.processed') ? processed : NOOP_INSTRUMENT)
        : () => NOOP_INSTRUMENT,
  });
  return { getMeter: () => meter };
}

/** Forget every count (tests). */
export function resetDrops(): void {
  totals.clear();
  unreported = new Map();
  lastReportAt = Number.NEGATIVE_INFINITY;
  if (reportTimer) clearTimeout(reportTimer);
  reportTimer = undefined;
}
