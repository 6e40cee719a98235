import { HostMetricsInstrumentation } from '@opentelemetry/instrumentation-host-metrics';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';
import { METRICS, type MetricDefinition, type MetricKind, toPrometheusName } from '../src/metrics/names.js';
import { createMetricsPipeline, type MetricsPipeline } from '../src/metrics/pipeline.js';
import { sleep } from './helpers.js';

const PROMETHEUS_TYPE: Record<MetricKind, string> = {
  counter: 'counter',
  updowncounter: 'gauge',
  gauge: 'gauge',
  histogram: 'histogram',
};

let pipelines: MetricsPipeline[] = [];

/** @obs's own metrics pipeline (Prometheus reader rendering on demand, no server, no push). */
function pipeline(): MetricsPipeline {
  const config = resolveConfig({ serviceName: 'names-test' }, {});
  const p = createMetricsPipeline(config, resourceFromAttributes({ 'service.name': 'names-test' }));
  pipelines.push(p);
  return p;
}

afterEach(async () => {
  await Promise.all(pipelines.map((p) => p.shutdown()));
  pipelines = [];
});

/** `# TYPE` families and the label names seen on each family's samples. */
function parseExposition(body: string): Map<string, { type: string; labels: Set<string> }> {
  const families = new Map<string, { type: string; labels: Set<string> }>();
  for (const line of body.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.set(type[1] as string, { type: type[2] as string, labels: new Set() });
  }
  for (const line of body.split('\n')) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!sample) continue;
    const name = sample[1] as string;
    const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) family?.labels.add(m[1] as string);
  }
  return families;
}

/** Record one value with the instrument the definition describes. */
function record(p: MetricsPipeline, name: string, kind: MetricKind): void {
  const meter = p.meterProvider.getMeter('names-test');
  if (kind === 'counter') meter.createCounter(name).add(1);
  else if (kind === 'updowncounter') meter.createUpDownCounter(name).add(1);
  else if (kind === 'histogram') meter.createHistogram(name).record(0.2);
  else meter.createGauge(name).record(1);
}

describe('toPrometheusName', () => {
  it.each([
    ['http.server.request.duration', false, 'http_server_request_duration'],
    ['shop.orders.created', true, 'shop_orders_created_total'],
    ['shop.orders.created', false, 'shop_orders_created'],
    ['jobs_total', true, 'jobs_total'],
    ['jobs.total', true, 'jobs_total'],
    ['queue-depth/by.kind', false, 'queue_depth_by_kind'],
    ['a..b__c', false, 'a_b_c'],
  ])('%s (monotonic %s) -> %s', (name, monotonic, expected) => {
    expect(toPrometheusName(name, monotonic)).toBe(expected);
  });

  it('is not monotonic unless told (no _total)', () => {
    expect(toPrometheusName('shop.orders.created')).toBe('shop_orders_created');
  });

  it('matches what the Prometheus exporter renders for every instrument kind', async () => {
    const p = pipeline();
    const names = ['app.requests', 'app.queue-depth', 'app.latency', 'app.temperature', 'app.jobs_total', 'app/x.y'];
    const kinds: MetricKind[] = ['counter', 'updowncounter', 'histogram', 'gauge', 'counter', 'gauge'];
    names.forEach((name, i) => {
      record(p, name, kinds[i] as MetricKind);
    });
    const families = parseExposition((await p.render()).body);
    names.forEach((name, i) => {
      const kind = kinds[i] as MetricKind;
      const rendered = toPrometheusName(name, kind === 'counter');
      expect(families.get(rendered)?.type, `${name} as ${rendered}`).toBe(PROMETHEUS_TYPE[kind]);
    });
  });
});

describe('METRICS definitions', () => {
  const definitions = Object.entries(METRICS) as [string, MetricDefinition][];

  it('derive the Prometheus name from the instrument name, with _total only for counters', () => {
    for (const [key, def] of definitions) {
      expect(def.prometheus, key).toBe(def.name.replaceAll('.', '_') + (def.kind === 'counter' ? '_total' : ''));
      expect(def.prometheus.endsWith('_total'), key).toBe(def.kind === 'counter');
      expect(Object.isFrozen(def), key).toBe(true);
    }
    expect(METRICS.httpServerRequestDuration.prometheus).toBe('http_server_request_duration');
    expect(METRICS.processCpuTime.prometheus).toBe('process_cpu_time_total');
    expect(METRICS.processMemoryUsage.prometheus).toBe('process_memory_usage');
  });

  it('give each histogram the bucket advice of its semantic convention', () => {
    const http = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
    expect(METRICS.httpServerRequestDuration.buckets).toEqual(http);
    expect(METRICS.httpClientRequestDuration.buckets).toEqual(http);
    expect(METRICS.rpcServerCallDuration.buckets).toEqual(http);
    expect(METRICS.rpcClientCallDuration.buckets).toEqual(http);
    expect(METRICS.dbClientOperationDuration.buckets).toEqual([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]);
    expect(METRICS.messagingProcessDuration.buckets).toEqual(http);
  });

  it('are rendered under their Prometheus names by the exporter', async () => {
    const p = pipeline();
    for (const [, def] of definitions) record(p, def.name, def.kind);
    const families = parseExposition((await p.render()).body);
    for (const [key, def] of definitions) {
      expect(families.get(def.prometheus)?.type, key).toBe(PROMETHEUS_TYPE[def.kind]);
    }
  });

  it('name the metrics and labels the runtime instrumentations actually emit', async () => {
    const p = pipeline();
    // Same packages and metric groups as src/tracing/instrumentations.ts, with a fine event-loop resolution so
    // that the delay histogram has samples within the test.
    const runtime = new RuntimeNodeInstrumentation({ monitoringPrecision: 10 });
    const host = new HostMetricsInstrumentation({ metricGroups: ['process.cpu', 'process.memory'] });
    runtime.setMeterProvider(p.meterProvider);
    host.setMeterProvider(p.meterProvider);
    try {
      // provoke a few garbage collections and let the event loop turn
      let junk: number[][] = [];
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 200; i++) junk.push(new Array(5000).fill(i));
        junk = [];
        await sleep(25);
      }
      const families = parseExposition((await p.render()).body);
      for (const def of [
        METRICS.eventLoopDelayP99,
        METRICS.eventLoopUtilization,
        METRICS.heapUsed,
        METRICS.gcDuration,
        METRICS.processCpuTime,
        METRICS.processMemoryUsage,
      ]) {
        const family = families.get(def.prometheus);
        expect(family, `${def.prometheus} is rendered`).toBeDefined();
        expect(family?.type, def.prometheus).toBe(PROMETHEUS_TYPE[def.kind]);
        for (const label of def.labels) {
          expect([...(family?.labels ?? [])], `${def.prometheus} has label ${label}`).toContain(label);
        }
      }
    } finally {
      runtime.disable();
      host.disable();
    }
  });
});
