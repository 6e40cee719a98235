/**
 * Cluster-correct /metrics with the real tools: the Express reference service runs as 2 and 4
 * `node:cluster` workers under the @obs preload (the primary has no @obs code, as in an app); the primary spreads
 * connections over the workers, so each scrape reaches one of them. A real Prometheus (Debian 2.42)
 * scrapes it every 3 seconds. Every scrape must answer for the whole service: the request count
 * Prometheus stores equals the requests sent, and the counter never goes backwards (`resets()` is 0),
 * also after one worker is killed and the primary replaces it. The same under a real PM2 (npm `pm2`,
 * a devDependency of this package, run from node_modules) in cluster mode.
 */

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, rawRequest, type Service, startService } from '@obs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { requireTool, run, tempDir } from './helpers.js';
import { type Proc, sleep, startWebServer } from './processes.js';

const EXAMPLE_DIR = dirname(createRequire(import.meta.url).resolve('@obs/example-express/package.json'));
const PRIMARY = fileURLToPath(new URL('./fixtures/cluster-primary.mjs', import.meta.url));
const ROUTE = '/api/v1/users/:id';
const COUNT = `http_server_request_duration_count{http_route="${ROUTE}"}`;
const PM2 = fileURLToPath(new URL('../node_modules/.bin/pm2', import.meta.url));

let tmp: ReturnType<typeof tempDir>;
let service: Service | undefined;
const prometheusServers: Proc[] = [];

/** GET on a new connection each time, so the primary hands it to the next worker. */
const getFresh = (port: number, path: string, headers: Record<string, string> = {}) =>
  rawRequest(port, path, { headers });

/** The request count of the test route in a scrape's body (either format). */
const countIn = (body: string): number =>
  body
    .split('\n')
    .filter((l) => l.startsWith('http_server_request_duration_count{') && l.includes(ROUTE))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);

/** A Prometheus scraping `port` every second as job `job`; returns its query function. */
async function startPrometheus(job: string, port: number): Promise<(promql: string) => Promise<number | undefined>> {
  const promConfig = join(tmp.dir, `${job}.yml`);
  writeFileSync(
    promConfig,
    stringify({
      // the worker that is scraped waits up to 1 s for its peers: a busy machine needs the headroom a
      // real Prometheus has (its default scrape timeout is 10 s)
      global: { scrape_interval: '3s', scrape_timeout: '3s' },
      scrape_configs: [{ job_name: job, static_configs: [{ targets: [`127.0.0.1:${port}`] }] }],
    }),
  );
  const check = run('promtool', ['check', 'config', promConfig]);
  expect(check.code, check.stdout + check.stderr).toBe(0);
  const { proc, url: promUrl } = await startWebServer('prometheus', [
    `--config.file=${promConfig}`,
    `--storage.tsdb.path=${join(tmp.dir, `${job}-data`)}`,
    '--log.level=warn',
  ]);
  prometheusServers.push(proc);
  return async (promql) => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data: { result: { value: [number, string] }[] };
    };
    if (body.status !== 'success') throw new Error(`${promql}: ${body.error}\n${proc.output()}`);
    const value = body.data.result[0]?.value[1];
    return value === undefined ? undefined : Number(value);
  };
}

/** Waits until Prometheus' latest sample of the request count is `expected` (it never exceeds it). */
async function waitForCount(query: (promql: string) => Promise<number | undefined>, expected: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last: number | undefined;
  while (Date.now() < deadline) {
    last = await query(`sum(${COUNT})`);
    if (last === expected) return;
    await sleep(250); // paces the poll
  }
  throw new Error(`Prometheus count ${last}, expected ${expected}`);
}

/**
 * The scenario both process managers go through: 40 requests, every scrape answers 40; one worker
 * killed and replaced; 20 more; Prometheus stores 60 and no counter reset.
 */
async function proveClusterMetrics(options: {
  job: string;
  workers: number;
  port: number;
  /** The standalone server's port (OTEL_EXPORTER_PROMETHEUS_PORT), which the workers share. */
  standalonePort?: number;
  workerPids: () => Promise<number[]>;
  waitForReplacement: (victim: number) => Promise<void>;
}): Promise<void> {
  const { job, port } = options;
  const query = await startPrometheus(job, port);
  for (let i = 0; i < 40; i++) expect((await getFresh(port, `/api/v1/users/${(i % 5) + 1}`)).status).toBe(200);
  // whichever worker answers, /metrics has all 40
  for (let i = 0; i < 4; i++) expect(countIn((await getFresh(port, '/metrics')).body)).toBe(40);
  // and so does the standalone server, in the format the scraper asks for
  for (let i = 0; options.standalonePort !== undefined && i < 2 * options.workers; i++) {
    const openMetrics = i % 2 === 0;
    const scrape = await getFresh(
      options.standalonePort,
      '/metrics',
      openMetrics ? { accept: 'application/openmetrics-text;version=1.0.0,text/plain;q=0.5' } : {},
    );
    expect(scrape.headers['content-type']).toContain(openMetrics ? 'application/openmetrics-text' : 'version=0.0.4');
    expect(countIn(scrape.body)).toBe(40);
  }
  await waitForCount(query, 40);
  // every worker reports (its gauges, told apart by process_pid)
  expect(await query(`count(count by (process_pid) (nodejs_eventloop_utilization{job="${job}"}))`)).toBe(
    options.workers,
  );

  // kill one worker; the manager starts a replacement, which starts from zero
  const [victim] = await options.workerPids();
  process.kill(victim as number, 'SIGKILL');
  await options.waitForReplacement(victim as number);
  for (let i = 0; i < 20; i++) expect((await getFresh(port, `/api/v1/users/${(i % 5) + 1}`)).status).toBe(200);
  await waitForCount(query, 60);
  // three more scrapes, answered by either worker
  const scrapes = async () => (await query(`count_over_time(up{job="${job}"}[1h])`)) ?? 0;
  const seen = await scrapes();
  for (const deadline = Date.now() + 60_000; (await scrapes()) < seen + 3; ) {
    if (Date.now() > deadline) throw new Error('Prometheus scraped no more');
    await sleep(250); // paces the poll
  }
  expect(await query(`sum(${COUNT})`)).toBe(60);
  // the stored counter never went backwards: no reset for rate() to misread
  expect(await query(`sum(resets(${COUNT}[10m]))`)).toBe(0);
}

