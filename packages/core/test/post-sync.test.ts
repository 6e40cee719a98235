/**
 * `postSync` (src/lifecycle/post-sync.ts) in the test process. It blocks the calling thread in
 * `Atomics.wait` until its worker has the answers, so the receiving HTTP server runs in a worker
 * thread of its own: a server on this thread could not answer while the test waits.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ExitRequest, postSync } from '../src/lifecycle/post-sync.js';

/** The workers started in this file, and whether each still holds the process open. */
const workers = vi.hoisted(() => [] as { referenced: boolean }[]);
vi.mock('node:worker_threads', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:worker_threads')>();
  class RecordedWorker extends original.Worker {
    readonly #record = { referenced: true };
    constructor(...args: ConstructorParameters<typeof original.Worker>) {
      super(...args);
      workers.push(this.#record);
    }
    override unref(): void {
      this.#record.referenced = false;
      super.unref();
    }
    override ref(): void {
      this.#record.referenced = true;
      super.ref();
    }
  }
  return { ...original, Worker: RecordedWorker };
});

/** The sink: answers `/fail` with 500, `/created` with 201, `/hang` never, anything else with 200. */
const SINK_SOURCE = `
const { parentPort } = require('node:worker_threads');
const server = require('node:http').createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const { method, url, headers } = req;
    parentPort.postMessage({ type: 'request', method, url, headers, body: Buffer.concat(chunks).toString() });
    if (url === '/hang') return;
    res.statusCode = url === '/fail' ? 500 : url === '/created' ? 201 : 200;
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ type: 'listening', port: server.address().port }));
`;

interface Received {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

let sink: Worker;
let base: string;
const received: Received[] = [];
let arrived: () => void = () => {};

beforeAll(async () => {
  sink = new Worker(SINK_SOURCE, { eval: true });
  sink.on('message', (message: { type: string; port?: number } & Received) => {
    if (message.type === 'listening') base = `http://127.0.0.1:${message.port}`;
    else {
      received.push(message);
      arrived();
    }
  });
  while (!base) await once(sink, 'message');
});
afterAll(async () => {
  await sink.terminate();
});

/** The requests the sink received, once there are `count` (their messages arrive after postSync returns). */
async function receivedRequests(count: number): Promise<Received[]> {
  while (received.length < count) await new Promise<void>((resolve) => (arrived = resolve));
  return received.splice(0);
}

function request(path: string, body = `{"to":"${path}"}`): ExitRequest {
  return {
    url: `${base}${path}`,
    headers: { 'content-type': 'application/json' },
    body: new TextEncoder().encode(body),
  };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

describe('postSync', () => {
  it('answers at once for no requests, without starting a worker', () => {
    const started = workers.length;
    expect(postSync([], 1000)).toEqual({ delivered: 0, failed: 0, timedOut: false });
    expect(workers).toHaveLength(started);
  });

  it('starts one worker, which does not hold the process open', async () => {
    const started = workers.length;
    const result = postSync([request('/ok'), request('/ok')], 20_000);
    await receivedRequests(2);
    expect(result.delivered).toBe(2);
    expect(workers.slice(started)).toEqual([{ referenced: false }]);
  });

  it('POSTs each request with its headers and body, and counts 2xx answers as delivered', async () => {
    const started = performance.now();
    const result = postSync([request('/v1/traces'), request('/created', 'second')], 20_000);
    expect(performance.now() - started).toBeLessThan(10_000); // returns on the answers, not at the deadline
    expect(result).toEqual({ delivered: 2, failed: 0, timedOut: false });
    const requests = await receivedRequests(2);
    expect(requests.map((r) => [r.method, r.url, r.body]).sort()).toEqual([
      ['POST', '/created', 'second'],
      ['POST', '/v1/traces', '{"to":"/v1/traces"}'],
    ]);
    for (const r of requests) expect(r.headers['content-type']).toBe('application/json');
    expect(requests.find((r) => r.url === '/created')?.headers['content-length']).toBe('6');
  });

  it('counts a refused request and an unreachable server as failed, without waiting for the deadline', async () => {
    const port = await closedPort();
    const started = performance.now();
    const result = postSync(
      [request('/ok'), request('/fail'), { ...request('/'), url: `http://127.0.0.1:${port}/v1/logs` }],
      20_000,
    );
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(result).toEqual({ delivered: 1, failed: 2, timedOut: false });
    expect((await receivedRequests(2)).map((r) => r.url).sort()).toEqual(['/fail', '/ok']);
  });

  it('returns at the deadline when an answer is missing, and says so', async () => {
    const result = postSync([request('/ok'), request('/hang')], 5000);
    expect(result).toEqual({ delivered: 1, failed: 1, timedOut: true });
    expect((await receivedRequests(2)).map((r) => r.url).sort()).toEqual(['/hang', '/ok']);
  });

  it('never throws: requests that cannot be handed to the worker count as failed', () => {
    const unclonable = { ...request('/ok'), headers: { 'x-callback': (() => 'no') as unknown as string } };
    expect(postSync([unclonable, request('/ok')], 1000)).toEqual({ delivered: 0, failed: 2, timedOut: false });
  });
});
