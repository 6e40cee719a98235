/**
 * OTLP exporters for the three signals, over HTTP with protobuf (`http/protobuf`, the default) or
 * JSON (`http/json`) bodies, or over gRPC (`grpc`), configured from the resolved per-signal settings.
 * The exporter package is required only when a signal uses it, and for spans and log records only
 * when the first batch is exported (see {@link deferredExporter}): a process that exports over HTTP
 * never loads `@grpc/grpc-js`.
 */
import type { OtlpSignalConfig } from './config/resolve.js';
import { warn } from './diag.js';
import { dropReason, recordDropped } from './export-health.js';
import { load } from './lazy.js';
import type { ExitRequest } from './lifecycle/post-sync.js';

const EXPORTERS = {
  traces: {
    proto: '@opentelemetry/exporter-trace-otlp-proto',
    json: '@opentelemetry/exporter-trace-otlp-http',
    grpc: '@opentelemetry/exporter-trace-otlp-grpc',
    name: 'OTLPTraceExporter',
  },
  metrics: {
    proto: '@opentelemetry/exporter-metrics-otlp-proto',
    json: '@opentelemetry/exporter-metrics-otlp-http',
    grpc: '@opentelemetry/exporter-metrics-otlp-grpc',
    name: 'OTLPMetricExporter',
  },
  logs: {
    proto: '@opentelemetry/exporter-logs-otlp-proto',
    json: '@opentelemetry/exporter-logs-otlp-http',
    grpc: '@opentelemetry/exporter-logs-otlp-grpc',
    name: 'OTLPLogExporter',
  },
} as const;

/**
 * Exports one exporter may have in flight (the OTLP exporters' `concurrencyLimit`, default 30). With
 * 30 batches waiting out retries against a collector that refused them, a busy Express service held
 * ~100 MiB more heap after a minute (docs/performance.md, collector down). The batch processors hand
 * over one batch at a time, and {@link deferredExporter} lets a slow one go on in the background only
 * after a schedule delay, so during an outage about `OTEL_EXPORTER_OTLP_TIMEOUT` / schedule delay
 * exports are in flight (2 with the defaults); beyond this limit batches fail at once and their items
 * are counted as dropped (`export_limit`).
 */
export const OTLP_CONCURRENCY_LIMIT = 4;

/**
 * Create the OTLP exporter for `signal`.
 * @param extra exporter-specific options (e.g. `temporalityPreference` for metrics)
 * @returns an instance of the signal's `OTLP*Exporter`; the caller knows its interface
 */
export function createOtlpExporter<T>(
  signal: keyof typeof EXPORTERS,
  otlp: OtlpSignalConfig,
  extra: Record<string, unknown> = {},
): T {
  const spec = EXPORTERS[signal];
  const grpc = otlp.protocol === 'grpc';
  const id = grpc ? spec.grpc : otlp.protocol === 'http/json' ? spec.json : spec.proto;
  const mod = load(id) as Record<string, new (o: object) => T>;
  const Exporter = mod[spec.name] as new (o: object) => T;
  // gRPC: the headers travel as call metadata; `https://` means TLS with the certificates of
  // OTEL_EXPORTER_OTLP_[SIGNAL_]CERTIFICATE / _CLIENT_KEY / _CLIENT_CERTIFICATE (read by the exporter)
  const transport = grpc ? { metadata: grpcMetadata(otlp.headers) } : { headers: otlp.headers };
  return withoutResolvedOtlpVariables(
    () =>
      new Exporter({
        url: otlp.url,
        ...transport,
        timeoutMillis: otlp.timeoutMs,
        compression: otlp.compression,
        concurrencyLimit: OTLP_CONCURRENCY_LIMIT,
        ...extra,
      }),
  );
}

