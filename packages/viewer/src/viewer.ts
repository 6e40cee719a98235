/**
 * The `obs dev` process: an OTLP/HTTP receiver (OTLP specification, "OTLP/HTTP": `POST /v1/traces`,
 * `/v1/metrics`, `/v1/logs`, http/protobuf or http/json, optionally gzip) that writes into the
 * {@link TelemetryStore}, and a web UI with its JSON API and a server-sent event stream, served from a
 * second port by the same process.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BadRequest,
  type DecodedExport,
  decodeExportRequest,
  decompress,
  preloadProtos,
  readBody,
  signalOfPath,
  wireOf,
} from '@obs/otlp-decode';
import { metricChart, routeSeries } from './metric-series.js';
import { METRIC_HTTP_SERVER_REQUEST_DURATION } from './semconv.js';
import { type StoreOptions, TelemetryStore, type TraceFilter } from './store.js';

/** Options of {@link startViewer}. */
export interface ViewerOptions extends StoreOptions {
  /** Interface of the OTLP receiver. Default `'127.0.0.1'` (loopback only). */
  otlpHost?: string;
  /** Port of the OTLP receiver. Default 4318, the standard OTLP/HTTP port; 0 picks a free one. */
  otlpPort?: number;
  /** Interface of the web UI. Default `'127.0.0.1'` (loopback only). */
  uiHost?: string;
  /** Port of the web UI. Default 4319; 0 picks a free one. */
  uiPort?: number;
  /** How often the age and size bounds are applied, milliseconds. Default 10 000. */
  pruneIntervalMs?: number;
  /** Where warnings go (a failed write, a failed request). Default: stderr. */
  warn?: (message: string) => void;
  /** Called with what each accepted export request carried, after it was stored (e.g. for checks). */
  onExport?: (data: DecodedExport) => void;
}

/** A running viewer; see {@link startViewer}. */
export interface Viewer {
  /** Base URL of the OTLP receiver, e.g. `http://127.0.0.1:4318` (set `OTEL_EXPORTER_OTLP_ENDPOINT` to it). */
  readonly otlpUrl: string;
  /** URL of the web UI, e.g. `http://127.0.0.1:4319/`. */
  readonly uiUrl: string;
  readonly store: TelemetryStore;
  /** Export requests answered 400 (undecodable) and 500 (store failure) since start. */
  readonly rejected: { badRequests: number; failures: number };
  /** Stops both servers (open connections and event streams are closed) and closes the store. */
  close(): Promise<void>;
}

/** Default OTLP/HTTP port. */
export const DEFAULT_OTLP_PORT = 4318;
/** Default web UI port. */
export const DEFAULT_UI_PORT = 4319;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Whether an interface is reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  extra: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(body);
}

function sendJson(res: ServerResponse, value: unknown): void {
  send(res, 200, 'application/json; charset=utf-8', JSON.stringify(value));
}

function sendText(res: ServerResponse, status: number, text: string): void {
  send(res, status, 'text/plain; charset=utf-8', `${text}\n`);
}

