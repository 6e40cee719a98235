/*
 * Embedded OTLP/HTTP receiver for integration tests and the demo.
 *
 * Proto source: the official opentelemetry-proto `.proto` files shipped inside
 * `@opentelemetry/otlp-grpc-exporter-base@0.38.0` (`build/protos/**`), loaded at
 * runtime with protobufjs. 0.38.0 is the last version of that package that ships
 * the `.proto` sources (0.39+ no longer include them); the current
 * otlp-transformer only has a hand-written encoder and no definitions, and
 * `@opentelemetry/otlp-proto-exporter-base` (0.34, 0.51.1 checked) only ships a
 * pre-generated static module. Depending on the real files beats copying them:
 * they stay byte-for-byte official. They are opentelemetry-proto v0.19: every
 * field this receiver reads has kept its number since, and newer fields (e.g.
 * Span.flags, LogRecord.event_name) are skipped by the decoder as unknown fields.
 * The package is only a file carrier: none of its JavaScript is loaded.
 *
 * JSON (OTLP http/json) is parsed with JSON.parse and normalised by the same code
 * path as the decoded protobuf objects; enum names are resolved through the same
 * loaded proto definitions.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import { gunzipSync, inflateSync } from 'node:zlib';
import type { Enum, Type } from 'protobufjs';
import protobuf from 'protobufjs';

/** Attribute map decoded from OTLP `KeyValue` lists, with values converted to plain JS values. */
export type Attributes = Record<string, unknown>;

/** Instrumentation scope (library) that produced a span, log record or metric. */
export interface ReceivedScope {
  /** Scope name, `''` when the sender did not set one. */
  name: string;
  /** Scope version, if the sender set one. */
  version?: string;
}

/** A span as received by the {@link OtlpReceiver}, flattened with its resource and scope. */
export interface ReceivedSpan {
  /** Trace id, 32 lowercase hex characters. */
  traceId: string;
  /** Span id, 16 lowercase hex characters. */
  spanId: string;
  /** Parent span id (16 lowercase hex characters), absent for root spans. */
  parentSpanId?: string;
  /** Span name. */
  name: string;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  /** Start time in nanoseconds since the Unix epoch. */
  startTimeUnixNano: bigint;
  /** End time in nanoseconds since the Unix epoch. */
  endTimeUnixNano: bigint;
  /** `endTimeUnixNano - startTimeUnixNano` in (fractional) milliseconds. */
  durationMs: number;
  /** Span attributes. */
  attributes: Attributes;
  /** Span status: code 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
  /** Span events (e.g. recorded exceptions). */
  events: { name: string; attributes: Attributes }[];
  /** Attributes of the resource that produced the span (e.g. `service.name`). */
  resource: Attributes;
  /** Instrumentation scope that produced the span. */
  scope: ReceivedScope;
}

/** A log record as received by the {@link OtlpReceiver}, flattened with its resource and scope. */
export interface ReceivedLog {
  /** Event time in nanoseconds since the Unix epoch (falls back to the observed time when unset). */
  timeUnixNano: bigint;
  /** OTLP SeverityNumber (1-24), if set. */
  severityNumber?: number;
  /** Severity text as sent (e.g. `'INFO'`), if set. */
  severityText?: string;
  /** Log body converted to a plain JS value (string, number, object, array, ...). */
  body: unknown;
  /** Log record attributes. */
  attributes: Attributes;
  /** Trace id of the correlated span (32 lowercase hex characters), if any. */
  traceId?: string;
  /** Span id of the correlated span (16 lowercase hex characters), if any. */
  spanId?: string;
  /** Attributes of the resource that produced the log record. */
  resource: Attributes;
  /** Instrumentation scope that produced the log record. */
  scope: ReceivedScope;
}

/** One data point of a {@link ReceivedMetric}; which fields are set depends on the metric type. */
export interface ReceivedDataPoint {
  /** Data point attributes. */
  attributes: Attributes;
  /** Value of a sum or gauge point. */
  value?: number;
  /** Number of measurements of a histogram, exponential histogram or summary point. */
  count?: number;
  /** Sum of the measurements of a histogram, exponential histogram or summary point, if sent. */
  sum?: number;
  /** Bucket counts of an explicit-bucket histogram point. */
  bucketCounts?: number[];
  /** Bucket boundaries of an explicit-bucket histogram point. */
  explicitBounds?: number[];
}

