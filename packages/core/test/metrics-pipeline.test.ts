import cluster from 'node:cluster';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import http, { type Server } from 'node:http';
import { createServer } from 'node:net';
import { startOtlpReceiver } from '@obs/testkit';
import { DiagLogLevel, diag, metrics } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';
import { captureDiagnostics } from '../src/diag.js';
import { resetDrops } from '../src/export-health.js';
import { runtimeDirectory } from '../src/metrics/cluster.js';
import { instruments } from '../src/metrics/instruments.js';
import { createMetricsPipeline, type MetricsPipeline, PROMETHEUS_CONTENT_TYPE } from '../src/metrics/pipeline.js';

describe('the standalone Prometheus server', () => {
  let cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.reverse()) await fn();
    cleanup = [];
  });

  it('that cannot listen costs one line naming OTEL_EXPORTER_PROMETHEUS_HOST and _PORT (issue 15, item 9)', async () => {
    const busy = createServer();
    busy.listen(0, '127.0.0.1');
    await once(busy, 'listening');
    cleanup.push(() => new Promise<void>((r) => busy.close(() => r())));
    const port = (busy.address() as { port: number }).port;

    const lines: string[] = [];
    const restore = captureDiagnostics(lines);
    cleanup.push(restore);
    // what the SDK's own diagnostics would print next to ours (the preload installs such a logger)
    diag.setLogger(
      {
        error: (m) => lines.push(`@obs error: opentelemetry: ${m}`),
        warn: (m) => lines.push(`@obs warn: opentelemetry: ${m}`),
        info: () => {},
        debug: () => {},
        verbose: () => {},
      },
      DiagLogLevel.WARN,
    );
    cleanup.push(() => diag.disable());

    const config = resolveConfig(
      {},
      { OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: String(port) },
    );
    const pipeline = createMetricsPipeline(config, resourceFromAttributes({}));
    cleanup.push(() => pipeline.shutdown());
    await expect.poll(() => lines.some((l) => l.includes('could not listen')), { timeout: 10_000 }).toBe(true);
    expect(lines).toEqual([
      `@obs warn: the standalone Prometheus server could not listen on 127.0.0.1:${port} (OTEL_EXPORTER_PROMETHEUS_HOST, OTEL_EXPORTER_PROMETHEUS_PORT): EADDRINUSE; /metrics routes on the app's port still work`,
    ]);
  });

  it('answers GET /metrics as the app-port routes do: OpenMetrics when the scraper asks for it, else 0.0.4', async () => {
    const free = createServer();
    free.listen(0, '127.0.0.1');
    await once(free, 'listening');
    const port = (free.address() as { port: number }).port;
    await new Promise<void>((r) => free.close(() => r()));
    const config = resolveConfig(
      {},
      { OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: String(port) },
    );
    const pipeline = createMetricsPipeline(config, resourceFromAttributes({ 'service.name': 'standalone' }));
    cleanup.push(() => pipeline.shutdown());
    pipeline.meterProvider.getMeter('test').createCounter('jobs.done').add(3);
    const scrape = async (path: string, accept?: string) => {
      for (;;) {
        try {
          return await fetch(`http://127.0.0.1:${port}${path}`, { headers: accept ? { accept } : {} });
        } catch {
          await new Promise((resolve) => setImmediate(resolve)); // not listening yet
        }
      }
    };
    const openMetrics = await scrape('/metrics', 'application/openmetrics-text;version=1.0.0,text/plain;q=0.5');
    expect(openMetrics.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const om = await openMetrics.text();
    expect(om).toContain('jobs_done_total{otel_scope_name="test"} 3');
    expect(om.endsWith('# EOF\n')).toBe(true);
    const text = await scrape('/metrics');
    expect(text.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const body = await text.text();
    expect(body).toContain('jobs_done_total{otel_scope_name="test"} 3');
    expect(body).not.toContain('# EOF');
    expect((await scrape('/other')).status).toBe(404);
  });
});

