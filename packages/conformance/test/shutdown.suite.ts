/**
 * Dependencies, readiness and graceful shutdown, observed from outside, on every reference service
 * started with `DATABASE_URL`, `REDIS_URL` and `AMQP_URL` pointing at the machine's PostgreSQL, Redis
 * and RabbitMQ (`.ci/services.sh` starts them):
 *
 * - readiness checks each real dependency; concurrent probes share one run per cache period;
 * - a dependency that is down (connection refused) or a black hole (accepts, never answers) makes
 *   readiness 503 within its deadline, naming the check, while the other routes keep serving;
 * - SIGTERM: readiness 503 at once while liveness stays 200; new connections are served during the
 *   shutdown delay and refused after it; a slow in-flight request completes with 200; the app's cleanup
 *   runs after it; the spans of the last requests reach the OTLP receiver; the process ends by SIGTERM
 *   within delay + drain + budget. A second signal ends it at once.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { freePort, type OtlpReceiver, type Service, startOtlpReceiver, startService, tryConnect } from '@obs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshGet, openGet } from './requests.js';
import type { Target } from './targets.js';

const SERVER = 2;
const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = 'redis://127.0.0.1:6379';
const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const DELAY_MS = 2000; // long enough that the requests made during it start in it on a busy machine
const DRAIN_TIMEOUT_MS = 4000;
const BUDGET_MS = 5000;
/** The in-flight request at SIGTERM: it ends past the delay, within the drain timeout. */
const SLOW_MS = 4000;
/** A service with real dependencies starting on a busy machine; each test starts one. */
const READY_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const traceparent = () => {
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  const traceId = hex(32);
  return { traceId, header: `00-${traceId}-${hex(16)}-01` };
};