/** A metric as received by the {@link OtlpReceiver}, flattened with its resource and scope. */
export interface ReceivedMetric {
  /** Instrument name. */
  name: string;
  /** Unit, if set. */
  unit?: string;
  /** Description, if set. */
  description?: string;
  /** Kind of data the metric carries. */
  type: 'sum' | 'gauge' | 'histogram' | 'exponentialHistogram' | 'summary';
  /** Aggregation temporality, for sums and (exponential) histograms. */
  temporality?: 'delta' | 'cumulative';
  /** Whether a sum is monotonic (counters are, up-down counters are not). */
  isMonotonic?: boolean;
  /** The data points of this metric in this export. */
  dataPoints: ReceivedDataPoint[];
  /** Attributes of the resource that produced the metric. */
  resource: Attributes;
  /** Instrumentation scope (meter) that produced the metric. */
  scope: ReceivedScope;
}

/** Metadata of one export request that reached a signal endpoint (recorded before decoding). */
export interface ReceivedRequest {
  /** The signal of the endpoint that was hit. */
  signal: 'traces' | 'metrics' | 'logs';
  /** Request path, e.g. `/v1/traces` (or `/otlp/v1/traces`: any prefix is accepted). */
  path: string;
  /** The `Content-Type` header as sent (`''` when missing). */
  contentType: string;
  /** The `Content-Encoding` header, if sent (e.g. `'gzip'`). */
  contentEncoding?: string;
  /** All request headers, as Node.js parsed them (lowercase names). */
  headers: Record<string, string | string[] | undefined>;
  /** Size of the request body on the wire, before decompression. */
  bytes: number;
}

/** Options of {@link OtlpReceiver.waitFor}. */
export interface WaitForOptions {
  /** How long to wait before rejecting. Default 10000. */
  timeoutMs?: number;
  /** How often to evaluate the condition. Default 25. */
  intervalMs?: number;
}

/** A running embedded OTLP/HTTP receiver; see {@link startOtlpReceiver}. */
export interface OtlpReceiver {
  /** Base URL, e.g. `http://127.0.0.1:4318`; exporters append `/v1/traces`, `/v1/metrics`, `/v1/logs`. */
  readonly url: string;
  /** The TCP port the receiver listens on. */
  readonly port: number;
  /** Every span received so far, in arrival order. */
  readonly spans: ReceivedSpan[];
  /** Every log record received so far, in arrival order. */
  readonly logs: ReceivedLog[];
  /** Every metric received so far (one entry per metric per export), in arrival order. */
  readonly metrics: ReceivedMetric[];
  /** Every request that reached a signal endpoint, including rejected and undecodable ones. */
  readonly requests: ReceivedRequest[];
  /**
   * Polls `fn` until it returns a truthy value and resolves with that value.
   * A throwing `fn` counts as "not yet". Rejects after `timeoutMs` (default 10000) with an
   * error that summarises what the receiver has got so far (and the last error `fn` threw).
   */
  waitFor<T>(fn: () => T | undefined | false, opts?: WaitForOptions): Promise<T>;
  /**
   * Waits until at least `count` (default 1) received spans match `predicate` and resolves
   * with all matching spans. Rejects after `timeoutMs` (default 10000).
   */
  waitForSpans(predicate: (s: ReceivedSpan) => boolean, count?: number, timeoutMs?: number): Promise<ReceivedSpan[]>;
  /** Forgets everything received so far (the arrays are emptied in place). */
  reset(): void;
  /** Stops listening and drops open (keep-alive) connections. Safe to call twice. */
  close(): Promise<void>;
}

/** Options of {@link startOtlpReceiver}. */
export interface OtlpReceiverOptions {
  /** Interface to listen on. Default `'127.0.0.1'`. */
  host?: string;
  /** Port to listen on. Default 0: an ephemeral port, see {@link OtlpReceiver.port}. */
  port?: number;
  /**
   * HTTP status to answer export requests with, for failure tests. Default 200.
   * With a non-2xx status the requests are still recorded in `requests`, but their
   * telemetry is not stored (the sender was told it was rejected and may retry).
   */
  respondWith?: number;
  /** Delay in milliseconds before answering each export request. Default 0. */
  delayMs?: number;
}

