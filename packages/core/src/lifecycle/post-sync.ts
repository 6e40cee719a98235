/**
 * HTTP POSTs made synchronously, for Node's `exit` event: the main thread cannot wait for I/O there
 * (no event loop turn is left), so the requests are sent from a worker thread while the main thread
 * blocks in `Atomics.wait`, at most `timeoutMs`. The worker is created only when there is something to
 * send (~50 ms of start-up on the benchmark machines); it loads nothing but `node:http(s)`, and
 * `node:http2` for gRPC unary calls (OTLP over gRPC: a framed message, answered by `grpc-status`).
 */
import { Worker } from 'node:worker_threads';

/** One request to make at exit. */
export interface ExitRequest {
  /** `http:` or `https:` URL. */
  url: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /**
   * A gRPC unary call over HTTP/2 instead of an HTTP/1.1 POST: `url` names the method, `body` is the
   * length-prefixed message, and the TLS material (PEM) verifies the server and identifies the client.
   */
  grpc?: { ca?: Uint8Array; key?: Uint8Array; cert?: Uint8Array };
}

/** What happened to the requests of {@link postSync}. */
export interface PostSyncResult {
  /** Answered with a 2xx status. */
  delivered: number;
  /** Refused, failed, or not answered within the deadline. */
  failed: number;
  /** The deadline passed before every request was answered. */
  timedOut: boolean;
}

/** Slots of the shared array: [settled count, delivered count]. */
const SETTLED = 0;
const DELIVERED = 1;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { requests, slots, timeoutMs } = workerData;
const settle = (ok) => {
  if (ok) Atomics.add(slots, ${DELIVERED}, 1);
  Atomics.add(slots, ${SETTLED}, 1);
  Atomics.notify(slots, ${SETTLED});
};
const sendGrpc = (url, headers, body, tls, once) => {
  const target = new URL(url);
  const session = require('node:http2').connect(target.origin, tls);
  session.on('error', () => once(false));
  const req = session.request({ ...headers, ':method': 'POST', ':path': target.pathname });
  let status;
  req.setTimeout(timeoutMs, () => req.close());
  req.on('response', (h) => { status = h['grpc-status']; });
  req.on('trailers', (t) => { status = t['grpc-status']; });
  req.on('close', () => { once(status === '0'); session.close(); });
  req.on('error', () => once(false));
  req.resume();
  req.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
};
for (const { url, headers, body, grpc } of requests) {
  let done = false;
  const once = (ok) => { if (!done) { done = true; settle(ok); } };
  if (grpc) {
    try { sendGrpc(url, headers, body, grpc, once); } catch { once(false); }
    continue;
  }
  try {
    const client = require(url.startsWith('https:') ? 'node:https' : 'node:http');
    const req = client.request(url, { method: 'POST', headers: { ...headers, 'content-length': body.byteLength }, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => once(res.statusCode >= 200 && res.statusCode < 300));
      res.on('error', () => once(false));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => once(false));
    req.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  } catch {
    once(false);
  }
}
`;

/**
 * POST each request and wait for the answers, blocking the calling thread at most `timeoutMs`
 * (plus the worker's start-up when that is shorter). Never throws.
 */
export function postSync(requests: readonly ExitRequest[], timeoutMs: number): PostSyncResult {
  if (requests.length === 0) return { delivered: 0, failed: 0, timedOut: false };
  const slots = new Int32Array(new SharedArrayBuffer(8));
  const deadline = performance.now() + timeoutMs;
  try {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { requests, slots, timeoutMs },
      // no preload, no inspector flags of the app in the worker
      execArgv: [],
      env: {},
      stdout: true,
      stderr: true,
    });
    worker.unref();
  } catch {
    return { delivered: 0, failed: requests.length, timedOut: false };
  }
  for (;;) {
    const settled = Atomics.load(slots, SETTLED);
    if (settled >= requests.length) break;
    const left = deadline - performance.now();
    if (left <= 0) break;
    Atomics.wait(slots, SETTLED, settled, left);
  }
  const delivered = Atomics.load(slots, DELIVERED);
  const timedOut = Atomics.load(slots, SETTLED) < requests.length;
  return { delivered, failed: requests.length - delivered, timedOut };
}
