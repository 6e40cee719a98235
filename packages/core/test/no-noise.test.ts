/**
 * No noise, in a real process under `--import @obs/register` with the real PostgreSQL and MariaDB, a
 * real OTLP receiver and a real Sentry ingest (issue 17):
 * - @obs's own requests (OTLP exports, Sentry envelopes, a readiness check's fetch) are neither
 *   traced nor measured: no `http_client_request_duration` series for the collector, the ingest or
 *   the checked dependency, while the app's own outgoing call is measured. (Without the fix the
 *   envelopes and the check's fetch were measured here; the OTLP exporter's requests only in some
 *   load orders: it takes `request` from `import('http')` once, at its first export.)
 * - database operations outside any span (a poller) make no root trace by default but are measured,
 *   and make root traces with `OBS_ROOT_CLIENT_SPANS=true`; queries in a request are traced either way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  freePort,
  type OtlpReceiver,
  type ReceivedSpan,
  type SentryIngest,
  startOtlpReceiver,
  startSentryIngest,
} from '@obs/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const CORE = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;
const REGISTER = pathToFileURL(fileURLToPath(new URL('../../register/dist/index.js', import.meta.url))).href;
const CLIENT = 3;
const SERVER = 2;

let child: ChildProcess | undefined;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  child?.kill('SIGKILL');
  child = undefined;
  await Promise.allSettled(closers.splice(0).map((close) => close()));
});

interface Running {
  port: number;
  upstreamPort: number;
  checkedPort: number;
  metricsPort: number;
  polls(): number;
  scrape(): Promise<string>;
}

/** Start db-poller-service.cjs exporting to `receiver` (and `ingest`), and wait for its port. */
async function startService(receiver: OtlpReceiver, ingest: SentryIngest, env: Record<string, string> = {}) {
  const metricsPort = await freePort();
  child = spawn(process.execPath, ['--import', REGISTER, 'db-poller-service.cjs'], {
    cwd: FIXTURES,
    env: {
      PATH: process.env.PATH,
      OBS_CORE_URL: CORE,
      OTEL_SERVICE_NAME: 'db-poller',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OBS_LOG_LEVEL: 'warn',
      SENTRY_DSN: ingest.dsn(),
      // this test is about noise, not deadlines: the readiness check's fetch gets time on a busy machine
      OBS_HEALTH_TIMEOUT_MS: '10000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let polls = 0;
  const started = new Promise<{ port: number; upstreamPort: number; checkedPort: number }>((resolve, reject) => {
    child?.once('exit', (code) => reject(new Error(`the service exited (${code})`)));
    let buffered = '';
    child?.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const message = JSON.parse(line) as {
          port?: number;
          upstreamPort?: number;
          checkedPort?: number;
          polls?: number;
        };
        if (message.polls !== undefined) polls = message.polls;
        if (message.port !== undefined) {
          resolve({
            port: message.port,
            upstreamPort: message.upstreamPort ?? 0,
            checkedPort: message.checkedPort ?? 0,
          });
        }
      }
    });
  });
  const { port, upstreamPort, checkedPort } = await started;
  return {
    port,
    upstreamPort,
    checkedPort,
    metricsPort,
    polls: () => polls,
    scrape: () => fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((res) => res.text()),
  } satisfies Running;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // paces the poll
  }
}

/** `http_client_request_duration_count` samples, by `server_port`. */
function clientCallsByPort(exposition: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of exposition.matchAll(/^http_client_request_duration_count\{([^}]*)\} (\d+)/gm)) {
    const port = Number(/server_port="(\d+)"/.exec(m[1] ?? '')?.[1]);
    out.set(port, (out.get(port) ?? 0) + Number(m[2]));
  }
  return out;
}

/** `db_client_operation_duration_count` of SELECTs on `system`. */
function selects(exposition: string, system: string): number {
  let total = 0;
  for (const m of exposition.matchAll(/^db_client_operation_duration_count\{([^}]*)\} (\d+)/gm)) {
    const labels = m[1] ?? '';
    if (labels.includes(`db_system_name="${system}"`) && labels.includes('db_operation_name="SELECT"')) {
      total += Number(m[2]);
    }
  }
  return total;
}