type Signal = ReceivedRequest['signal'];
type Wire = 'protobuf' | 'json';
type Obj = Record<string, unknown>;

/**
 * The signal of an export path: `/v1/traces`, `/v1/metrics`, `/v1/logs`, also under a prefix, as
 * vendors' gateways take them (`/otlp/v1/traces`, `/api/intake/otlp/v1/metrics`).
 */
function signalOfPath(path: string): Signal | undefined {
  const match = /(?:^|\/)v1\/(traces|metrics|logs)$/.exec(path);
  return match ? (match[1] as Signal) : undefined;
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Protobuf types and enums of the OTLP definitions this receiver needs. */
interface OtlpProtos {
  requests: Record<Signal, Type>;
  spanKind: Enum;
  statusCode: Enum;
  severityNumber: Enum;
  temporality: Enum;
}

let protos: OtlpProtos | undefined;

/** Loads (once) the official OTLP .proto files with protobufjs. */
function loadProtos(): OtlpProtos {
  if (protos) return protos;
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve('@opentelemetry/otlp-grpc-exporter-base/package.json');
  const protoDir = join(dirname(pkgJson), 'build', 'protos');
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(protoDir, target));
  root.loadSync(
    [
      'opentelemetry/proto/collector/trace/v1/trace_service.proto',
      'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
      'opentelemetry/proto/collector/logs/v1/logs_service.proto',
    ],
    { keepCase: false },
  );
  protos = {
    requests: {
      traces: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
      metrics: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
      logs: root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest'),
    },
    spanKind: root.lookupEnum('opentelemetry.proto.trace.v1.Span.SpanKind'),
    statusCode: root.lookupEnum('opentelemetry.proto.trace.v1.Status.StatusCode'),
    severityNumber: root.lookupEnum('opentelemetry.proto.logs.v1.SeverityNumber'),
    temporality: root.lookupEnum('opentelemetry.proto.metrics.v1.AggregationTemporality'),
  };
  return protos;
}

/** Raised for request bodies that cannot be decoded: answered with 400. */
class BadRequest extends Error {}

// ---------------------------------------------------------------------------
// Normalisation of decoded (protobuf `toObject`) or parsed (JSON) OTLP objects.
// Both are lowerCamelCase objects; they differ only in how ids are encoded
// (base64 of the bytes vs. hex). snake_case keys are accepted from JSON too.
// ---------------------------------------------------------------------------

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Reads `key` (or its snake_case spelling) from an OTLP object. */
function get(o: unknown, key: string): unknown {
  if (!isObj(o)) return undefined;
  const v = o[key];
  return v !== undefined ? v : o[snake(key)];
}

function list(o: unknown, key: string): unknown[] {
  const v = get(o, key);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new BadRequest(`field ${key} is not an array`);
  return v;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function toBigInt(v: unknown): bigint {
  if (v === undefined || v === null || v === '') return 0n;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string') return BigInt(v);
  if (isObj(v) && typeof v.low === 'number' && typeof v.high === 'number') {
    return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  }
  throw new BadRequest(`not an int64: ${JSON.stringify(v)}`);
}

/** int64 as a JS number when it is safe, as a bigint otherwise. */
function int64(v: unknown): number | bigint {
  const b = toBigInt(v);
  return b <= BigInt(Number.MAX_SAFE_INTEGER) && b >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(b) : b;
}

function num(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    // proto3 JSON writes non-finite doubles as strings.
    if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
    return Number(toBigInt(v));
  }
  return Number(toBigInt(v));
}

function enumValue(v: unknown, e: Enum): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const byName = e.values[v];
    if (byName !== undefined) return byName;
    if (/^\d+$/.test(v)) return Number(v);
  }
  throw new BadRequest(`not a ${e.name} value: ${JSON.stringify(v)}`);
}

