/**
 * OpenMetrics with exemplars, end to end: the Express reference service runs under the @obs preload and
 * sends its spans to the testkit's OTLP receiver; a real Prometheus (Debian 2.42, exemplar storage on)
 * scrapes its /metrics, asking for OpenMetrics as Prometheus always does. Prometheus must ingest the
 * exposition (the counts equal the requests sent) and store exemplars whose trace and span ids are the
 * SERVER spans the receiver got, on the bucket the span's duration falls in.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { METRICS } from '@obs/core';
import { type OtlpReceiver, runNode, type Service, startOtlpReceiver, startService } from '@obs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { requireTool, run, tempDir } from './helpers.js';
import { type Proc, sleep, startWebServer } from './processes.js';

const EXAMPLE_DIR = dirname(createRequire(import.meta.url).resolve('@obs/example-express/package.json'));
const ROUTE = '/api/v1/users/:id';
const REQUESTS = 30;

let tmp: ReturnType<typeof tempDir>;
let receiver: OtlpReceiver;
let service: Service | undefined;
let prometheus: Proc | undefined;
let promUrl = '';

interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${promUrl}${path}`);
  const body = (await res.json()) as { status: string; error?: string; data: T };
  if (body.status !== 'success') throw new Error(`${path}: ${body.error}`);
  return body.data;
}

/** Polls `fn` until it returns a value (not undefined), or throws after `timeoutMs`. */
async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${prometheus?.output() ?? ''}`);
    await sleep(250);
  }
}

beforeAll(async () => {
  requireTool('prometheus');
  tmp = tempDir('obs-exemplars-');
  receiver = await startOtlpReceiver();
  service = await startService({
    entry: 'src/server.js',
    cwd: EXAMPLE_DIR,
    env: {
      OTEL_SERVICE_NAME: 'express-reference',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
  const promConfig = join(tmp.dir, 'prometheus.yml');
  writeFileSync(
    promConfig,
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s' },
      scrape_configs: [{ job_name: 'exemplars', static_configs: [{ targets: [`127.0.0.1:${service.port}`] }] }],
    }),
  );
  const check = run('promtool', ['check', 'config', promConfig]);
  expect(check.code, check.stdout + check.stderr).toBe(0);
  const server = await startWebServer('prometheus', [
    `--config.file=${promConfig}`,
    `--storage.tsdb.path=${join(tmp.dir, 'prometheus-data')}`,
    '--enable-feature=exemplar-storage',
    '--log.level=warn',
  ]);
  prometheus = server.proc;
  promUrl = server.url;
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await service?.stop().catch(() => service?.child.kill('SIGKILL'));
  await receiver?.close();
  tmp?.remove();
});

describe('OpenMetrics exemplars in a real Prometheus', () => {
  it('serves OpenMetrics to an OpenMetrics Accept header and the text format 0.0.4 otherwise', async () => {
    const s = service as Service;
    const om = await s.fetch('/metrics', { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(om.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect((await om.text()).endsWith('# EOF\n')).toBe(true);
    const text = await s.fetch('/metrics');
    expect(text.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const lint = run('promtool', ['check', 'metrics'], { input: await text.text() });
    expect(lint.code, lint.stdout + lint.stderr).toBe(0);
  });

  it('ingests the counts and stores exemplars that are the SERVER spans the collector got', async () => {
    const s = service as Service;
    for (let i = 0; i < REQUESTS; i++) {
      const res = await s.fetch(`/api/v1/users/${(i % 5) + 1}`);
      await res.arrayBuffer();
    }
    const count = `http_server_request_duration_count{http_route="${ROUTE}"}`;
    const counted = await eventually('the requests counted in Prometheus', async () => {
      const result = await api<{ result: { value: [number, string] }[] }>(
        `/api/v1/query?query=${encodeURIComponent(`sum(${count})`)}`,
      );
      const value = Number(result.result[0]?.value[1] ?? 0);
      return value >= REQUESTS ? value : undefined;
    });
    expect(counted).toBe(REQUESTS);

    const end = Date.now() / 1000 + 60;
    const selector = encodeURIComponent(`http_server_request_duration_bucket{http_route="${ROUTE}"}`);
    const series = await eventually('exemplars in Prometheus', async () => {
      const data = await api<ExemplarSeries[]>(`/api/v1/query_exemplars?query=${selector}&start=0&end=${end}`);
      return data.length > 0 ? data : undefined;
    });
    const exemplars = series.flatMap((s) => s.exemplars.map((e) => ({ ...e, le: s.seriesLabels.le as string })));
    expect(exemplars.length).toBeGreaterThan(0);
    const servers = await receiver.waitForSpans(
      (span) => span.kind === 2 && span.attributes['http.route'] === ROUTE,
      REQUESTS,
    );
    for (const exemplar of exemplars) {
      const span = servers.find((sp) => sp.traceId === exemplar.labels.trace_id);
      expect(span, `exemplar trace ${exemplar.labels.trace_id} among the received SERVER spans`).toBeDefined();
      expect(span?.spanId).toBe(exemplar.labels.span_id);
      // the exemplar's value is its span's duration (one interval measures both), within the bucket
      // it is attached to
      const value = Number(exemplar.value);
      expect(value).toBeLessThanOrEqual(exemplar.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(exemplar.le));
      expect(Math.abs(value - (span?.durationMs ?? 0) / 1000)).toBeLessThan(1e-6);
    }
  }, 90_000);
});

/** Outgoing calls under the preload: one answered by http.get, one by fetch, one refused (no response). */
const CLIENT_SCRIPT = `
import http from 'node:http';
import { getObs } from '@obs/core';
const server = http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  const refused = http.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => refused.once('listening', r));
  const closedPort = refused.address().port;
  await new Promise((r) => refused.close(r));
  const ids = await getObs().withSpan('calls', async (span) => {
    await (await fetch('http://127.0.0.1:' + port + '/a')).text();
    await new Promise((r) => http.get('http://127.0.0.1:' + port + '/b', (res) => { res.resume(); res.on('end', r); }));
    await new Promise((r) => http.get('http://127.0.0.1:' + closedPort + '/c').on('error', r));
    return span.spanContext();
  });
  const { body } = await getObs().metrics.render('application/openmetrics-text');
  console.log(JSON.stringify({ traceId: ids.traceId, port, closedPort, body }));
  server.close();
});
`;

describe('http.client.request.duration', () => {
  it("is recorded for http and fetch calls with the labels METRICS names, and its buckets carry the caller's trace", async () => {
    const run = await runNode(['--import', '@obs/register', '--input-type=module', '-e', CLIENT_SCRIPT], {
      cwd: fileURLToPath(new URL('..', import.meta.url)), // @obs/cli, which depends on @obs/core and @obs/register
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_LOGS_EXPORTER: 'none', OBS_LOG_LEVEL: 'silent' },
    });
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').pop() as string) as {
      traceId: string;
      port: number;
      closedPort: number;
      body: string;
    };
    const def = METRICS.httpClientRequestDuration;
    const counts = out.body.split('\n').filter((line) => line.startsWith(`${def.prometheus}_count{`));
    const labelsOf = (line: string) => new Set([...line.matchAll(/([a-z_]+)="/g)].map((m) => m[1]));
    const answered = counts.filter((line) => line.includes(`server_port="${out.port}"`));
    expect(
      answered.map((line) => line.includes('otel_scope_name="@opentelemetry/instrumentation-undici"')).sort(),
    ).toEqual([false, true]);
    for (const line of answered) {
      for (const label of ['http_request_method', 'server_address', 'server_port', 'http_response_status_code']) {
        expect(labelsOf(line), `${label} in ${line}`).toContain(label);
      }
    }
    const refused = counts.filter((line) => line.includes(`server_port="${out.closedPort}"`));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatch(/error_type="\w+"/); // instrumentation-http writes the error's class: "Error"
    expect(refused[0]).not.toContain('http_response_status_code');
    // every label the exporter wrote is one the definition lists (plus the scope and url_scheme of undici)
    for (const line of counts) {
      for (const label of labelsOf(line)) {
        expect([...def.labels, 'otel_scope_name', 'otel_scope_version', 'url_scheme']).toContain(label);
      }
    }
    const exemplarTraces = [
      ...out.body.matchAll(new RegExp(`^${def.prometheus}_bucket\\{.* # \\{trace_id="(\\w+)"`, 'gm')),
    ].map((m) => m[1]);
    expect(exemplarTraces.length).toBeGreaterThanOrEqual(3);
    expect(new Set(exemplarTraces)).toEqual(new Set([out.traceId]));
  });
});