const isDbRoot = (s: ReceivedSpan) =>
  s.kind === CLIENT && !s.parentSpanId && s.attributes['db.system.name'] !== undefined;

/** Run /work, wait for its trace, and return the trace's spans. */
async function work(service: Running, receiver: OtlpReceiver): Promise<ReceivedSpan[]> {
  expect(await fetch(`http://127.0.0.1:${service.port}/work`).then((res) => res.text())).toBe('upstream');
  const [server] = await receiver.waitForSpans((s) => s.kind === SERVER && s.attributes['url.path'] === '/work');
  const traceId = server?.traceId;
  // the request's query and outgoing call, both children of its SERVER span
  await receiver.waitForSpans((s) => s.traceId === traceId && s.kind === CLIENT, 2);
  return receiver.spans.filter((s) => s.traceId === traceId);
}

describe('no noise', { timeout: 60_000 }, () => {
  it("@obs's own requests are not measured or traced; a poller's queries are measured, not traced", async () => {
    const receiver = await startOtlpReceiver();
    const ingest = await startSentryIngest();
    closers.push(
      () => receiver.close(),
      () => ingest.close(),
    );
    const service = await startService(receiver, ingest);

    await until(() => service.polls() >= 20);
    expect((await fetch(`http://127.0.0.1:${service.port}/boom`)).status).toBe(200);
    await ingest.waitForEvents(() => true, 1);
    expect((await fetch(`http://127.0.0.1:${service.port}/ready`)).status).toBe(200);
    const trace = await work(service, receiver);
    expect(trace.filter((s) => s.kind === CLIENT).map((s) => s.attributes['db.system.name'] ?? 'http')).toEqual(
      expect.arrayContaining(['postgresql', 'http']),
    );

    // the poller's queries ended before the request's spans, so they were exported by now: no root trace
    expect(receiver.spans.filter(isDbRoot)).toEqual([]);
    // ... but measured: at least the 20 polls' SELECTs on each database
    const exposition = await service.scrape();
    expect(selects(exposition, 'postgresql')).toBeGreaterThanOrEqual(20);
    expect(selects(exposition, 'mysql')).toBeGreaterThanOrEqual(20);

    // the app's call is measured; @obs's own requests to the collector and to Sentry are not
    const calls = clientCallsByPort(exposition);
    expect(receiver.requests.length).toBeGreaterThan(0);
    expect(calls.get(service.upstreamPort)).toBe(1);
    expect(calls.has(receiver.port)).toBe(false);
    expect(calls.has(ingest.port)).toBe(false);
    expect(calls.has(service.checkedPort)).toBe(false); // the readiness check's fetch
    // and no client span of the process describes them (the checked server, in the same process,
    // has SERVER spans of its own)
    const ports = receiver.spans.filter((s) => s.kind === CLIENT).map((s) => s.attributes['server.port']);
    expect(ports).not.toContain(receiver.port);
    expect(ports).not.toContain(ingest.port);
    expect(ports).not.toContain(service.checkedPort);
  });

  it('OBS_ROOT_CLIENT_SPANS=true keeps the poller queries as root traces', async () => {
    const receiver = await startOtlpReceiver();
    const ingest = await startSentryIngest();
    closers.push(
      () => receiver.close(),
      () => ingest.close(),
    );
    const service = await startService(receiver, ingest, { OBS_ROOT_CLIENT_SPANS: 'true' });
    await until(() => service.polls() >= 10);
    await work(service, receiver);
    const roots = receiver.spans.filter(isDbRoot);
    expect(new Set(roots.map((s) => s.attributes['db.system.name']))).toEqual(new Set(['postgresql', 'mysql']));
    expect(roots.filter((s) => s.attributes['db.system.name'] === 'postgresql').length).toBeGreaterThanOrEqual(10);
  });
});
