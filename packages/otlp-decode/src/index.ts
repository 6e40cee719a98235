/*
 * Decoding of OTLP/HTTP export requests (http/protobuf and http/json; traces, metrics, logs) into
 * plain spans, log records and metrics. Shared by the `obs dev` viewer (@obs/viewer) and the test
 * kit's embedded receiver (@obs/testkit), so both read OTLP the same way.
 *
 * Proto source: the official opentelemetry-proto `.proto` files shipped inside
 * `@opentelemetry/otlp-grpc-exporter-base@0.38.0` (`build/protos/**`), loaded at
 * runtime with protobufjs. 0.38.0 is the last version of that package that ships
 * the `.proto` sources (0.39+ no longer include them); the current
 * otlp-transformer only has a hand-written encoder and no definitions, and
 * `@opentelemetry/otlp-proto-exporter-base` (0.34, 0.51.1 checked) only ships a
 * pre-generated static module. Depending on the real files beats copying them:
 * they stay byte-for-byte official. They are opentelemetry-proto v0.19: every
 * field this decoder reads has kept its number since, and newer fields (e.g.
 * Span.flags, LogRecord.event_name) are skipped by the decoder as unknown fields.
 * The package is only a file carrier: none of its JavaScript is loaded.
 *
 * JSON (OTLP http/json) is parsed with JSON.parse and normalised by the same code
 * path as the decoded protobuf objects; enum names are resolved through the same
 * loaded proto definitions.
 */
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
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

/** A span as decoded from an OTLP export request, flattened with its resource and scope. */
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
  /** Span events (e.g. recorded exceptions), with their time in nanoseconds since the Unix epoch. */
  events: { name: string; timeUnixNano: bigint; attributes: Attributes }[];
  /** Links to spans of this or other traces. */
  links: { traceId: string; spanId: string; attributes: Attributes }[];
  /** Attributes of the resource that produced the span (e.g. `service.name`). */
  resource: Attributes;
  /** Instrumentation scope that produced the span. */
  scope: ReceivedScope;
}

/** A log record as decoded from an OTLP export request, flattened with its resource and scope. */
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

/** An exemplar of a data point: one measurement, with the trace it was recorded in when sampled. */
export interface ReceivedExemplar {
  /** Measurement time in nanoseconds since the Unix epoch. */
  timeUnixNano: bigint;
  /** The measured value. */
  value: number;
  /** Trace id (32 lowercase hex characters) of the span the measurement was recorded in, if any. */
  traceId?: string;
  /** Span id (16 lowercase hex characters), if any. */
  spanId?: string;
}

/** One data point of a {@link ReceivedMetric}; which fields are set depends on the metric type. */
export interface ReceivedDataPoint {
  /** Data point attributes. */
  attributes: Attributes;
  /** End of the point's interval, nanoseconds since the Unix epoch (0 when the sender left it out). */
  timeUnixNano: bigint;
  /** Start of the point's interval (for cumulative points: when the series started), 0 when unset. */
  startTimeUnixNano: bigint;
  /** Exemplars of the point, if the sender recorded any. */
  exemplars?: ReceivedExemplar[];
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

/** A metric as decoded from an OTLP export request, flattened with its resource and scope. */
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

/** The three OTLP signals, as named in the export paths (`/v1/traces`, ...). */
export type Signal = 'traces' | 'metrics' | 'logs';
/** The two OTLP/HTTP encodings. */
export type Wire = 'protobuf' | 'json';
type Obj = Record<string, unknown>;

/**
 * The signal of an export path: `/v1/traces`, `/v1/metrics`, `/v1/logs`, also under a prefix, as
 * vendors' gateways take them (`/otlp/v1/traces`, `/api/intake/otlp/v1/metrics`).
 */
export function signalOfPath(path: string): Signal | undefined {
  const match = /(?:^|\/)v1\/(traces|metrics|logs)$/.exec(path);
  return match ? (match[1] as Signal) : undefined;
}

/** Largest request body accepted, before and after decompression: 64 MiB. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

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

/** Raised for request bodies that cannot be decoded; an OTLP/HTTP server answers it with 400. */
export class BadRequest extends Error {
  override readonly name = 'BadRequest';
}

// ---------------------------------------------------------------------------
// Normalisation of decoded (protobuf `toObject`) or parsed (JSON) OTLP objects.
// Both are lowerCamelCase objects; they differ only in how ids are encoded
// (base64 of the bytes vs. hex). snake_case keys are accepted from JSON too.
// ---------------------------------------------------------------------------

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const snakeCache = new Map<string, string>();

/** The snake_case spelling of a lowerCamelCase field name (cached: the set of names is small). */
function snake(key: string): string {
  let out = snakeCache.get(key);
  if (out === undefined) {
    out = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (snakeCache.size < 1000) snakeCache.set(key, out);
  }
  return out;
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
    // own properties only: protobufjs's `values` inherits the number -> name map (and Object's members)
    const byName = Object.hasOwn(e.values, v) ? e.values[v] : undefined;
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
        timeUnixNano: toBigInt(get(e, 'timeUnixNano')),
        attributes: attributes(list(e, 'attributes')),
      })),
      links: list(s, 'links').flatMap((l) => {
        const linkTraceId = id(get(l, 'traceId'), wire);
        const linkSpanId = id(get(l, 'spanId'), wire);
        if (!linkTraceId || !linkSpanId) return [];
        return [{ traceId: linkTraceId, spanId: linkSpanId, attributes: attributes(list(l, 'attributes')) }];
      }),
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

