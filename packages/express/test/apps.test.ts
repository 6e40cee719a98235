/**
 * The same behaviour from an ES module app and a CommonJS app, each started with
 * `node --import @obs/register`: nested route templates, correlation of the app's own pino logger,
 * redaction of secrets written to the log, client aborts, streamed responses, SIGTERM flush and exit,
 * OTLP log export, a disabled SDK and a collector that is down.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type OtlpReceiver, runNode, type Service, startOtlpReceiver, startService } from '@obs/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));

/** Resolves once `check()` holds, polling every 25 ms; rejects after `timeoutMs`. */
async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25)); // paces the poll
  }
}

describe.each([
  ['ESM', 'esm-app.mjs'],
  ['CJS', 'cjs-app.cjs'],
])('%s app', (_kind, entry) => {
  let receiver: OtlpReceiver;
  let service: Service;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    service = await startService({
      cwd: FIXTURES,
      entry,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'fixture' },
    });
  });
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await receiver?.close();
  });

  it('puts the full template of nested routers on spans, metrics and logs', async () => {
    const res = await service.fetch('/api/v1/tenants/acme/users/42');
    expect(await res.json()).toEqual({ id: '42', tenant: 'acme' });
    const template = '/api/v1/tenants/:tenant/users/:id';
    const line = await service.waitForLog((l) => l['url.path'] === '/api/v1/tenants/acme/users/42');
    expect(line['http.route']).toBe(template);
    await receiver.waitForSpans((s) => s.kind === 2 && s.attributes['http.route'] === template);
    const metrics = await (await service.fetch('/metrics')).text();
    expect(metrics).toContain(`http_route="${template}"`);
  });

  it("correlates the app's own pino logger with the trace and the request id", async () => {
    const res = await service.fetch('/own-logger', { headers: { 'x-request-id': `own-${entry}` } });
    expect(res.status).toBe(200);
    const line = await service.waitForLog((l) => l.msg === 'line from the app logger');
    expect(line.request_id).toBe(`own-${entry}`);
    expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
    const [span] = await receiver.waitForSpans((s) => s.kind === 2 && s.traceId === line.trace_id);
    expect(span?.spanId).toBe(line.span_id);
  });

  it('redacts secrets in headers and bodies, in any letter case and at any depth', async () => {
    const res = await service.fetch('/echo', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        Authorization: 'Bearer header-secret-1',
        Cookie: 'session=cookie-secret-2',
        'X-Api-Key': 'apikey-secret-3',
      },
      body: JSON.stringify({
        user: { email: 'a@b.c', PassWord: 'body-secret-4' },
        items: [{ token: 'array-secret-5' }, { Refresh_Token: 'array-secret-6' }],
      }),
    });
    expect(res.status).toBe(200);
    const line = await service.waitForLog((l) => l.msg === 'echo');
    const stdout = service.stdout();
    for (const secret of [
      'header-secret-1',
      'cookie-secret-2',
      'apikey-secret-3',
      'body-secret-4',
      'array-secret-5',
      'array-secret-6',
    ]) {
      expect(stdout).not.toContain(secret);
    }
    expect((line.headers as Record<string, string>).authorization).toBe('[Redacted]');
    expect((line.body as { user: Record<string, string> }).user).toEqual({ email: 'a@b.c', PassWord: '[Redacted]' });
  });

  it('logs a thrown error once at level error with its stack', async () => {
    const res = await service.fetch('/boom', { headers: { 'x-request-id': `boom-${entry}` } });
    expect(res.status).toBe(500);
    await service.waitForLog((l) => l.request_id === `boom-${entry}` && l.msg === 'request completed');
    const failures = service.logs().filter((l) => l.request_id === `boom-${entry}` && l.msg === 'request failed');
    expect(failures).toHaveLength(1);
    expect((failures[0]?.err as { stack?: string } | undefined)?.stack).toContain('fixture boom');
  });
});