/** `headers` as gRPC call metadata (`@grpc/grpc-js`, loaded only here). */
function grpcMetadata(headers: Record<string, string>): unknown {
  const { Metadata } = load('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const metadata = new Metadata();
  for (const [name, value] of Object.entries(headers)) metadata.set(name, value);
  return metadata;
}

/** The OTLP variables ../config/resolve.ts reads, for every signal. */
const RESOLVED_OTLP_VARIABLES = ['', 'TRACES_', 'METRICS_', 'LOGS_'].flatMap((s) =>
  ['ENDPOINT', 'HEADERS', 'TIMEOUT', 'COMPRESSION', 'PROTOCOL'].map((v) => `OTEL_EXPORTER_OTLP_${s}${v}`),
);

/**
 * Run `create` with the OTLP variables @obs has already resolved hidden from `process.env`, then put
 * them back (synchronously: no other code runs in between). The exporters read these variables again
 * when they are constructed and merge what they find under the options they are given: the headers
 * from the variable are added whatever `headers` says, so a header @obs skipped (one Node refuses to
 * send) would make every export fail; `GZIP` would be warned about although `gzip` is passed; and an
 * endpoint @obs refused would be printed, credentials included. The configuration is @obs's, read
 * once. The TLS variables (`OTEL_EXPORTER_OTLP_CERTIFICATE`, ...) stay visible: @obs does not read them.
 */
function withoutResolvedOtlpVariables<T>(create: () => T): T {
  const hidden: [string, string][] = [];
  for (const name of RESOLVED_OTLP_VARIABLES) {
    const value = process.env[name];
    if (value === undefined) continue;
    hidden.push([name, value]);
    delete process.env[name];
  }
  try {
    return create();
  } finally {
    for (const [name, value] of hidden) process.env[name] = value;
  }
}

/**
 * The least time an export runs before {@link deferredExporter} lets it go on in the background, in
 * milliseconds, however short the schedule delay: a collector that answers within it is never
 * sent a second batch in parallel.
 */
export const MIN_DETACH_MS = 1000;

/** The shape shared by `SpanExporter` and `LogRecordExporter` (sdk-trace, sdk-logs). */
export interface BatchExporter<T> {
  export(items: T[], resultCallback: (result: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/** `ExportResultCode` of @opentelemetry/core. */
const SUCCESS = 0;
const FAILED = 1;

/** Where a deferred exporter sends, for the exit-time export of what it could not deliver. */
export interface ExitTarget {
  signal: 'traces' | 'logs';
  otlp: OtlpSignalConfig;
}

/** Batches handed to an exporter and not yet delivered, and where they go. */
interface Undelivered {
  readonly target: ExitTarget;
  /** Batches whose export has not completed (in flight, or waiting for a retry). */
  readonly inFlight: Set<unknown[]>;
  /** Batches handed over while exiting: kept for the synchronous export. */
  readonly captured: unknown[][];
}

const UNDELIVERED = new Set<Undelivered>();
let exiting = false;

const SERIALIZERS = {
  traces: { proto: 'ProtobufTraceSerializer', json: 'JsonTraceSerializer' },
  logs: { proto: 'ProtobufLogsSerializer', json: 'JsonLogsSerializer' },
} as const;

/** One OTLP/HTTP request carrying `items` (spans or log records), as the OTLP exporter would send it. */
function exitRequest(target: ExitTarget, items: unknown[]): ExitRequest | undefined {
  const { otlp, signal } = target;
  const json = otlp.protocol === 'http/json';
  const transformer = load('@opentelemetry/otlp-transformer') as Record<
    string,
    { serializeRequest(items: unknown[]): Uint8Array | undefined }
  >;
  const serializer = transformer[SERIALIZERS[signal][json ? 'json' : 'proto']];
  let body = serializer?.serializeRequest(items);
  if (!body) return undefined;
  if (otlp.protocol === 'grpc') return grpcExitRequest(target, body);
  const headers: Record<string, string> = {
    ...otlp.headers,
    'content-type': json ? 'application/json' : 'application/x-protobuf',
  };
  if (otlp.compression === 'gzip') {
    body = (load('node:zlib') as typeof import('node:zlib')).gzipSync(body);
    headers['content-encoding'] = 'gzip';
  }
  return { url: otlp.url, headers, body };
}

/** The OTLP collector service method of each signal that has an exit-time export. */
const GRPC_EXPORT_PATHS = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
} as const;

/**
 * One OTLP/gRPC `Export` call carrying the serialized request `message`: the gRPC length-prefixed
 * message (compressed flag, 4-byte big-endian length; gRPC over HTTP/2 protocol), the headers as
 * metadata, and the TLS files the gRPC exporter reads (`OTEL_EXPORTER_OTLP_[SIGNAL_]CERTIFICATE`,
 * `_CLIENT_KEY`, `_CLIENT_CERTIFICATE`).
 */
function grpcExitRequest(target: ExitTarget, message: Uint8Array): ExitRequest {
  const { otlp, signal } = target;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(otlp.headers)) headers[name.toLowerCase()] = value;
  headers['content-type'] = 'application/grpc';
  headers.te = 'trailers';
  let payload = message;
  if (otlp.compression === 'gzip') {
    payload = (load('node:zlib') as typeof import('node:zlib')).gzipSync(message);
    headers['grpc-encoding'] = 'gzip';
  }
  const body = new Uint8Array(5 + payload.byteLength);
  body[0] = otlp.compression === 'gzip' ? 1 : 0;
  new DataView(body.buffer).setUint32(1, payload.byteLength);
  body.set(payload, 5);
  const S = signal.toUpperCase();
  const file = (name: string) => {
    const path =
      process.env[`OTEL_EXPORTER_OTLP_${S}_${name}`]?.trim() || process.env[`OTEL_EXPORTER_OTLP_${name}`]?.trim();
    if (!path) return undefined;
    try {
      return (load('node:fs') as typeof import('node:fs')).readFileSync(path);
    } catch {
      return undefined; // the exporter warned about it already
    }
  };
  const tls = { ca: file('CERTIFICATE'), key: file('CLIENT_KEY'), cert: file('CLIENT_CERTIFICATE') };
  const grpc = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined));
  return { url: new URL(GRPC_EXPORT_PATHS[signal], otlp.url).href, headers, body, grpc };
}