function toExemplar(e: unknown, wire: Wire): ReceivedExemplar {
  const exemplar: ReceivedExemplar = {
    timeUnixNano: toBigInt(get(e, 'timeUnixNano')),
    value: num(get(e, 'asDouble') ?? get(e, 'asInt')) ?? 0,
  };
  const traceId = id(get(e, 'traceId'), wire);
  if (traceId !== undefined) exemplar.traceId = traceId;
  const spanId = id(get(e, 'spanId'), wire);
  if (spanId !== undefined) exemplar.spanId = spanId;
  return exemplar;
}

function toDataPoint(dp: unknown, type: ReceivedMetric['type'], wire: Wire): ReceivedDataPoint {
  const point: ReceivedDataPoint = {
    attributes: attributes(list(dp, 'attributes')),
    timeUnixNano: toBigInt(get(dp, 'timeUnixNano')),
    startTimeUnixNano: toBigInt(get(dp, 'startTimeUnixNano')),
  };
  const exemplars = list(dp, 'exemplars');
  if (exemplars.length > 0) point.exemplars = exemplars.map((e) => toExemplar(e, wire));
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

function toMetrics(req: unknown, wire: Wire, p: OtlpProtos): ReceivedMetric[] {
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
      dataPoints: list(data, 'dataPoints').map((dp) => toDataPoint(dp, type, wire)),
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
// Request bodies
// ---------------------------------------------------------------------------

/** The OTLP encoding of a `Content-Type` header value; undefined for anything else (answer 415). */
export function wireOf(contentType: string): Wire | undefined {
  const mime = contentType.split(';')[0]?.trim().toLowerCase();
  if (mime === 'application/x-protobuf' || mime === 'application/protobuf') return 'protobuf';
  if (mime === 'application/json') return 'json';
  return undefined;
}

/** Undoes `Content-Encoding` gzip, deflate or identity; throws {@link BadRequest} otherwise. */
export function decompress(body: Buffer, encoding: string | undefined): Buffer {
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

/**
 * Reads a request body, at most {@link MAX_BODY_BYTES}: a larger one rejects with {@link BadRequest}
 * (and the request is destroyed).
 */
export function readBody(req: IncomingMessage): Promise<Buffer> {
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

/** What one export request carried, by signal. */
export type DecodedExport =
  | { signal: 'traces'; spans: ReceivedSpan[] }
  | { signal: 'logs'; logs: ReceivedLog[] }
  | { signal: 'metrics'; metrics: ReceivedMetric[] };

/**
 * Decodes the body of one OTLP/HTTP export request (`ExportTraceServiceRequest`,
 * `ExportLogsServiceRequest` or `ExportMetricsServiceRequest`, OTLP specification "OTLP/HTTP"), already
 * decompressed (see {@link decompress}), in the given encoding.
 * @throws BadRequest when the body is not a valid request of that signal (answer 400)
 */
export function decodeExportRequest(signal: Signal, body: Buffer, wire: Wire): DecodedExport {
  const p = loadProtos();
  const decoded = decodeBody(body, wire, signal, p);
  try {
    if (signal === 'traces') return { signal, spans: toSpans(decoded, wire, p) };
    if (signal === 'logs') return { signal, logs: toLogs(decoded, wire, p) };
    return { signal, metrics: toMetrics(decoded, wire, p) };
  } catch (err) {
    // Whatever the conversion trips over (a malformed int64, nesting too deep) is the body's fault.
    if (err instanceof BadRequest) throw err;
    throw new BadRequest(`invalid ${signal} request: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Loads the OTLP protobuf definitions now rather than on the first protobuf request. */
export function preloadProtos(): void {
  loadProtos();
}

/**
 * The protobufjs type of a signal's export request (`ExportTraceServiceRequest`, ...), e.g. to encode
 * request bodies for tests and benchmarks: `type.encode(type.fromObject(request)).finish()`, with ids
 * as base64 strings.
 */
export function exportRequestType(signal: Signal): Type {
  return loadProtos().requests[signal];
}