describe('obs.metrics: the application instruments', () => {
  let pipeline: ReturnType<typeof createMetricsPipeline> | undefined;
  afterEach(async () => {
    metrics.disable();
    await pipeline?.shutdown();
    pipeline = undefined;
  });
  const start = () => {
    pipeline = createMetricsPipeline(
      resolveConfig({}, { OTEL_SERVICE_NAME: 'instruments-test' }),
      resourceFromAttributes({ 'service.name': 'instruments-test' }),
    );
    metrics.setGlobalMeterProvider(pipeline.meterProvider);
    return pipeline;
  };

  it('records counters, up-down counters, histograms and gauges with their labels, units and descriptions', async () => {
    const p = start();
    const orders = instruments.counter('shop.orders.created', {
      description: 'Orders placed',
      unit: '{order}',
      labels: ['payment.method'],
    });
    orders.add(2, { 'payment.method': 'card' });
    orders.add(1, { 'payment.method': 'cash' });
    orders.add(1, { 'payment.method': 'card' });
    const inFlight = instruments.upDownCounter('shop.jobs.active', { description: 'Jobs running' });
    inFlight.add(3);
    inFlight.add(-1);
    const duration = instruments.histogram('shop.job.duration', {
      description: 'Job duration',
      unit: 's',
      buckets: [0.1, 1],
      labels: ['job'],
    });
    duration.record(0.5, { job: 'resize' });
    duration.record(0.05, { job: 'resize' });
    const queue = instruments.gauge('shop.queue.depth', { description: 'Queue depth', unit: '{item}' });
    queue.set(5);
    queue.set(7);
    const { body } = await p.render();
    const scope = 'otel_scope_name="@obs/app"';
    const lines = body.split('\n').filter((l) => l.startsWith('shop_') || /^# \w+ shop_/.test(l));
    expect(lines).toEqual([
      '# HELP shop_orders_created_total Orders placed',
      '# UNIT shop_orders_created_total {order}',
      '# TYPE shop_orders_created_total counter',
      `shop_orders_created_total{payment_method="card",${scope}} 3`,
      `shop_orders_created_total{payment_method="cash",${scope}} 1`,
      '# HELP shop_jobs_active Jobs running',
      '# TYPE shop_jobs_active gauge',
      `shop_jobs_active{${scope}} 2`,
      '# HELP shop_job_duration Job duration',
      '# UNIT shop_job_duration s',
      '# TYPE shop_job_duration histogram',
      `shop_job_duration_count{job="resize",${scope}} 2`,
      `shop_job_duration_sum{job="resize",${scope}} 0.55`,
      `shop_job_duration_bucket{job="resize",${scope},le="0.1"} 1`,
      `shop_job_duration_bucket{job="resize",${scope},le="1"} 2`,
      `shop_job_duration_bucket{job="resize",${scope},le="+Inf"} 2`,
      '# HELP shop_queue_depth Queue depth',
      '# UNIT shop_queue_depth {item}',
      '# TYPE shop_queue_depth gauge',
      `shop_queue_depth{${scope}} 7`,
    ]);
  });

  it('records nothing under a name OpenTelemetry refuses, with a warning naming it', async () => {
    const p = start();
    const lines: string[] = [];
    const restore = captureDiagnostics(lines);
    try {
      const longest = `a${'b'.repeat(254)}`;
      const refused = ['1orders', 'orders total', 'orders:total', `${longest}c`, '', 'ok\nbad', '_x', 'é'];
      // each kind once or more; diagnostics are written once per text
      refused.forEach((name, i) => {
        if (i % 4 === 0) instruments.counter(name).add(1);
        if (i % 4 === 1) instruments.upDownCounter(name).add(1);
        if (i % 4 === 2) instruments.histogram(name).record(1);
        if (i % 4 === 3) instruments.gauge(name).set(1);
      });
      expect(lines).toEqual(
        refused.map(
          (name) =>
            `@obs warn: metric name ${JSON.stringify(name)} is not a valid OpenTelemetry instrument name; not recording it`,
        ),
      );
      lines.length = 0;
      for (const name of ['Z', 'a.b_c/d-e9', longest]) instruments.counter(name).add(1);
      instruments.histogram('default.buckets').record(3); // no buckets given: the SDK's (0, 5, 10, ...)
      expect(lines).toEqual([]);
      const { body } = await p.render();
      expect(body).not.toMatch(/^(1orders|orders_total|orders:total|ok)\b/m);
      expect(body).toContain('\nZ_total{otel_scope_name="@obs/app"} 1\n');
      expect(body).toContain('\na_b_c_d_e9_total{otel_scope_name="@obs/app"} 1\n');
      expect(body).toContain(`\n${longest}_total{otel_scope_name="@obs/app"} 1\n`);
      expect(body).toContain('\ndefault_buckets_bucket{otel_scope_name="@obs/app",le="0"} 0\n');
      expect(body).toContain('\ndefault_buckets_bucket{otel_scope_name="@obs/app",le="5"} 1\n');
    } finally {
      restore();
    }
  });
});

describe('the standalone Prometheus server: paths, methods, lifetime', () => {
  let cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.reverse()) await fn();
    cleanup = [];
    vi.restoreAllMocks();
  });

  /** A closed server's handle is released in the loop's close phase, after 'close': two turns later it is gone. */
  async function handlesReleased(): Promise<void> {
    for (let turn = 0; turn < 2; turn++) await new Promise((r) => setImmediate(r));
  }

  /** A pipeline whose standalone server listens on a free port; resolves once it answers. */
  async function standalone(listening = true): Promise<{ pipeline: MetricsPipeline; url: string; server: Server }> {
    const listen = vi.spyOn(http.Server.prototype, 'listen');
    const free = createServer();
    free.listen(0, '127.0.0.1');
    await once(free, 'listening');
    const port = (free.address() as { port: number }).port;
    await new Promise<void>((r) => free.close(() => r()));
    await handlesReleased();
    const config = resolveConfig(
      {},
      { OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: String(port) },
    );
    const pipeline = createMetricsPipeline(config, resourceFromAttributes({ 'service.name': 'standalone' }));
    cleanup.push(() => pipeline.shutdown());
    expect(listen).toHaveBeenCalledTimes(1);
    const server = listen.mock.contexts[0] as Server;
    if (listening && !server.listening) await once(server, 'listening');
    return { pipeline, url: `http://127.0.0.1:${port}`, server };
  }

  it('answers /metrics with a query string, and HEAD, and 404 to other methods', async () => {
    const { pipeline, url } = await standalone();
    pipeline.meterProvider.getMeter('test').createCounter('jobs.done').add(3);
    const query = await fetch(`${url}/metrics?name[]=jobs_done_total`);
    expect(query.status).toBe(200);
    expect(await query.text()).toContain('jobs_done_total{otel_scope_name="test"} 3');
    const head = await fetch(`${url}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    expect((await fetch(`${url}/metrics`, { method: 'POST' })).status).toBe(404);
  });

  it('does not keep the process alive, and stops listening at shutdown', async () => {
    const servers = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    await handlesReleased(); // the servers of the tests before
    const before = servers();
    const { pipeline, server } = await standalone();
    expect(servers()).toBe(before);
    await pipeline.shutdown();
    expect(server.listening).toBe(false);
  });

  it('in a node:cluster primary, closes when the first worker is forked', async () => {
    const { server } = await standalone();
    const closed = once(server, 'close');
    cluster.emit('fork', {});
    await closed;
    expect(server.listening).toBe(false);
  });

  it('in a node:cluster primary, closes once it listens when a worker is forked before', async () => {
    const { server } = await standalone(false);
    expect(server.listening).toBe(false);
    let listened = false;
    server.once('listening', () => {
      listened = true;
    });
    const closed = once(server, 'close');
    cluster.emit('fork', {});
    await closed;
    expect(listened).toBe(true);
    expect(server.listening).toBe(false);
  });

  it('without OTEL_EXPORTER_PROMETHEUS_PORT, no server listens (not even the exporter its own on 9464)', async () => {
    const listen = vi.spyOn(http.Server.prototype, 'listen');
    const pipeline = createMetricsPipeline(resolveConfig({}, {}), resourceFromAttributes({}));
    cleanup.push(() => pipeline.shutdown());
    await pipeline.render();
    expect(listen).not.toHaveBeenCalled();
  });
});

describe('push export (OTEL_METRICS_EXPORTER)', () => {
  let cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.reverse()) await fn();
    cleanup = [];
    vi.restoreAllMocks();
  });

  /** A pipeline pushing with `exporter` every 10 minutes (a flush delivers), waiting up to 700 s. */
  function pushing(exporter: string, env: Record<string, string> = {}): MetricsPipeline {
    const config = resolveConfig(
      {},
      {
        OTEL_METRICS_EXPORTER: exporter,
        OTEL_METRIC_EXPORT_INTERVAL: '600000',
        OTEL_METRIC_EXPORT_TIMEOUT: '700000', // longer than the interval: clamped, not refused
        ...env,
      },
    );
    const pipeline = createMetricsPipeline(config, resourceFromAttributes({ 'service.name': 'push' }));
    cleanup.push(() => pipeline.shutdown());
    return pipeline;
  }

  it('otlp: a flush delivers with the temporality asked for, and counts nothing as dropped', async () => {
    const receiver = await startOtlpReceiver();
    cleanup.push(() => receiver.close());
    resetDrops();
    const lines: string[] = [];
    cleanup.push(captureDiagnostics(lines));
    const p = pushing('otlp', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
    });
    p.meterProvider.getMeter('push').createCounter('jobs.done').add(3);
    await p.forceFlush();
    const jobs = receiver.metrics.find((m) => m.name === 'jobs.done');
    expect(jobs?.temporality).toBe('delta');
    expect(jobs?.dataPoints.map((d) => d.value)).toEqual([3]);
    expect(lines).toEqual([]);
  });

  it('otlp: the data points of a refused export are counted as dropped', async () => {
    const receiver = await startOtlpReceiver({ respondWith: 400 });
    cleanup.push(() => receiver.close());
    resetDrops();
    const lines: string[] = [];
    cleanup.push(captureDiagnostics(lines));
    const p = pushing('otlp', { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    const meter = p.meterProvider.getMeter('push');
    const jobs = meter.createCounter('jobs.done');
    jobs.add(1, { queue: 'a' });
    jobs.add(1, { queue: 'b' });
    meter.createHistogram('jobs.duration').record(0.2);
    await p.forceFlush();
    expect(receiver.requests).toHaveLength(1);
    expect(lines).toEqual([
      expect.stringContaining('telemetry dropped since start: 3 metric data points (rejected: 3)'),
    ]);
  });

  it('console: a flush prints the metrics on the console', async () => {
    const dir = vi.spyOn(console, 'dir').mockImplementation(() => {});
    const p = pushing('console');
    p.meterProvider.getMeter('push').createCounter('jobs.done').add(3);
    await p.forceFlush();
    expect(dir).toHaveBeenCalledWith(
      expect.objectContaining({ descriptor: expect.objectContaining({ name: 'jobs.done' }) }),
      expect.anything(),
    );
  });
});

describe('render', () => {
  let cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.reverse()) await fn();
    cleanup = [];
  });
  const pipelineFor = (service: string) => {
    const p = createMetricsPipeline(resolveConfig({}, { OTEL_SERVICE_NAME: service }), resourceFromAttributes({}));
    cleanup.push(() => p.shutdown());
    return p;
  };

  it('warns when the collection reports errors, and only then', async () => {
    const lines: string[] = [];
    cleanup.push(captureDiagnostics(lines));
    const p = pipelineFor('render-errors');
    const meter = p.meterProvider.getMeter('test');
    meter.createCounter('jobs.done').add(1);
    await p.render();
    expect(lines).toEqual([]);
    meter.createObservableGauge('broken.gauge').addCallback(() => {
      throw new Error('cannot read');
    });
    const { body } = await p.render();
    expect(body).toContain('jobs_done_total{otel_scope_name="test"} 1');
    expect(lines).toEqual(['@obs warn: metrics collection reported 1 error(s)']);
  });

  it('answers a comment in the negotiated format when it cannot collect', async () => {
    const p = createMetricsPipeline(resolveConfig({}, {}), resourceFromAttributes({}));
    await p.shutdown();
    expect(await p.render()).toEqual({
      contentType: PROMETHEUS_CONTENT_TYPE,
      body: '# failed to collect metrics: MetricReader is shutdown\n',
    });
    expect(await p.render('application/openmetrics-text;version=1.0.0')).toEqual({
      contentType: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
      body: '# failed to collect metrics: MetricReader is shutdown\n# EOF\n',
    });
  });

  it('in a node:cluster worker, answers for the service: gauges per worker by process_pid', async () => {
    const service = `pipeline-cluster-${process.pid}`;
    // what isClusterWorker() reads in a worker: an IPC channel (vitest's own, if it runs in a child process) and cluster.isWorker
    const send = process.send;
    process.send ??= () => true;
    cleanup.push(() => {
      process.send = send;
    });
    Object.defineProperty(cluster, 'isWorker', { value: true, configurable: true, writable: true });
    cleanup.push(() => {
      Object.defineProperty(cluster, 'isWorker', { value: false, configurable: true, writable: true });
    });
    cleanup.push(() => rmSync(runtimeDirectory(service), { recursive: true, force: true }));
    const p = pipelineFor(service);
    p.meterProvider.getMeter('test').createGauge('queue.depth').record(4);
    const { body } = await p.render();
    expect(body).toContain(`queue_depth{process_pid="${process.pid}",otel_scope_name="test"} 4`);
  });
});
