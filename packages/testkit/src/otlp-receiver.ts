/*
 * Embedded OTLP/HTTP receiver for integration tests and the demo. Request bodies are decoded by
 * @obs/otlp-decode (the official OTLP .proto definitions through protobufjs, and OTLP/JSON), the
 * same decoder the `obs dev` viewer uses; this module adds the HTTP server, what it records, and the
 * waiting helpers tests need.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BadRequest,
  decodeExportRequest,
  decompress,
  preloadProtos,
  type ReceivedLog,
  type ReceivedMetric,
  type ReceivedSpan,
  readBody,
  signalOfPath,
  wireOf,
} from '@obs/otlp-decode';

export type {
  Attributes,
  ReceivedDataPoint,
  ReceivedExemplar,
  ReceivedLog,
  ReceivedMetric,
  ReceivedScope,
  ReceivedSpan,
} from '@obs/otlp-decode';

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
 * Polls `fn` until it returns a truthy value (a throwing `fn` counts as "not yet"); rejects after
 * `timeoutMs` with `label`, what `summary` says was received, and the last error `fn` threw.
 */
export async function pollUntil<T>(
  fn: () => T | undefined | false,
  opts: WaitForOptions = {},
  label: string,
  summary: () => string,
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 25;
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
  throw new Error(`${label} timed out after ${timeoutMs} ms: ${summary()}${cause}`);
}

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
  preloadProtos();
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
    const decoded = decodeExportRequest(signal, decompress(raw, contentEncoding), wire);
    const okStatus = respondWith >= 200 && respondWith < 300;
    // Decoded before storing anything, so a bad request stores nothing.
    if (okStatus) {
      if (decoded.signal === 'traces') spans.push(...decoded.spans);
      else if (decoded.signal === 'logs') logs.push(...decoded.logs);
      else metrics.push(...decoded.metrics);
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
    waitFor: (fn, waitOpts) => pollUntil(fn, waitOpts, 'OtlpReceiver.waitFor', summary),
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