function id(v: unknown, wire: Wire): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new BadRequest('trace/span id is not a string');
  const hex = wire === 'protobuf' ? Buffer.from(v, 'base64').toString('hex') : v.toLowerCase();
  if (!/^[0-9a-f]*$/.test(hex)) throw new BadRequest(`invalid trace/span id: ${v}`);
  return hex === '' || /^0+$/.test(hex) ? undefined : hex;
}

/** Converts an OTLP AnyValue to a plain JS value. */
function anyValue(v: unknown): unknown {
  if (!isObj(v)) return undefined;
  const s = get(v, 'stringValue');
  if (s !== undefined) return s;
  const b = get(v, 'boolValue');
  if (b !== undefined) return b;
  const i = get(v, 'intValue');
  if (i !== undefined) return int64(i);
  const d = get(v, 'doubleValue');
  if (d !== undefined) return num(d);
  const arr = get(v, 'arrayValue');
  if (arr !== undefined) return list(arr, 'values').map(anyValue);
  const kv = get(v, 'kvlistValue');
  if (kv !== undefined) return attributes(list(kv, 'values'));
  const bytes = get(v, 'bytesValue');
  if (typeof bytes === 'string') return new Uint8Array(Buffer.from(bytes, 'base64'));
  return undefined;
}

/** Converts an OTLP KeyValue list to a plain object. */
function attributes(kvs: unknown[]): Attributes {
  const out: Attributes = {};
  for (const kv of kvs) {
    const key = get(kv, 'key');
    if (typeof key === 'string') out[key] = anyValue(get(kv, 'value'));
  }
  return out;
}

function scopeOf(scopeContainer: unknown): ReceivedScope {
  const s = get(scopeContainer, 'scope') ?? get(scopeContainer, 'instrumentationLibrary');
  const version = str(get(s, 'version'));
  return version === undefined ? { name: str(get(s, 'name')) ?? '' } : { name: str(get(s, 'name')) ?? '', version };
}

/** Iterates (resource attributes, scope, items) over `resourceX[].scopeX[].items[]`. */
function* scoped(
  request: unknown,
  resourceKey: string,
  scopeKey: string,
  legacyScopeKey: string,
  itemKey: string,
): Generator<[Attributes, ReceivedScope, unknown]> {
  for (const rx of list(request, resourceKey)) {
    const resource = attributes(list(get(rx, 'resource'), 'attributes'));
    const scopes = list(rx, scopeKey);
    for (const sx of scopes.length > 0 ? scopes : list(rx, legacyScopeKey)) {
      const scope = scopeOf(sx);
      for (const item of list(sx, itemKey)) yield [resource, scope, item];
    }
  }
}

function toSpans(req: unknown, wire: Wire, p: OtlpProtos): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const [resource, scope, s] of scoped(
    req,
    'resourceSpans',
    'scopeSpans',
    'instrumentationLibrarySpans',
    'spans',
  )) {
    const traceId = id(get(s, 'traceId'), wire);
    const spanId = id(get(s, 'spanId'), wire);
    if (!traceId || !spanId) throw new BadRequest('span without trace id or span id');
    const start = toBigInt(get(s, 'startTimeUnixNano'));
    const end = toBigInt(get(s, 'endTimeUnixNano'));
    const statusObj = get(s, 'status');
    const status: ReceivedSpan['status'] = { code: enumValue(get(statusObj, 'code'), p.statusCode) ?? 0 };
    const message = str(get(statusObj, 'message'));
    if (message !== undefined) status.message = message;
    const span: ReceivedSpan = {
      traceId,
      spanId,
      name: typeof get(s, 'name') === 'string' ? (get(s, 'name') as string) : '',
      kind: enumValue(get(s, 'kind'), p.spanKind) ?? 0,
      startTimeUnixNano: start,
      endTimeUnixNano: end,
      durationMs: Number(end - start) / 1e6,
      attributes: attributes(list(s, 'attributes')),
      status,
      events: list(s, 'events').map((e) => ({
        name: str(get(e, 'name')) ?? '',
        attributes: attributes(list(e, 'attributes')),
      })),
      resource,
      scope,
    };
    const parentSpanId = id(get(s, 'parentSpanId'), wire);
    if (parentSpanId !== undefined) span.parentSpanId = parentSpanId;
    out.push(span);
  }
  return out;
}