describe('ESM app: streams', () => {
  let receiver: OtlpReceiver;
  let service: Service;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    service = await startService({
      cwd: FIXTURES,
      entry: 'esm-app.mjs',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
    });
  });
  afterAll(async () => {
    await service?.stop('SIGKILL');
    await receiver?.close();
  });

  it("measures a streamed response's whole duration", async () => {
    const res = await service.fetch('/stream', { headers: { 'x-request-id': 'stream-1' } });
    expect(await res.text()).toContain('chunk 4');
    const line = await service.waitForLog((l) => l.request_id === 'stream-1' && l.msg === 'request completed');
    expect(line.duration_ms as number).toBeGreaterThanOrEqual(250);
  });
});

describe('lifecycle and pipelines', () => {
  let receiver: OtlpReceiver;
  let service: Service | undefined;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterEach(async () => {
    await service?.stop('SIGKILL');
    service = undefined;
    receiver.reset();
  });
  afterAll(async () => {
    await receiver?.close();
  });

  it("lets the app's own SIGTERM handler run and decide the exit, and still flushes", async () => {
    service = await startService({
      cwd: FIXTURES,
      entry: 'esm-app.mjs',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '60000', APP_SIGTERM_HANDLER: '1' },
    });
    await service.fetch('/api/v1/tenants/t/users/1');
    const exit = await service.stop('SIGTERM');
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(service.logs().some((l) => l.msg === 'app SIGTERM handler ran')).toBe(true);
    expect(receiver.spans.filter((s) => s.kind === 2)).toHaveLength(1);
  });

  it('flushes when a script ends by itself, keeps its exit code, and starts nothing in worker threads', async () => {
    const port = await freePort();
    const { code, stdout, stderr } = await runNode(['--import', '@obs/register', 'job.mjs'], {
      cwd: FIXTURES,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '60000',
        // A worker thread that started @obs again would fail to bind this port a second time.
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      },
    });
    expect(code).toBe(3);
    expect(stdout).toContain('from the transport worker');
    const [span] = receiver.spans.filter((s) => s.name === 'nightly-job');
    expect(span).toBeDefined();
    expect(stdout).toContain(span?.traceId);
    expect(stderr).not.toMatch(/EADDRINUSE|could not listen|duplicate registration/i);
    expect(stderr.match(/already started/g)).toHaveLength(1);
  });

  it("turns on Node's compile cache before loading the SDK, unless NODE_DISABLE_COMPILE_CACHE is set", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'obs-cc-'));
    const cacheDir = async (preload: boolean, extra: Record<string, string> = {}) => {
      const script = 'console.log(require("node:module").getCompileCacheDir() ?? "none")';
      const { code, stdout } = await runNode([...(preload ? ['--import', '@obs/register'] : []), '-e', script], {
        cwd: FIXTURES,
        // os.tmpdir() follows TMPDIR: the default cache directory is <tmpdir>/node-compile-cache
        env: { TMPDIR: dir, OTEL_TRACES_EXPORTER: 'none', ...extra },
      });
      expect(code).toBe(0);
      return stdout.split('\n').find((l) => !l.startsWith('{')) ?? '';
    };
    try {
      expect(await cacheDir(false)).toBe('none');
      expect(await cacheDir(true)).toContain(join(dir, 'node-compile-cache'));
      // written at exit: the SDK's modules, compiled once
      expect(readdirSync(join(dir, 'node-compile-cache'), { recursive: true }).length).toBeGreaterThan(50);
      expect(await cacheDir(true, { NODE_DISABLE_COMPILE_CACHE: '1' })).toBe('none');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads one copy of OpenTelemetry at start-up, and no exporter, SDK part or instrumentation the process does not use', async () => {
    const { stdout: out } = await runNode(['--import', './record-loads.mjs', '--import', '@obs/register', 'job.mjs'], {
      cwd: FIXTURES,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '60000' },
    });
    const loadedAt = new Map(
      out
        .slice(out.indexOf('LOADED\n') + 7)
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('\t') as [string, string])
        .map(([url, ms]) => [url, Number(ms)] as const),
    );
    const loaded = [...loadedAt.keys()];
    const otel = loaded.filter((u) => u.includes('/@opentelemetry/'));
    expect(otel.length).toBeGreaterThan(100);
    // the instrumentations require the CommonJS builds; an ES import in @obs would load each package twice
    expect(otel.filter((u) => u.endsWith('.mjs'))).toEqual([]);
    // job.mjs's span is exported at exit, serialised by otlp-transformer in the exit listener (after
    // this list is printed): the OTLP exporter package is never loaded, at start-up or later
    expect(otel.some((u) => u.includes('/exporter-trace-otlp-proto/'))).toBe(false);
    expect(otel.filter((u) => /\/sdk-logs\/|\/exporter-logs-/.test(u))).toEqual([]);
    expect(loaded.filter((u) => u.includes('/@fastify/otel/'))).toEqual([]);
    // module-patching instrumentations load with their modules: the job loads pino, nothing else
    const instrumentations = new Set(
      otel.map((u) => /\/@opentelemetry\/(instrumentation-[a-z0-9-]+)\//.exec(u)?.[1]).filter(Boolean),
    );
    expect(instrumentations).toContain('instrumentation-pino');
    for (const unused of ['express', 'koa', 'nestjs-core', 'pg', 'mysql2', 'ioredis', 'redis', 'amqplib']) {
      expect(instrumentations).not.toContain(`instrumentation-${unused}`);
    }
    // the runtime metrics start a second after the SDK starts (or at the first scrape), so a job
    // shorter than that never loads them. A loaded machine makes the job longer, so it is timed: from
    // the undici instrumentation, which the SDK creates before it sets that timer (never if not loaded)
    const firstLoad = (part: string) =>
      Math.min(...[...loadedAt].filter(([url]) => url.includes(part)).map(([, ms]) => ms));
    const sdkStarted = firstLoad('/instrumentation-undici/');
    expect(sdkStarted).toBeLessThan(Number.POSITIVE_INFINITY);
    for (const deferred of ['/instrumentation-runtime-node/', '/instrumentation-host-metrics/']) {
      expect(firstLoad(deferred) - sdkStarted).toBeGreaterThanOrEqual(1000);
    }
  });

  it('ends on SIGTERM, running signal-exit cleanups, when the app uses signal-exit', async () => {
    service = await startService({
      cwd: FIXTURES,
      entry: 'signal-exit-app.mjs',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '60000' },
    });
    await service.fetch('/ping');
    const exit = await service.stop('SIGTERM', 5000);
    expect(exit.signal).toBe('SIGTERM');
    expect(service.logs().some((l) => l.msg === 'signal-exit cleanup ran')).toBe(true);
    expect(receiver.spans.filter((s) => s.kind === 2)).toHaveLength(1);
  });

  it('writes every line logged during shutdown before the process ends', async () => {
    service = await startService({
      cwd: FIXTURES,
      entry: 'esm-app.mjs',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, APP_SHUTDOWN_BURST: '1' },
    });
    const exit = await service.stop('SIGTERM');
    expect(exit.signal).toBe('SIGTERM');
    expect(service.logs().filter((l) => l.msg === 'shutdown burst')).toHaveLength(2000);
    expect(service.logs().some((l) => l.msg === 'LAST LINE')).toBe(true);
  });

  it('ends a finished script within the shutdown budget when the collector never answers', async () => {
    const blackHole: Server = createServer(() => {});
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
    try {
      const job = spawn(process.execPath, ['--import', '@obs/register', 'job.mjs'], {
        cwd: FIXTURES,
        env: {
          PATH: process.env.PATH,
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(blackHole.address() as { port: number }).port}`,
          OBS_SHUTDOWN_TIMEOUT_MS: '1000',
        },
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let done: number | undefined;
      let out = '';
      job.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        if (done === undefined && out.includes('job done\n')) done = performance.now();
      });
      const [code] = (await once(job, 'exit')) as [number | null];
      expect(code).toBe(3);
      expect(done).toBeDefined();
      // from the end of its work: the exit-time export's 1000 ms, with a margin for a busy machine;
      // hung, it would wait for the export's 10 s timeout or for ever
      expect(performance.now() - (done ?? 0)).toBeLessThan(4000);
    } finally {
      blackHole.close();
    }
  });

  it('redacts secrets in query strings on spans', async () => {
    service = await startService({
      cwd: FIXTURES,
      entry: 'esm-app.mjs',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' },
    });
    await service.fetch('/api/v1/tenants/t/users/1?api_key=qs-secret-1&accessToken=qs-secret-2&page=3');
    const [span] = await receiver.waitForSpans((s) => s.kind === 2);
    const query = String(span?.attributes['url.query']);
    expect(query).toContain('page=3');
    expect(query).not.toContain('qs-secret');
  });

  it('serves a standalone Prometheus port when configured, and survives that port being taken', async () => {
    const port = await freePort();
    service = await startService({
      cwd: FIXTURES,
      entry: 'esm-app.mjs',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      },
    });
    await service.fetch('/api/v1/tenants/t/users/1');
    const scrape = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(await scrape.text()).toContain('http_server_request_duration_count');
    const second = await startService({
      cwd: FIXTURES,
      entry: 'esm-app.mjs',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      },
    });
    try {
      expect((await second.fetch('/api/v1/tenants/t/users/1')).status).toBe(200);
      expect((await second.fetch('/metrics')).status).toBe(200);
      await until(() => second.stderr().includes('could not listen'));
    } finally {
      await second.stop('SIGKILL');
    }
  });

  it('exports over OTLP http/json when OTEL_EXPORTER_OTLP_PROTOCOL asks for it', async () => {
    service = await startService({
      cwd: FIXTURES,
      entry: 'esm-app.mjs',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_METRIC_EXPORT_INTERVAL: '200',
      },
    });
    await service.fetch('/api/v1/tenants/t/users/1');
    await receiver.waitForSpans((s) => s.kind === 2);
    await receiver.waitFor(() => receiver.metrics.find((m) => m.name === 'http.server.request.duration'));
    const kinds = new Set(receiver.requests.map((r) => r.contentType.split(';')[0]));
    expect(kinds).toEqual(new Set(['application/json']));
  });

  it('exports log records over OTLP with their trace and span ids when OTEL_LOGS_EXPORTER=otlp', async () => {
    service = await startService({
      cwd: FIXTURES,
      entry: 'cjs-app.cjs',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_LOGS_EXPORTER: 'otlp',
        OTEL_BLRP_SCHEDULE_DELAY: '100',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      },
    });
    await service.fetch('/own-logger');
    const stdoutLine = await service.waitForLog((l) => l.msg === 'line from the app logger');
    const record = await receiver.waitFor(() => receiver.logs.find((l) => l.body === 'line from the app logger'));
    expect(record.traceId).toBe(stdoutLine.trace_id);
    expect(record.spanId).toBe(stdoutLine.span_id);
    const completed = await receiver.waitFor(() =>
      receiver.logs.find((l) => l.body === 'request completed' && l.traceId === stdoutLine.trace_id),
    );
    expect(completed.severityText).toBe('info');
  });

  it('keeps serving with OTEL_SDK_DISABLED=true: routes answer, nothing is exported', async () => {
    service = await startService({
      cwd: FIXTURES,
      entry: 'esm-app.mjs',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: 'true', OTEL_BSP_SCHEDULE_DELAY: '50' },
    });
    expect((await service.fetch('/api/v1/tenants/t/users/1')).status).toBe(200);
    expect((await service.fetch('/health/live')).status).toBe(200);
    const metrics = await service.fetch('/metrics');
    expect(metrics.status).toBe(200);
    const line = await service.waitForLog((l) => l.msg === 'request completed');
    expect(line.request_id).toBeDefined();
    // once the process has ended by SIGTERM (which flushes whatever a pipeline holds), nothing came
    expect((await service.stop('SIGTERM')).signal).toBe('SIGTERM');
    expect(receiver.requests).toHaveLength(0);
  });

  it('writes request ids but no all-zero trace ids when tracing is off (OTEL_TRACES_EXPORTER=none)', async () => {
    service = await startService({
      cwd: FIXTURES,
      entry: 'esm-app.mjs',
      env: { OTEL_TRACES_EXPORTER: 'none' },
    });
    await service.fetch('/api/v1/tenants/t/users/1', { headers: { 'x-request-id': 'untraced-1' } });
    const line = await service.waitForLog((l) => l.request_id === 'untraced-1');
    expect(line.trace_id).toBeUndefined();
    expect(line.span_id).toBeUndefined();
  });

  it('warns once about bad configuration and keeps serving', async () => {
    service = await startService({
      cwd: FIXTURES,
      entry: 'esm-app.mjs',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_TRACES_SAMPLER: 'sometimes',
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_METRIC_EXPORT_INTERVAL: '-3',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,broken, team=pay%20ments,',
      },
    });
    expect((await service.fetch('/api/v1/tenants/t/users/1')).status).toBe(200);
    const stderr = service.stderr();
    expect(stderr.match(/OTEL_TRACES_SAMPLER/g)).toHaveLength(1);
    expect(stderr).toContain('OTEL_METRIC_EXPORT_INTERVAL');
    expect(stderr).toContain('OTEL_RESOURCE_ATTRIBUTES');
    const [span] = await receiver.waitForSpans((s) => s.kind === 2);
    expect(span?.resource['deployment.environment.name']).toBe('prod');
    expect(span?.resource.team).toBe('pay ments');
  });

  it('costs only telemetry when the collector is down or never answers', async () => {
    const blackHole: Server = createServer(() => {}); // accepts connections, never answers
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
    const port = (blackHole.address() as { port: number }).port;
    try {
      for (const endpoint of ['http://127.0.0.1:9', `http://127.0.0.1:${port}`]) {
        service = await startService({
          cwd: FIXTURES,
          entry: 'esm-app.mjs',
          env: {
            OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
            OTEL_BSP_SCHEDULE_DELAY: '50',
            OTEL_EXPORTER_OTLP_TIMEOUT: '500',
            OBS_SHUTDOWN_TIMEOUT_MS: '1500',
          },
        });
        for (let i = 0; i < 20; i++) expect((await service.fetch('/api/v1/tenants/t/users/1')).status).toBe(200);
        const exit = await service.stop('SIGTERM');
        expect(exit.signal).toBe('SIGTERM');
        expect(exit.elapsedMs).toBeLessThan(2500);
        service = undefined;
      }
    } finally {
      blackHole.close();
    }
  });
});

describe("the app's own pino logger with tracing off (OTEL_TRACES_EXPORTER=none)", () => {
  let service: Service;
  beforeAll(async () => {
    service = await startService({ cwd: FIXTURES, entry: 'esm-app.mjs', env: { OTEL_TRACES_EXPORTER: 'none' } });
  });
  afterAll(async () => {
    await service?.stop('SIGKILL');
  });

  it('still carries the request id, and no trace ids', async () => {
    const res = await service.fetch('/own-logger', { headers: { 'x-request-id': 'own-untraced' } });
    expect(res.status).toBe(200);
    const line = await service.waitForLog((l) => l.msg === 'line from the app logger');
    expect(line.request_id).toBe('own-untraced');
    expect(line.trace_id).toBeUndefined();
  });
});
