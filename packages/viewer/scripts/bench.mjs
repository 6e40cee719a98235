/**
 * Benchmark of the viewer (not a test; `pnpm --filter @obs/viewer bench`, after `pnpm build`):
 *
 * 1. ingest: a sender in a worker thread POSTs pre-encoded OTLP http/protobuf export requests
 *    (512 spans, or 512 log records, each; 8 in flight) over loopback to the viewer's receiver in this
 *    thread; reported as spans/s and log records/s end to end (decode + store);
 * 2. queries, with 1 000 000 spans stored: the trace list (no filter, by service, errors only) and
 *    one trace by id, each the median of 25 runs.
 *
 * Options (environment): BENCH_SPANS (default 1000000), BENCH_LOGS (default 200000), BENCH_DB (a file;
 * default in memory).
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const BATCH = 512;
/** Trace ids of this run: a random half and the trace's number. */
const RUN = randomBytes(8).toString('hex');
const IN_FLIGHT = 8;
const SPANS_PER_TRACE = 10;
const SERVICES = ['checkout', 'payments', 'inventory', 'users'];
const ROUTES = ['/api/v1/orders', '/api/v1/users/:id', '/api/v1/cart', '/api/v1/items/:id'];

/** Worker: builds and encodes the bodies first, then sends them and reports the time taken. */
async function send({ url, signal, total }) {
  const { exportRequestType } = await import('@obs/otlp-decode');
  const type = exportRequestType(signal);
  const bodies = [];
  const now = Date.now();
  for (let i = 0; i < total; i += BATCH) {
    const n = Math.min(BATCH, total - i);
    const request = signal === 'traces' ? spansRequest(i, n, now) : logsRequest(i, n, now);
    bodies.push(type.encode(type.fromObject(request)).finish());
  }
  const started = performance.now();
  let next = 0;
  async function lane() {
    while (next < bodies.length) {
      const body = bodies[next++];
      const res = await fetch(`${url}/v1/${signal}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        body,
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`export answered ${res.status}`);
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  parentPort.postMessage({ seconds: (performance.now() - started) / 1000 });
}

const b64 = (hex) => Buffer.from(hex, 'hex').toString('base64');
const kv = (o) =>
  Object.entries(o).map(([key, v]) => ({ key, value: typeof v === 'number' ? { intValue: v } : { stringValue: v } }));

function spansRequest(offset, n, now) {
  const spans = [];
  for (let j = 0; j < n; j++) {
    const index = offset + j;
    const inTrace = index % SPANS_PER_TRACE;
    const traceNo = Math.floor(index / SPANS_PER_TRACE);
    const traceId = `${RUN}${traceNo.toString(16).padStart(16, '0')}`;
    const rootId = (traceNo + 1).toString(16).padStart(16, '0');
    const route = ROUTES[Math.floor(index / SPANS_PER_TRACE) % ROUTES.length];
    const start = BigInt(now - 60_000 + Math.floor(index / 20)) * 1_000_000n + BigInt(inTrace * 1000);
    const error = Math.floor(index / SPANS_PER_TRACE) % 50 === 0 && inTrace === 3;
    spans.push({
      traceId: b64(traceId),
      spanId: b64(inTrace === 0 ? rootId : randomBytes(8).toString('hex')),
      parentSpanId: inTrace === 0 ? undefined : b64(rootId),
      name: inTrace === 0 ? `GET ${route}` : `db.query ${inTrace}`,
      kind: inTrace === 0 ? 2 : 3,
      startTimeUnixNano: start.toString(),
      endTimeUnixNano: (start + BigInt(inTrace === 0 ? 25_000_000 : 2_000_000)).toString(),
      attributes: kv(
        inTrace === 0
          ? {
              'http.request.method': 'GET',
              'http.route': route,
              'url.path': route,
              'http.response.status_code': 200,
              'server.port': 3000,
            }
          : {
              'db.system.name': 'postgresql',
              'db.query.text': 'SELECT id, name FROM users WHERE id = $1',
              'db.namespace': 'shop',
            },
      ),
      status: { code: error ? 2 : 0 },
    });
  }
  const service = SERVICES[Math.floor(offset / BATCH) % SERVICES.length];
  return {
    resourceSpans: [
      {
        resource: { attributes: kv({ 'service.name': service, 'telemetry.sdk.language': 'nodejs' }) },
        scopeSpans: [{ scope: { name: 'bench' }, spans }],
      },
    ],
  };
}

function logsRequest(offset, n, now) {
  const logRecords = [];
  for (let j = 0; j < n; j++) {
    logRecords.push({
      timeUnixNano: (BigInt(now) * 1_000_000n + BigInt(offset + j)).toString(),
      severityNumber: 9,
      severityText: 'info',
      body: { stringValue: 'request completed' },
      attributes: kv({ request_id: `req-${offset + j}`, 'http.route': '/api/v1/orders', duration_ms: 12 }),
      traceId: b64(randomBytes(16).toString('hex')),
      spanId: b64(randomBytes(8).toString('hex')),
    });
  }
  return {
    resourceLogs: [
      {
        resource: { attributes: kv({ 'service.name': 'checkout' }) },
        scopeLogs: [{ scope: { name: 'bench' }, logRecords }],
      },
    ],
  };
}

function runSender(url, signal, total) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { url, signal, total } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

function median(fn, runs = 25) {
  const times = [];
  let result;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    result = fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(runs / 2)], result };
}

async function main() {
  const { startViewer } = await import('@obs/viewer');
  const spans = Number(process.env.BENCH_SPANS ?? 1_000_000);
  const logs = Number(process.env.BENCH_LOGS ?? 200_000);
  const path = process.env.BENCH_DB;
  if (path) rmSync(path, { force: true });
  const viewer = await startViewer({
    otlpPort: 0,
    uiPort: 0,
    path,
    maxBytes: 16 * 1024 ** 3,
    pruneIntervalMs: 3_600_000,
  });
  console.log(`node ${process.version}, store ${path ? `file ${path}` : 'in memory'}`);

  const spanRun = await runSender(viewer.otlpUrl, 'traces', spans);
  console.log(
    `ingest spans:       ${spans} in ${spanRun.seconds.toFixed(1)} s = ${Math.round(spans / spanRun.seconds)} spans/s`,
  );
  const logRun = await runSender(viewer.otlpUrl, 'logs', logs);
  console.log(
    `ingest log records: ${logs} in ${logRun.seconds.toFixed(1)} s = ${Math.round(logs / logRun.seconds)} records/s`,
  );

  const stats = viewer.store.stats();
  console.log(
    `stored: ${stats.spans} spans, ${stats.traces} traces, ${stats.logs} logs, ${(stats.bytes / 1048576).toFixed(0)} MiB`,
  );
  const list = median(() => viewer.store.listTraces({ limit: 100 }));
  const byService = median(() => viewer.store.listTraces({ service: 'payments', limit: 100 }));
  const errors = median(() => viewer.store.listTraces({ status: 'error', limit: 100 }));
  const route = median(() => viewer.store.listTraces({ route: '/api/v1/cart', minDurationMs: 10, limit: 100 }));
  const traceId = list.result[50].traceId;
  const one = median(() => viewer.store.getTrace(traceId));
  const apiList = [];
  for (let i = 0; i < 25; i++) {
    const t = performance.now();
    const res = await fetch(`${viewer.uiUrl}api/traces?limit=100`);
    await res.json();
    apiList.push(performance.now() - t);
  }
  apiList.sort((a, b) => a - b);
  console.log(`trace list (100 newest):            ${list.ms.toFixed(2)} ms`);
  console.log(`trace list, service filter:         ${byService.ms.toFixed(2)} ms`);
  console.log(`trace list, errors only:            ${errors.ms.toFixed(2)} ms`);
  console.log(`trace list, route + min duration:   ${route.ms.toFixed(2)} ms`);
  console.log(`one trace (${one.result.spans.length} spans + logs):        ${one.ms.toFixed(2)} ms`);
  console.log(`GET /api/traces?limit=100 (HTTP):   ${apiList[12].toFixed(2)} ms`);
  await viewer.close();
  if (path) rmSync(path, { force: true });
}

if (isMainThread) await main();
else await send(workerData);
