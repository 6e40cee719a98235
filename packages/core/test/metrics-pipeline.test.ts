import { once } from 'node:events';
import { createServer } from 'node:net';
import { DiagLogLevel, diag, metrics } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';
import { captureDiagnostics } from '../src/diag.js';
import { instruments } from '../src/metrics/instruments.js';
import { createMetricsPipeline } from '../src/metrics/pipeline.js';

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