/**
 * For the exit-time export: from now on, batches handed to the deferred exporters are kept, not
 * sent. `handOver` runs right away and must pass what the processors buffer to the exporters
 * synchronously (a batch span processor's `forceFlush()` does). Returns every batch not yet
 * delivered (in flight or retried ones included: they are sent again, so a batch whose answer was
 * still on its way may arrive twice) as OTLP/HTTP requests. Batches an `extra` source adds
 * (log records taken from their processor's queue) are included.
 */
export function takeUndelivered(
  handOver: () => void,
  extra: { target: ExitTarget; items: unknown[] }[] = [],
): ExitRequest[] {
  exiting = true;
  try {
    handOver();
  } catch {
    // what was handed over before the failure is still taken
  }
  const requests: ExitRequest[] = [];
  const add = (target: ExitTarget, items: unknown[]) => {
    if (items.length === 0) return;
    try {
      const request = exitRequest(target, items);
      if (request) requests.push(request);
    } catch {
      // not serializable: lost, as it would have been
    }
  };
  for (const entry of UNDELIVERED) {
    for (const batch of [...entry.inFlight, ...entry.captured]) add(entry.target, batch);
    entry.inFlight.clear();
    entry.captured.length = 0;
  }
  for (const { target, items } of extra) add(target, items);
  return requests;
}

/**
 * An exporter whose real implementation is created on the first `export()` call. The OTLP exporter
 * packages and the protobuf code they bring are about a hundred milliseconds of module loading that
 * `node --import @obs/register` would otherwise pay before the app's first line runs (the start-up
 * figures in docs/performance.md); with the batch processors' 5 s schedule that load happens once, in
 * a timer, after start-up. `shutdown()` before any export does not load it. If creating it throws,
 * the batch fails (one warning) and the next batch tries again.
 *
 * It also keeps a collector outage from stalling the batch processor after the collector is back. A
 * batch processor waits for each export before it starts the next one, and an export to a collector
 * that hangs (or a connection that died with it) takes up to `OTEL_EXPORTER_OTLP_TIMEOUT` plus
 * retries: so an export still running after `detachAfterMs` (the processor's schedule delay) is
 * answered as accepted and goes on in the background, and the next batch goes out on a new connection,
 * which a collector that is back answers at once. At most {@link OTLP_CONCURRENCY_LIMIT} exports run
 * at a time; items of a batch that finally fails, or is refused for that limit, are counted as dropped
 * with the reason (./export-health.ts). The batches not yet delivered are known to
 * {@link takeUndelivered}, which sends them synchronously when the process exits.
 * @param create builds the real exporter (called at most once successfully)
 * @param target the signal and OTLP settings of the real exporter, and `detachAfterMs`
 */
export function deferredExporter<T>(
  create: () => BatchExporter<T>,
  target: ExitTarget & { detachAfterMs: number },
): BatchExporter<T> {
  let real: BatchExporter<T> | undefined;
  const undelivered: Undelivered = { target, inFlight: new Set(), captured: [] };
  UNDELIVERED.add(undelivered);
  const dropped = (items: T[], error: unknown) => recordDropped(target.signal, dropReason(error), items.length);
  return {
    export(items, resultCallback) {
      if (exiting) {
        undelivered.captured.push(items);
        resultCallback({ code: SUCCESS });
        return;
      }
      if (real === undefined) {
        try {
          real = create();
        } catch (err) {
          warn(`could not create the OTLP exporter (${err instanceof Error ? err.message : String(err)})`);
          dropped(items, err);
          resultCallback({ code: FAILED, error: err instanceof Error ? err : new Error(String(err)) });
          return;
        }
      }
      let answered = false;
      const answer = () => {
        if (answered) return;
        answered = true;
        // the batch's fate is counted here: the processor logs no error of its own for it
        resultCallback({ code: SUCCESS });
      };
      const detach = setTimeout(answer, target.detachAfterMs);
      detach.unref();
      undelivered.inFlight.add(items);
      real.export(items, (result) => {
        clearTimeout(detach);
        undelivered.inFlight.delete(items);
        if (result.code !== SUCCESS) dropped(items, result.error);
        answer();
      });
    },
    shutdown: () => real?.shutdown() ?? Promise.resolve(),
    forceFlush: () => real?.forceFlush?.() ?? Promise.resolve(),
  };
}