function toLogs(req: unknown, wire: Wire, p: OtlpProtos): ReceivedLog[] {
  const out: ReceivedLog[] = [];
  for (const [resource, scope, r] of scoped(
    req,
    'resourceLogs',
    'scopeLogs',
    'instrumentationLibraryLogs',
    'logRecords',
  )) {
    const time = toBigInt(get(r, 'timeUnixNano'));
    const log: ReceivedLog = {
      timeUnixNano: time !== 0n ? time : toBigInt(get(r, 'observedTimeUnixNano')),
      body: anyValue(get(r, 'body')),
      attributes: attributes(list(r, 'attributes')),
      resource,
      scope,
    };
    const severityNumber = enumValue(get(r, 'severityNumber'), p.severityNumber);
    if (severityNumber) log.severityNumber = severityNumber;
    const severityText = str(get(r, 'severityText'));
    if (severityText !== undefined) log.severityText = severityText;
    const traceId = id(get(r, 'traceId'), wire);
    if (traceId !== undefined) log.traceId = traceId;
    const spanId = id(get(r, 'spanId'), wire);
    if (spanId !== undefined) log.spanId = spanId;
    out.push(log);
  }
  return out;
}

const METRIC_TYPES = ['sum', 'gauge', 'histogram', 'exponentialHistogram', 'summary'] as const;

function toDataPoint(dp: unknown, type: ReceivedMetric['type']): ReceivedDataPoint {
  const point: ReceivedDataPoint = { attributes: attributes(list(dp, 'attributes')) };
  if (type === 'sum' || type === 'gauge') {
    const v = get(dp, 'asDouble') ?? get(dp, 'asInt');
    point.value = num(v) ?? 0;
    return point;
  }
  point.count = num(get(dp, 'count')) ?? 0;
  const sum = num(get(dp, 'sum'));
  if (sum !== undefined) point.sum = sum;
  if (type === 'histogram') {
    point.bucketCounts = list(dp, 'bucketCounts').map((c) => num(c) ?? 0);
    point.explicitBounds = list(dp, 'explicitBounds').map((b) => num(b) ?? 0);
  }
  return point;
}