const onlineWorkers = () =>
  (service as Service)
    .logs()
    .filter((l) => l.msg === 'worker online')
    .map((l) => l.worker_pid as number);

beforeAll(() => {
  requireTool('prometheus');
  tmp = tempDir('obs-cluster-');
});

afterAll(async () => {
  for (const proc of prometheusServers) await proc.stop();
  await service?.stop().catch(() => service?.child.kill('SIGKILL'));
  tmp?.remove();
});

describe('cluster-correct /metrics scraped by a real Prometheus', () => {
  it.each([2, 4])(
    'node:cluster, %i workers: every scrape answers for the service, also after a worker is killed and replaced',
    async (workers) => {
      await service?.stop().catch(() => service?.child.kill('SIGKILL'));
      const standalonePort = await freePort();
      service = await startService({
        entry: PRIMARY,
        cwd: EXAMPLE_DIR,
        env: {
          APP_ENTRY: join(EXAMPLE_DIR, 'src/server.js'),
          WORKERS: String(workers),
          OTEL_SERVICE_NAME: `cluster-${process.pid}-${workers}`,
          OTEL_TRACES_EXPORTER: 'none',
          OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
          OTEL_EXPORTER_PROMETHEUS_PORT: String(standalonePort),
        },
      });
      const s = service;
      // every worker's server listens (the primary hands connections only to those)
      const listening = () =>
        new Set(
          s
            .logs()
            .filter((l) => l.msg === 'listening')
            .map((l) => l.pid),
        ).size;
      await s.waitForLog(() => listening() >= workers, 30_000);
      await proveClusterMetrics({
        job: `cluster-${workers}`,
        workers,
        port: s.port,
        standalonePort,
        workerPids: async () => onlineWorkers(),
        waitForReplacement: async () => {
          await s.waitForLog(() => listening() >= workers + 1, 30_000);
        },
      });
      // both workers served requests: one worker's numbers alone would have been short
      const servedBy = new Set(
        s
          .logs()
          .filter((l) => l.msg === 'request completed')
          .map((l) => l.pid),
      );
      expect(servedBy.size).toBeGreaterThanOrEqual(2);
      // the workers share the standalone port through the primary: no clash
      expect(s.stderr()).not.toContain('could not listen');
    },
    150_000,
  );

  it('PM2 cluster mode (pm2 start -i 2): the same, with PM2 replacing the killed worker', async () => {
    const pm2Home = join(tmp.dir, 'pm2');
    const port = await freePort();
    const name = `obs-pm2-${process.pid}`;
    const pm2 = (...args: string[]) => {
      const res = spawnSync(PM2, args, {
        cwd: EXAMPLE_DIR,
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          HOME: tmp.dir,
          PM2_HOME: pm2Home,
          PORT: String(port),
          OTEL_SERVICE_NAME: name,
          OTEL_TRACES_EXPORTER: 'none',
        },
      });
      if (res.status !== 0) throw new Error(`pm2 ${args.join(' ')}: ${res.stdout}${res.stderr}`);
      return res.stdout;
    };
    const online = (): number[] =>
      (JSON.parse(pm2('jlist')) as { name: string; pid: number; pm2_env: { status: string } }[])
        .filter((p) => p.name === name && p.pm2_env.status === 'online' && p.pid > 0)
        .map((p) => p.pid);
    const until = async (what: string, ok: () => boolean) => {
      const deadline = Date.now() + 30_000;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`${what}: not within 30 s\n${pm2('jlist')}`);
        await sleep(250); // paces the poll
      }
    };
    const untilAsync = async (what: string, ok: () => Promise<boolean>) => {
      const deadline = Date.now() + 30_000;
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`${what}: not within 30 s\n${pm2('jlist')}`);
        await sleep(250); // paces the poll
      }
    };
    /** Whether /metrics has a series of every online worker (labelled with its `process_pid`). */
    const reporting = async () => {
      const pids = online();
      const body = (await getFresh(port, '/metrics').catch(() => ({ body: '' }))).body;
      return pids.length === 2 && pids.every((pid) => body.includes(`process_pid="${pid}"`));
    };
    try {
      pm2('start', 'src/server.js', '-i', '2', '--name', name, '--node-args=--import @obs/register');
      await until('2 workers online and ready', () => online().length === 2);
      const deadline = Date.now() + 30_000;
      while ((await getFresh(port, '/health/ready').catch(() => ({ status: 0 }))).status !== 200) {
        if (Date.now() > deadline) throw new Error('PM2 app not ready');
        await sleep(250); // paces the poll
      }
      // both workers serve: the one answering /metrics has every online worker's series in it
      await untilAsync('every worker in /metrics', reporting);
      await proveClusterMetrics({
        job: 'pm2',
        workers: 2,
        port,
        workerPids: async () => online(),
        waitForReplacement: async (victim) => {
          await until('a replacement worker', () => online().length === 2 && !online().includes(victim));
          await untilAsync('the replacement in /metrics', reporting);
        },
      });
    } finally {
      pm2('kill');
    }
  }, 150_000);
});