/** The value of a series in a Prometheus exposition (first match), or 0. */
function sample(text: string, metric: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** Defines this suite for each of `targets` (a test file calls it with its share of TARGETS). */
export function describeShutdown(targets: Target[]): void {
  describe.each(targets)('$name', { timeout: TEST_TIMEOUT_MS }, (target) => {
    let receiver: OtlpReceiver;
    let blackHole: Server;
    let blackHolePort: number;
    const sockets = new Set<Socket>();
    let refusedPort: number;

    beforeAll(async () => {
      receiver = await startOtlpReceiver();
      blackHole = createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
      });
      blackHole.listen(0, '127.0.0.1');
      await once(blackHole, 'listening');
      blackHolePort = (blackHole.address() as { port: number }).port;
      refusedPort = await freePort();
    });
    afterAll(async () => {
      await receiver?.close();
      for (const socket of sockets) socket.destroy();
      blackHole?.close();
    });

    const start = (env: Record<string, string>, readyPath: string | false = '/health/ready') =>
      startService({
        cwd: target.cwd,
        entry: target.entry,
        readyPath,
        readyTimeoutMs: READY_TIMEOUT_MS,
        env: {
          ...target.env,
          OTEL_SERVICE_NAME: `shutdown-${target.name}`,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          // Batches would be exported after a minute: only the shutdown flush delivers the spans.
          OTEL_BSP_SCHEDULE_DELAY: '60000',
          ...env,
        },
      });

    it('checks the real dependencies, and shuts down gracefully on SIGTERM', async () => {
      const service: Service = await start({
        DATABASE_URL,
        REDIS_URL,
        AMQP_URL,
        OBS_SHUTDOWN_DELAY_MS: String(DELAY_MS),
        OBS_DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
        OBS_SHUTDOWN_TIMEOUT_MS: String(BUDGET_MS),
        OBS_HEALTH_CACHE_MS: '3000',
        // This test is about real dependencies passing: a deadline generous for a busy machine (the
        // next test holds readiness to the default 900 ms deadline).
        OBS_HEALTH_TIMEOUT_MS: '5000',
      });
      try {
        const ready = await service.fetch('/health/ready');
        expect(ready.status).toBe(200);
        const body = (await ready.json()) as { status: string; checks: Record<string, { status: string }> };
        expect(body.status).toBe('ok');
        expect(Object.keys(body.checks).sort()).toEqual(['postgres', 'rabbitmq', 'redis']);
        for (const check of Object.values(body.checks)) expect(check).toMatchObject({ status: 'ok', critical: true });
        expect((await service.fetch('/health/started')).status).toBe(200);

        // Many concurrent probes: at most one more run of each check within the cache period.
        const runs = async () =>
          sample(
            await (await service.fetch('/metrics')).text(),
            'health_check_duration_count',
            'health_check_name="postgres"',
          );
        const before = await runs();
        expect(before).toBeGreaterThanOrEqual(1);
        const probes = await Promise.all(Array.from({ length: 50 }, () => service.fetch('/health/ready')));
        expect(probes.map((p) => p.status)).toEqual(Array(50).fill(200));
        expect((await runs()) - before).toBeLessThanOrEqual(1);
        const metrics = await (await service.fetch('/metrics')).text();
        expect(sample(metrics, 'health_check_status', 'health_check_name="rabbitmq"')).toBe(1);

        // The last requests before the signal, one of them slow.
        const last = traceparent();
        expect((await service.fetch('/api/v1/users/5', { headers: { traceparent: last.header } })).status).toBe(200);
        const slowTrace = traceparent();
        const slowSentAt = performance.now();
        const slow = openGet(service.port, `/api/v1/slow?ms=${SLOW_MS}`, { traceparent: slowTrace.header });
        await slow.sent;
        // a request on a later connection answered: the service has read the slow one before it
        expect(await freshGet(service.port, '/health/live')).toBe(200);

        const signalledAt = performance.now();
        service.child.kill('SIGTERM');
        // Readiness fails at once (well within the delay); liveness does not.
        let readiness = 0;
        while (readiness !== 503 && performance.now() - signalledAt < DELAY_MS / 2) {
          const res = await service.fetch('/health/ready');
          readiness = res.status;
          if (readiness === 503) expect(await res.json()).toEqual({ status: 'shutting_down', checks: {} });
          else await res.arrayBuffer();
        }
        expect(readiness).toBe(503);
        expect((await service.fetch('/health/live')).status).toBe(200);
        // During the delay, new connections are still served.
        const duringAt = performance.now();
        expect(await freshGet(service.port, '/api/v1/users/6')).toBe(200);
        expect(duringAt - signalledAt).toBeLessThan(DELAY_MS - 500); // asked well within the delay
        // After it, they are refused: the listener closed (while the slow request is still in flight,
        // so not because the process ended).
        let connection = await tryConnect(service.port);
        while (connection !== 'ECONNREFUSED' && !slow.settled()) {
          await sleep(25); // paces the poll
          connection = await tryConnect(service.port);
        }
        expect(connection).toBe('ECONNREFUSED');
        expect(slow.settled()).toBe(false);
        expect(performance.now() - signalledAt).toBeGreaterThan(DELAY_MS - 100); // not before the delay ended
        // The slow request still completes.
        expect(await slow.outcome).toEqual({ status: 200, body: JSON.stringify({ waited_ms: SLOW_MS }) });

        const exit = await service.exited;
        const elapsed = performance.now() - signalledAt;
        expect(exit.signal).toBe('SIGTERM');
        // not before the slow request (which ends past the delay) has completed
        expect(performance.now() - slowSentAt).toBeGreaterThanOrEqual(SLOW_MS);
        expect(elapsed).toBeLessThan(DELAY_MS + DRAIN_TIMEOUT_MS + BUDGET_MS);

        // The spans of the last requests, flushed at shutdown.
        const servers = receiver.spans.filter((s) => s.kind === SERVER);
        for (const trace of [last, slowTrace]) {
          expect(servers.some((s) => s.traceId === trace.traceId)).toBe(true);
        }
        expect(servers.some((s) => s.attributes['url.path'] === '/api/v1/users/6')).toBe(true);

        // Cleanup (closing the clients) after the drain, never before.
        const lines = service.logs();
        const at = (predicate: (l: (typeof lines)[number]) => boolean) => lines.findIndex(predicate);
        const began = at((l) => l.msg === 'shutting down');
        const slowDone = at((l) => l.msg === 'request completed' && l.trace_id === slowTrace.traceId);
        const closing = at((l) => l.msg === 'Closing dependencies');
        expect(began).toBeGreaterThanOrEqual(0);
        expect(lines[began]).toMatchObject({ delay_ms: DELAY_MS, drain_timeout_ms: DRAIN_TIMEOUT_MS });
        expect(slowDone).toBeGreaterThan(began);
        expect(closing).toBeGreaterThan(slowDone);
      } finally {
        await service.stop('SIGKILL');
      }
    });

    it('records requests the drain timeout cuts as cut by the server: one error line each, SERVER spans in ERROR, exported', async () => {
      const service = await start({ OBS_SHUTDOWN_DELAY_MS: '0', OBS_DRAIN_TIMEOUT_MS: '1000' });
      const count = 10;
      const traces = Array.from({ length: count }, () => traceparent());
      try {
        const pending = traces.map((tp, i) =>
          openGet(service.port, '/api/v1/slow?ms=5000', { traceparent: tp.header, 'x-request-id': `cut-${i}` }),
        );
        await Promise.all(pending.map((p) => p.sent));
        // a request on a later connection answered: the service has read the slow ones before it
        expect(await freshGet(service.port, '/health/live')).toBe(200);
        service.child.kill('SIGTERM');
        const outcomes = await Promise.all(pending.map((p) => p.outcome));
        expect(outcomes).toEqual(Array(count).fill({ error: 'ECONNRESET' })); // the connection was closed
        const exit = await service.exited;
        expect(exit.signal).toBe('SIGTERM');

        const cut = service.logs().filter((l) => String(l.request_id).startsWith('cut-'));
        expect(cut).toHaveLength(count);
        for (const line of cut) {
          expect(line).toMatchObject({
            msg: 'request cut at shutdown',
            level: 'error',
            'error.type': 'server_shutdown',
          });
          expect(line.aborted).toBeUndefined();
        }
        const spans = receiver.spans.filter((s) => s.kind === SERVER && traces.some((t) => t.traceId === s.traceId));
        expect(spans).toHaveLength(count);
        for (const span of spans) {
          expect(span.status.code).toBe(2);
          expect(span.attributes['error.type']).toBe('server_shutdown');
          expect(span.attributes['http.route']).toBe('/api/v1/slow');
        }
      } finally {
        await service.stop('SIGKILL');
      }
    });

    it('answers 503 within its deadline naming a dependency down or never answering, keeps serving, and ends at once on a second signal', async () => {
      const service = await start(
        {
          DATABASE_URL: `postgres://postgres:hunter2@127.0.0.1:${blackHolePort}/test`,
          REDIS_URL: `redis://127.0.0.1:${refusedPort}`,
          AMQP_URL,
          OBS_SHUTDOWN_DELAY_MS: '10000',
          OBS_HEALTH_CACHE_MS: '0', // every probe runs the checks
        },
        '/health/live',
      );
      try {
        /** One readiness probe, and a route asked while its checks wait on the black hole. */
        const probe = async () => {
          const asked = performance.now();
          const readiness = service.fetch('/health/ready').then(async (res) => ({
            status: res.status,
            text: await res.text(),
            at: performance.now(),
          }));
          // one that needs no dependency: user reads need PostgreSQL, here the black hole
          const answered = await service.fetch('/api/v1/slow?ms=0');
          const answeredAt = performance.now();
          const answer = await readiness;
          const body = JSON.parse(answer.text) as { status: string; checks: Record<string, Record<string, unknown>> };
          return { asked, answered: answered.status, answeredAt, answer, body };
        };
        // RabbitMQ connects in the background (the app does not wait for it at start): probe until
        // readiness finds it connected. Each probe lasts the 900 ms deadline: that paces the loop.
        let last = await probe();
        for (const deadline = performance.now() + 15_000; last.body.checks.rabbitmq?.status !== 'ok'; ) {
          if (performance.now() > deadline) break;
          last = await probe();
        }
        const { asked, answeredAt, answer, body } = last;
        // While the readiness checks wait on the black hole, the app answers its routes.
        expect(last.answered).toBe(200);
        expect(answeredAt).toBeLessThan(answer.at);
        // The default 900 ms deadline, not the black hole (which never answers): generous for a busy machine.
        expect(answer.at - asked).toBeLessThan(4000);
        expect(answer.status).toBe(503);
        expect(body.status).toBe('error');
        expect(body.checks.postgres).toMatchObject({ status: 'error', error: 'timeout' });
        expect(body.checks.redis).toMatchObject({ status: 'error', error: expect.stringMatching(/^not connected/) });
        expect(body.checks.rabbitmq).toMatchObject({ status: 'ok' });
        for (const secret of ['127.0.0.1', String(blackHolePort), String(refusedPort), 'hunter2', 'postgres:']) {
          expect(answer.text).not.toContain(secret);
        }
        const metrics = await (await service.fetch('/metrics')).text();
        expect(sample(metrics, 'health_check_status', 'health_check_name="postgres"')).toBe(0);
        expect(metrics).toMatch(/health_check_status\{[^}]*health_check_name="redis"[^}]*\} 0/);

        // A second signal during the (10 s) shutdown delay ends the process at once.
        service.child.kill('SIGTERM');
        let shuttingDown = 0;
        for (const deadline = performance.now() + 5000; shuttingDown !== 503 && performance.now() < deadline; ) {
          shuttingDown = (await service.fetch('/health/ready')).status;
        }
        expect(shuttingDown).toBe(503); // shutdown has begun
        const second = performance.now();
        service.child.kill('SIGTERM');
        const exit = await service.exited;
        expect(exit.signal).toBe('SIGTERM');
        expect(performance.now() - second).toBeLessThan(6000); // not the 10 s delay: at once, on a busy machine
      } finally {
        await service.stop('SIGKILL');
      }
    });
  });
}
