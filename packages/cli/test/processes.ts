/**
 * Child processes and a local notification receiver for the end-to-end test. Everything listens on
 * 127.0.0.1 only, and every process started here is stopped by its own handle.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { freePort } from '@obs/testkit';

/** A process started by the test. */
export interface Proc {
  readonly child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves when it has exited. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Starts `program` with `args` (no shell), collecting its output. */
export function startProcess(program: string, args: readonly string[], cwd?: string): Proc {
  const child = spawn(program, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  child.on('error', (err) => {
    out += `spawn failed: ${err.message}\n`;
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  return {
    child,
    output: () => out,
    async stop(timeoutMs = 10000) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `url` until it answers 200, or throws after `timeoutMs` with the process output. */
export async function waitForHttp(url: string, proc: Proc, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`${url}: the process exited\n${proc.output()}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${timeoutMs} ms\n${proc.output()}`);
    await sleep(100);
  }
}

/** A Prometheus or Alertmanager this test started. */
export interface WebServer {
  readonly proc: Proc;
  /** `127.0.0.1:port`, as a scrape or alerting target. */
  readonly address: string;
  /** The path every route of this server is under (`--web.route-prefix`). */
  readonly prefix: string;
  /** `http://` + address + prefix: the base of its API URLs. */
  readonly url: string;
}

/**
 * Starts `prometheus` or `prometheus-alertmanager` with `args` on a port from freePort() (claimed
 * for this test, see @obs/testkit) and waits until it is ready. It runs under a route prefix of its
 * own (`--web.route-prefix=/<uuid>`), so its ready URL is answered by this server and no other.
 */
export async function startWebServer(program: string, args: readonly string[]): Promise<WebServer> {
  const address = `127.0.0.1:${await freePort()}`;
  const prefix = `/${randomUUID()}`;
  const proc = startProcess(program, [...args, `--web.listen-address=${address}`, `--web.route-prefix=${prefix}`]);
  const url = `http://${address}${prefix}`;
  await waitForHttp(`${url}/-/ready`, proc);
  return { proc, address, prefix, url };
}

/** A request the receiver got. */
export interface Received {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** A local HTTP server that accepts PagerDuty, OpsGenie and Slack notifications and records them. */
export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** Resolves with the first request (already received or to come) that matches, or rejects after `timeoutMs`. */
  waitFor(predicate: (r: Received) => boolean, timeoutMs: number): Promise<Received>;
  close(): Promise<void>;
}

/** Starts the receiver on an ephemeral port of 127.0.0.1. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      raw += c;
    });
    req.on('end', () => {
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // Slack and others may send non-JSON; keep the text.
      }
      received.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, body });
      // PagerDuty answers 202 with a JSON status, OpsGenie 202, Slack 200 "ok": all 2xx.
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', message: 'Event processed', result: 'ok' }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    async waitFor(predicate, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = received.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) {
          throw new Error(
            `no matching notification within ${timeoutMs} ms; got:\n${JSON.stringify(received, null, 1).slice(0, 4000)}`,
          );
        }
        await sleep(100);
      }
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}

/** Milliseconds of sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
