import { once } from 'node:events';
import { createServer } from 'node:net';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';
import { captureDiagnostics } from '../src/diag.js';
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