async function listen(server: Server, port: number, host: string): Promise<string> {
  server.listen(port, host);
  await once(server, 'listening');
  const bound = (server.address() as AddressInfo).port;
  return `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** The built UI files (dist/ui), read once; the path works from dist/ and, in tests, from src/. */
function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const dir = new URL('../dist/ui/', import.meta.url);
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const [path, file, type] of [
    ['/', 'index.html', 'text/html; charset=utf-8'],
    ['/assets/app.js', 'app.js', 'text/javascript; charset=utf-8'],
    ['/assets/app.css', 'app.css', 'text/css; charset=utf-8'],
  ] as const) {
    try {
      assets.set(path, { type, body: readFileSync(new URL(file, dir)) });
    } catch {
      assets.set(path, {
        type: 'text/plain; charset=utf-8',
        body: Buffer.from(`UI not built: ${file} missing; run pnpm build\n`),
      });
    }
  }
  return assets;
}

/**
 * Whether a request's `Host` header names this viewer: any host when it listens beyond loopback (the
 * user chose to expose it), else only loopback names and addresses.
 */
export function hostAllowed(hostHeader: string | undefined, boundHost: string): boolean {
  if (!isLoopback(boundHost)) return true;
  if (!hostHeader) return false;
  const name = hostHeader.startsWith('[')
    ? hostHeader.slice(1, hostHeader.indexOf(']'))
    : (hostHeader.split(':')[0] ?? '');
  return isLoopback(name.toLowerCase()) || name.toLowerCase().endsWith('.localhost');
}

/** No inline script, nothing from elsewhere: markup that slips through as HTML still cannot run. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

function num(v: string | null): number | undefined {
  if (v === null || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** `key=value` of an attribute filter. */
function attributeFilter(v: string | null): { key: string; value: string } | undefined {
  if (!v) return undefined;
  const eq = v.indexOf('=');
  return eq > 0 ? { key: v.slice(0, eq).trim(), value: v.slice(eq + 1).trim() } : undefined;
}

/**
 * Starts the viewer: store, OTLP receiver and web UI. Resolves once both ports listen.
 * @throws when a port cannot be bound (e.g. EADDRINUSE), after closing what was opened
 */
export async function startViewer(opts: ViewerOptions = {}): Promise<Viewer> {
  preloadProtos();
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`obs dev: ${m}\n`));
  const store = new TelemetryStore(opts);
  const rejected = { badRequests: 0, failures: 0 };
  const assets = loadAssets();
  const uiHost = opts.uiHost ?? '127.0.0.1';
  const streams = new Set<ServerResponse>();

  async function receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const signal = signalOfPath(path);
    if (signal === undefined) {
      req.resume();
      sendText(res, 404, `not found: ${path}`);
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      send(res, 405, 'text/plain; charset=utf-8', `method not allowed: ${req.method}\n`, { allow: 'POST' });
      return;
    }
    const wire = wireOf(req.headers['content-type'] ?? '');
    if (wire === undefined) {
      req.resume();
      sendText(res, 415, `unsupported Content-Type: ${req.headers['content-type'] || '(none)'}`);
      return;
    }
    const raw = await readBody(req);
    const decoded = decodeExportRequest(signal, decompress(raw, req.headers['content-encoding']), wire);
    if (decoded.signal === 'traces') store.insertSpans(decoded.spans);
    else if (decoded.signal === 'logs') store.insertLogs(decoded.logs);
    else store.insertMetrics(decoded.metrics);
    opts.onExport?.(decoded);
    if (wire === 'json') send(res, 200, 'application/json', '{}');
    else send(res, 200, 'application/x-protobuf', Buffer.alloc(0));
  }

  function api(url: URL, res: ServerResponse): void {
    const q = url.searchParams;
    const path = url.pathname;
    if (path === '/api/services') {
      sendJson(res, store.services());
      return;
    }
    if (path === '/api/routes') {
      sendJson(res, store.routes(q.get('service') || undefined));
      return;
    }
    if (path === '/api/stats') {
      sendJson(res, { ...store.stats(), rejected });
      return;
    }
    if (path === '/api/traces') {
      const filter: TraceFilter = {
        service: q.get('service') || undefined,
        route: q.get('route') || undefined,
        status:
          q.get('status') === 'error' || q.get('status') === 'ok' ? (q.get('status') as 'error' | 'ok') : undefined,
        minDurationMs: num(q.get('minDurationMs')),
        attribute: attributeFilter(q.get('attribute')),
        fromMs: num(q.get('from')),
        toMs: num(q.get('to')),
        traceId: q.get('traceId')?.trim() || undefined,
        requestId: q.get('requestId')?.trim() || undefined,
        limit: num(q.get('limit')),
      };
      sendJson(res, store.listTraces(filter));
      return;
    }
    const trace = /^\/api\/traces\/([0-9a-fA-F]{1,32})$/.exec(path);
    if (trace) {
      sendJson(res, store.getTrace(trace[1] as string, num(q.get('limit')) ?? 20_000));
      return;
    }
    if (path === '/api/logs') {
      sendJson(
        res,
        store.searchLogs({
          service: q.get('service') || undefined,
          minSeverity: num(q.get('minSeverity')),
          text: q.get('text') || undefined,
          attribute: attributeFilter(q.get('attribute')),
          traceId: q.get('traceId') || undefined,
          afterId: num(q.get('afterId')),
          fromMs: num(q.get('from')),
          toMs: num(q.get('to')),
          limit: num(q.get('limit')),
        }),
      );
      return;
    }
    const toMs = num(q.get('to')) ?? Date.now();
    const fromMs = num(q.get('from')) ?? toMs - 15 * 60_000;
    const stepMs = Math.max(1000, num(q.get('step')) ?? Math.ceil((toMs - fromMs) / 120));
    const service = q.get('service') || undefined;
    if (path === '/api/metrics/names') {
      sendJson(res, store.metricNames(service));
      return;
    }
    if (path === '/api/metrics/http') {
      const points = store.points(METRIC_HTTP_SERVER_REQUEST_DURATION, { service, fromMs: fromMs - stepMs, toMs });
      sendJson(res, routeSeries(points, fromMs, toMs, stepMs));
      return;
    }
    if (path === '/api/metrics/chart') {
      const name = q.get('name') ?? '';
      sendJson(res, metricChart(store.points(name, { service, fromMs: fromMs - stepMs, toMs }), fromMs, toMs, stepMs));
      return;
    }
    sendText(res, 404, `not found: ${path}`);
  }

  function ui(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!hostAllowed(req.headers.host, uiHost)) {
      // A page elsewhere that renamed its host to 127.0.0.1 (DNS rebinding) must not read telemetry.
      sendText(res, 403, 'forbidden host: open the viewer as http://127.0.0.1 or http://localhost');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendText(res, 405, 'method not allowed');
      return;
    }
    if (url.pathname === '/api/live') {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      res.write('retry: 2000\n\n');
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      api(url, res);
      return;
    }
    const asset = assets.get(url.pathname) ?? assets.get('/');
    if (!asset) {
      sendText(res, 404, 'not found');
      return;
    }
    send(res, 200, asset.type, asset.body, { 'content-security-policy': CSP });
  }

  // Live updates: at most one event per 250 ms, carrying the counts written since the last one.
  let pending = { spans: 0, logs: 0, points: 0 };
  let timer: NodeJS.Timeout | undefined;
  store.on('ingest', (n) => {
    pending = { spans: pending.spans + n.spans, logs: pending.logs + n.logs, points: pending.points + n.points };
    timer ??= setTimeout(() => {
      timer = undefined;
      const data = `data: ${JSON.stringify(pending)}\n\n`;
      pending = { spans: 0, logs: 0, points: 0 };
      for (const s of streams) s.write(data);
    }, 250);
  });

  const otlpServer = createServer((req, res) => {
    receive(req, res).catch((err: unknown) => {
      if (err instanceof BadRequest) {
        rejected.badRequests += 1;
        sendText(res, 400, err.message);
      } else {
        rejected.failures += 1;
        warn(`could not store an export request: ${err instanceof Error ? err.message : String(err)}`);
        sendText(res, 500, 'could not store the data');
      }
    });
  });
  const uiServer = createServer((req, res) => {
    try {
      ui(req, res);
    } catch (err) {
      warn(`UI request ${req.url} failed: ${err instanceof Error ? err.message : String(err)}`);
      sendText(res, 500, 'internal error');
    }
  });
  for (const server of [otlpServer, uiServer]) {
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  let otlpUrl: string;
  let uiUrl: string;
  try {
    otlpUrl = await listen(otlpServer, opts.otlpPort ?? DEFAULT_OTLP_PORT, opts.otlpHost ?? '127.0.0.1');
    uiUrl = `${await listen(uiServer, opts.uiPort ?? DEFAULT_UI_PORT, uiHost)}/`;
  } catch (err) {
    await Promise.all([closeServer(otlpServer), closeServer(uiServer)]);
    store.close();
    throw err;
  }

  const pruner = setInterval(() => {
    try {
      store.prune();
    } catch (err) {
      warn(`pruning failed: ${(err as Error).message}`);
    }
  }, opts.pruneIntervalMs ?? 10_000);
  pruner.unref();

  let closed: Promise<void> | undefined;
  return {
    otlpUrl,
    uiUrl,
    store,
    rejected,
    close() {
      closed ??= (async () => {
        clearInterval(pruner);
        if (timer) clearTimeout(timer);
        for (const s of streams) s.end();
        await Promise.all([closeServer(otlpServer), closeServer(uiServer)]);
        store.close();
      })();
      return closed;
    },
  };
}