function toMetrics(req: unknown, p: OtlpProtos): ReceivedMetric[] {
  const out: ReceivedMetric[] = [];
  for (const [resource, scope, m] of scoped(
    req,
    'resourceMetrics',
    'scopeMetrics',
    'instrumentationLibraryMetrics',
    'metrics',
  )) {
    const type = METRIC_TYPES.find((t) => get(m, t) !== undefined);
    if (type === undefined) continue; // a metric without data: nothing to assert on
    const data = get(m, type);
    const metric: ReceivedMetric = {
      name: str(get(m, 'name')) ?? '',
      type,
      dataPoints: list(data, 'dataPoints').map((dp) => toDataPoint(dp, type)),
      resource,
      scope,
    };
    const unit = str(get(m, 'unit'));
    if (unit !== undefined) metric.unit = unit;
    const description = str(get(m, 'description'));
    if (description !== undefined) metric.description = description;
    const temporality = enumValue(get(data, 'aggregationTemporality'), p.temporality);
    if (temporality === 1) metric.temporality = 'delta';
    if (temporality === 2) metric.temporality = 'cumulative';
    if (type === 'sum') metric.isMonotonic = get(data, 'isMonotonic') === true;
    out.push(metric);
  }
  return out;
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

function wireOf(contentType: string): Wire | undefined {
  const mime = contentType.split(';')[0]?.trim().toLowerCase();
  if (mime === 'application/x-protobuf' || mime === 'application/protobuf') return 'protobuf';
  if (mime === 'application/json') return 'json';
  return undefined;
}

function decompress(body: Buffer, encoding: string | undefined): Buffer {
  const enc = (encoding ?? 'identity').trim().toLowerCase();
  try {
    if (enc === 'identity' || enc === '') return body;
    if (enc === 'gzip' || enc === 'x-gzip') return gunzipSync(body, { maxOutputLength: MAX_BODY_BYTES });
    if (enc === 'deflate') return inflateSync(body, { maxOutputLength: MAX_BODY_BYTES });
  } catch (err) {
    throw new BadRequest(`cannot decompress ${enc} body: ${(err as Error).message}`);
  }
  throw new BadRequest(`unsupported Content-Encoding: ${enc}`);
}

function decodeBody(body: Buffer, wire: Wire, signal: Signal, p: OtlpProtos): unknown {
  if (wire === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new BadRequest(`invalid JSON: ${(err as Error).message}`);
    }
    if (!isObj(parsed)) throw new BadRequest('OTLP/JSON body is not an object');
    return parsed;
  }
  const type = p.requests[signal];
  try {
    const message = type.decode(body);
    return type.toObject(message, { longs: String, enums: Number, bytes: String, arrays: true });
  } catch (err) {
    throw new BadRequest(`invalid protobuf ${type.name}: ${(err as Error).message}`);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BadRequest('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  send(res, status, 'text/plain; charset=utf-8', `${text}\n`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Starts an OTLP/HTTP receiver on loopback (by default on an ephemeral port).
 *
 * It accepts `POST /v1/traces`, `/v1/metrics` and `/v1/logs` as http/protobuf
 * (`application/x-protobuf`) or http/json (`application/json`), optionally
 * gzip- or deflate-compressed, answers with an empty export response in the same
 * content type, and collects what it decoded into {@link OtlpReceiver.spans},
 * {@link OtlpReceiver.logs} and {@link OtlpReceiver.metrics}. Unknown paths get
 * 404, other methods 405, unknown content types 415, undecodable bodies 400.
 */
export async function startOtlpReceiver(opts: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const p = loadProtos();
  const host = opts.host ?? '127.0.0.1';
  const respondWith = opts.respondWith ?? 200;
  const delayMs = opts.delayMs ?? 0;
  const spans: ReceivedSpan[] = [];
  const logs: ReceivedLog[] = [];
  const metrics: ReceivedMetric[] = [];
  const requests: ReceivedRequest[] = [];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://receiver').pathname;
    const signal = signalOfPath(path);
    if (signal === undefined) {
      req.resume();
      sendText(res, 404, `not found: ${path}`);
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('allow', 'POST');
      sendText(res, 405, `method not allowed: ${req.method}`);
      return;
    }
    const contentType = req.headers['content-type'] ?? '';
    const contentEncoding = req.headers['content-encoding'];
    const raw = await readBody(req);
    const record: ReceivedRequest = { signal, path, contentType, headers: { ...req.headers }, bytes: raw.length };
    if (contentEncoding !== undefined) record.contentEncoding = contentEncoding;
    requests.push(record);

    const wire = wireOf(contentType);
    if (wire === undefined) {
      sendText(res, 415, `unsupported Content-Type: ${contentType || '(none)'}`);
      return;
    }
    const decoded = decodeBody(decompress(raw, contentEncoding), wire, signal, p);
    const okStatus = respondWith >= 200 && respondWith < 300;
    // Convert before storing anything, so a bad request stores nothing.
    if (signal === 'traces') {
      const got = toSpans(decoded, wire, p);
      if (okStatus) spans.push(...got);
    } else if (signal === 'logs') {
      const got = toLogs(decoded, wire, p);
      if (okStatus) logs.push(...got);
    } else {
      const got = toMetrics(decoded, p);
      if (okStatus) metrics.push(...got);
    }
    if (delayMs > 0) await sleep(delayMs);
    if (wire === 'json') send(res, respondWith, 'application/json', okStatus ? '{}' : '{"code":14}');
    else send(res, respondWith, 'application/x-protobuf', Buffer.alloc(0));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof BadRequest) sendText(res, 400, err.message);
      else sendText(res, 500, `receiver error: ${err instanceof Error ? err.message : String(err)}`);
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  server.listen(opts.port ?? 0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  function summary(): string {
    const names = [...new Set(spans.map((s) => s.name))].slice(0, 20);
    return (
      `received ${spans.length} span(s)${names.length ? ` [${names.join(', ')}]` : ''}, ` +
      `${logs.length} log(s), ${metrics.length} metric(s) in ${requests.length} request(s)`
    );
  }

  let closed: Promise<void> | undefined;

  const receiver: OtlpReceiver = {
    url,
    port,
    spans,
    logs,
    metrics,
    requests,
    async waitFor<T>(fn: () => T | undefined | false, waitOpts: WaitForOptions = {}): Promise<T> {
      const timeoutMs = waitOpts.timeoutMs ?? 10_000;
      const intervalMs = waitOpts.intervalMs ?? 25;
      const deadline = Date.now() + timeoutMs;
      let lastError: unknown;
      for (;;) {
        try {
          const value = fn();
          if (value) return value;
        } catch (err) {
          lastError = err;
        }
        if (Date.now() >= deadline) break;
        await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
      }
      const cause =
        lastError === undefined
          ? ''
          : `; last error from the condition: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(`OtlpReceiver.waitFor timed out after ${timeoutMs} ms: ${summary()}${cause}`);
    },
    async waitForSpans(predicate, count = 1, timeoutMs = 10_000): Promise<ReceivedSpan[]> {
      try {
        return await receiver.waitFor(
          () => {
            const matching = spans.filter(predicate);
            return matching.length >= count ? matching : undefined;
          },
          { timeoutMs },
        );
      } catch (err) {
        const matching = spans.filter((s) => {
          try {
            return predicate(s);
          } catch {
            return false;
          }
        }).length;
        throw new Error(
          `OtlpReceiver.waitForSpans: expected ${count} matching span(s), got ${matching}: ${(err as Error).message}`,
        );
      }
    },
    reset(): void {
      spans.length = 0;
      logs.length = 0;
      metrics.length = 0;
      requests.length = 0;
    },
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
  return receiver;
}

const STATUS_NAMES: Record<number, string> = { 0: 'UNSET', 1: 'OK', 2: 'ERROR' };

/**
 * Renders spans as indented trees, one per trace (traces and siblings ordered by
 * start time), each line showing name, duration in ms and status (OK/ERROR/UNSET), e.g.
 *
 * ```text
 * trace 5b8efff798038103d269b633813fc60c
 *   GET /users (12.3 ms) OK
 *     db.query (4.1 ms) UNSET
 * ```
 *
 * Spans whose parent is not among `spans` are shown as roots.
 */
export function spanTree(spans: ReceivedSpan[]): string {
  if (spans.length === 0) return '(no spans)';
  const byStart = [...spans].sort((a, b) =>
    a.startTimeUnixNano < b.startTimeUnixNano ? -1 : a.startTimeUnixNano > b.startTimeUnixNano ? 1 : 0,
  );
  const traces = new Map<string, ReceivedSpan[]>();
  for (const s of byStart) {
    const group = traces.get(s.traceId);
    if (group) group.push(s);
    else traces.set(s.traceId, [s]);
  }
  const lines: string[] = [];
  for (const [traceId, group] of traces) {
    lines.push(`trace ${traceId}`);
    const ids = new Set(group.map((s) => s.spanId));
    const children = new Map<string, ReceivedSpan[]>();
    const roots: ReceivedSpan[] = [];
    for (const s of group) {
      if (s.parentSpanId !== undefined && s.parentSpanId !== s.spanId && ids.has(s.parentSpanId)) {
        const siblings = children.get(s.parentSpanId);
        if (siblings) siblings.push(s);
        else children.set(s.parentSpanId, [s]);
      } else {
        roots.push(s);
      }
    }
    const printed = new Set<ReceivedSpan>();
    const print = (s: ReceivedSpan, depth: number): void => {
      if (printed.has(s)) return;
      printed.add(s);
      const status = STATUS_NAMES[s.status.code] ?? `STATUS_${s.status.code}`;
      lines.push(`${'  '.repeat(depth + 1)}${s.name} (${s.durationMs.toFixed(1)} ms) ${status}`);
      for (const child of children.get(s.spanId) ?? []) print(child, depth + 1);
    };
    for (const r of roots) print(r, 0);
    // Spans caught in a parent cycle are unreachable from any root: show them anyway.
    for (const s of group) print(s, 0);
  }
  return lines.join('\n');
}
