/**
 * Cluster-correct /metrics with the real tools: the Express reference service runs as 2 `node:cluster`
 * workers under the @obs preload (the primary has no @obs code, as in an app); the primary spreads
 * connections over the workers, so each scrape reaches one of them. A real Prometheus (Debian 2.42)
 * scrapes it every second. Every scrape must answer for the whole service: the request count
 * Prometheus stores equals the requests sent, and the counter never goes backwards (`resets()` is 0),
 * also after one worker is killed and the primary replaces it.
 */

import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type Service, startService } from '@obs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { requireTool, run, tempDir } from './helpers.js';
import { type Proc, sleep, startProcess, waitForHttp } from './processes.js';

const EXAMPLE_DIR = dirname(createRequire(import.meta.url).resolve('@obs/example-express/package.json'));
const PRIMARY = fileURLToPath(new URL('./fixtures/cluster-primary.mjs', import.meta.url));
const ROUTE = '/api/v1/users/:id';
const COUNT = `http_server_request_duration_count{http_route="${ROUTE}"}`;

let tmp: ReturnType<typeof tempDir>;
let service: Service | undefined;
let prometheus: Proc | undefined;
let promUrl = '';

/** GET on a new connection each time, so the primary hands it to the next worker. */
function getFresh(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: (service as Service).port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function query(promql: string): Promise<number | undefined> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data: { result: { value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
  const value = body.data.result[0]?.value[1];
  return value === undefined ? undefined : Number(value);
}

/** Waits until Prometheus' latest sample of the request count is `expected` (it never exceeds it). */
async function waitForCount(expected: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last: number | undefined;
  while (Date.now() < deadline) {
    last = await query(`sum(${COUNT})`);
    if (last === expected) return;
    await sleep(250);
  }
  throw new Error(`Prometheus count ${last}, expected ${expected}\n${prometheus?.output() ?? ''}`);
}

const workerPids = () =>
  (service as Service)
    .logs()
    .filter((l) => l.msg === 'worker online')
    .map((l) => l.worker_pid as number);

beforeAll(async () => {
  requireTool('prometheus');
  tmp = tempDir('obs-cluster-');
  service = await startService({
    entry: PRIMARY,
    cwd: EXAMPLE_DIR,
    env: {
      APP_ENTRY: join(EXAMPLE_DIR, 'src/server.js'),
      WORKERS: '2',
      OTEL_SERVICE_NAME: `cluster-${process.pid}`,
      OTEL_TRACES_EXPORTER: 'none',
    },
  });
  await service.waitForLog(() => workerPids().length >= 2, 20_000);
  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  const promConfig = join(tmp.dir, 'prometheus.yml');
  writeFileSync(
    promConfig,
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s' },
      scrape_configs: [{ job_name: 'cluster', static_configs: [{ targets: [`127.0.0.1:${service.port}`] }] }],
    }),
  );
  const check = run('promtool', ['check', 'config', promConfig]);
  expect(check.code, check.stdout + check.stderr).toBe(0);
  prometheus = startProcess('prometheus', [
    `--config.file=${promConfig}`,
    `--storage.tsdb.path=${join(tmp.dir, 'prometheus-data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
    '--log.level=warn',
  ]);
  await waitForHttp(`${promUrl}/-/ready`, prometheus);
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await service?.stop().catch(() => service?.child.kill('SIGKILL'));
  tmp?.remove();
});

describe('node:cluster, 2 workers, scraped by Prometheus', () => {
  it('answers every scrape for the whole service, also after a worker is killed and replaced', async () => {
    const s = service as Service;
    for (let i = 0; i < 40; i++) expect((await getFresh(`/api/v1/users/${(i % 5) + 1}`)).status).toBe(200);
    // both workers served requests: one worker's numbers alone would be short of 40
    const servedBy = new Set(
      s
        .logs()
        .filter((l) => l.msg === 'request completed')
        .map((l) => l.pid),
    );
    expect(servedBy.size).toBe(2);
    // whichever worker answers, /metrics has all 40
    for (let i = 0; i < 4; i++) {
      const { body } = await getFresh('/metrics');
      const counts = body
        .split('\n')
        .filter((l) => l.startsWith('http_server_request_duration_count{') && l.includes(ROUTE));
      expect(counts.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0)).toBe(40);
    }
    await waitForCount(40);

    // kill one worker; the primary forks a replacement, which starts from zero
    const [victim] = workerPids();
    process.kill(victim as number, 'SIGKILL');
    await s.waitForLog(() => workerPids().length >= 3, 20_000);
    for (let i = 0; i < 20; i++) expect((await getFresh(`/api/v1/users/${(i % 5) + 1}`)).status).toBe(200);
    await waitForCount(60);
    await sleep(3000); // a few more scrapes, answered by either worker
    expect(await query(`sum(${COUNT})`)).toBe(60);
    // the stored counter never went backwards: no reset for rate() to misread
    expect(await query(`sum(resets(${COUNT}[10m]))`)).toBe(0);
    // gauges stay per worker, told apart by process_pid
    const pids = await query('count(count by (process_pid) (nodejs_eventloop_utilization{job="cluster"}))');
    expect(pids).toBeGreaterThanOrEqual(2);
  }, 150_000);
});
