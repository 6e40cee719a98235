/** The store's queries and bounds, and the metric arithmetic, on hand-made telemetry. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReceivedLog, ReceivedMetric, ReceivedSpan } from '@obs/otlp-decode';
import { describe, expect, it } from 'vitest';
import { histogramQuantile, routeSeries } from '../src/metric-series.js';
import { TelemetryStore } from '../src/store.js';
import { hex } from './helpers.js';

const NOW = Date.now();
const ns = (ms: number) => BigInt(Math.round(ms)) * 1_000_000n;

function span(
  over: Partial<ReceivedSpan> & { traceId: string; name: string },
  service = 'api',
  startMs = NOW,
  durationMs = 10,
): ReceivedSpan {
  return {
    spanId: hex(16),
    kind: 1,
    startTimeUnixNano: ns(startMs),
    endTimeUnixNano: ns(startMs + durationMs),
    durationMs,
    attributes: {},
    status: { code: 0 },
    events: [],
    links: [],
    resource: { 'service.name': service },
    scope: { name: 't' },
    ...over,
  };
}

function log(traceId: string, attributes: Record<string, unknown>, timeMs = NOW): ReceivedLog {
  return {
    timeUnixNano: ns(timeMs),
    body: 'request completed',
    attributes,
    traceId,
    resource: { 'service.name': 'api' },
    scope: { name: 't' },
    severityNumber: 9,
  };
}

describe('TelemetryStore traces', () => {
  it('summarises a trace by its root span whatever order the spans arrive in', () => {
    const store = new TelemetryStore();
    const traceId = hex(32);
    const rootId = hex(16);
    store.insertSpans([span({ traceId, name: 'SELECT users', parentSpanId: rootId, kind: 3 }, 'db-proxy', NOW + 2, 3)]);
    expect(store.listTraces()[0]?.name).toBe('SELECT users');
    store.insertSpans([
      span(
        {
          traceId,
          spanId: rootId,
          name: 'GET /users/:id',
          kind: 2,
          attributes: { 'http.route': '/users/:id', 'http.response.status_code': 500 },
          status: { code: 2 },
        },
        'api',
        NOW,
        20,
      ),
    ]);
    expect(store.listTraces()).toEqual([
      {
        traceId,
        service: 'api',
        name: 'GET /users/:id',
        route: '/users/:id',
        httpStatus: 500,
        startMs: NOW,
        durationMs: 20,
        spanCount: 2,
        errorCount: 1,
        services: ['api', 'db-proxy'],
      },
    ]);
    expect(store.getTrace(traceId).spans.map((s) => s.name)).toEqual(['GET /users/:id', 'SELECT users']);
    store.close();
  });

  it('filters by service, route, status, duration, attribute, time and request id', () => {
    const store = new TelemetryStore();
    const [a, b, c] = [hex(32), hex(32), hex(32)];
    store.insertSpans([
      span(
        { traceId: a, name: 'GET /a', kind: 2, attributes: { 'http.route': '/a', 'user.id': 7 } },
        'api',
        NOW - 60_000,
        5,
      ),
      span({ traceId: a, name: 'charge', parentSpanId: hex(16) }, 'payments', NOW - 60_000, 2),
      span(
        { traceId: b, name: 'GET /b', kind: 2, attributes: { 'http.route': '/b' }, status: { code: 2 } },
        'api',
        NOW,
        300,
      ),
      span({ traceId: c, name: 'job', attributes: { 'user.id': 8 } }, 'worker', NOW + 1, 1),
    ]);
    store.insertLogs([log(b, { request_id: 'req-b' })]);
    const ids = (f: Parameters<TelemetryStore['listTraces']>[0]) => store.listTraces(f).map((t) => t.traceId);
    expect(ids({})).toEqual([c, b, a]);
    expect(ids({ service: 'payments' })).toEqual([a]);
    expect(ids({ route: '/b' })).toEqual([b]);
    expect(ids({ status: 'error' })).toEqual([b]);
    expect(ids({ status: 'ok' })).toEqual([c, a]);
    expect(ids({ minDurationMs: 100 })).toEqual([b]);
    expect(ids({ attribute: { key: 'user.id', value: '7' } })).toEqual([a]);
    expect(ids({ fromMs: NOW - 1000 })).toEqual([c, b]);
    expect(ids({ toMs: NOW - 1000 })).toEqual([a]);
    expect(ids({ requestId: 'req-b' })).toEqual([b]);
    expect(ids({ traceId: c.toUpperCase() })).toEqual([c]);
    expect(ids({ limit: 1 })).toEqual([c]);
    expect(ids({ limit: 1.5 })).toEqual([c]);
    expect(store.routes()).toEqual(['/a', '/b']);
    expect(store.services()).toEqual(['api', 'payments', 'worker']);
    store.close();
  });

  it('searches logs by level, text (LIKE wildcards taken literally), attribute and after an id', () => {
    const store = new TelemetryStore();
    const t = hex(32);
    store.insertLogs([
      { ...log(t, { request_id: 'r1' }), body: 'paid 100%', severityNumber: 9 },
      { ...log(t, { request_id: 'r2' }), body: 'paid 1000', severityNumber: 17 },
    ]);
    expect(store.searchLogs({ text: '100%' }).map((l) => l.body)).toEqual(['paid 100%']);
    expect(store.searchLogs({ minSeverity: 13 }).map((l) => l.body)).toEqual(['paid 1000']);
    expect(store.searchLogs({ attribute: { key: 'request_id', value: 'r1' } }).map((l) => l.requestId)).toEqual(['r1']);
    const [newest, oldest] = store.searchLogs();
    expect(store.searchLogs({ afterId: oldest?.id }).map((l) => l.id)).toEqual([newest?.id]);
    store.close();
  });
});

describe('TelemetryStore in a file', () => {
  it('keeps the data across a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'obs-viewer-store-'));
    try {
      const path = join(dir, 'telemetry.sqlite');
      const traceId = hex(32);
      const first = new TelemetryStore({ path });
      first.insertSpans([span({ traceId, name: 'GET /kept', kind: 2 })]);
      first.insertLogs([log(traceId, { request_id: 'kept-1' })]);
      first.close();
      const second = new TelemetryStore({ path });
      expect(second.listTraces({ requestId: 'kept-1' }).map((t) => t.name)).toEqual(['GET /kept']);
      second.insertSpans([span({ traceId: hex(32), name: 'GET /new' })]);
      expect(second.stats()).toMatchObject({ spans: 2, traces: 2, logs: 1 });
      expect(second.getTrace(traceId).spans[0]?.resource).toEqual({ 'service.name': 'api' });
      second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('TelemetryStore bounds', () => {
  it('deletes data older than maxAgeMs and counts it', () => {
    const store = new TelemetryStore({ maxAgeMs: 60_000 });
    const [old, fresh] = [hex(32), hex(32)];
    store.insertSpans([
      span({ traceId: old, name: 'old' }, 'api', NOW - 120_000),
      span({ traceId: fresh, name: 'fresh' }),
    ]);
    store.insertLogs([log(old, {}, NOW - 120_000), log(fresh, {})]);
    store.prune(NOW);
    expect(store.listTraces().map((t) => t.name)).toEqual(['fresh']);
    expect(store.routes()).toEqual([]);
    expect(store.stats()).toMatchObject({ spans: 1, traces: 1, logs: 1, dropped: { spans: 1, logs: 1, points: 0 } });
    store.close();
  });

  it('deletes the oldest data until the used size is under maxBytes, keeping the newest', () => {
    const store = new TelemetryStore({ maxBytes: 512 * 1024 });
    const spans: ReceivedSpan[] = [];
    for (let i = 0; i < 4000; i++) {
      spans.push(
        span({ traceId: hex(32), name: `op ${i}`, attributes: { payload: 'x'.repeat(200) } }, 'api', NOW - 4000 + i),
      );
    }
    store.insertSpans(spans);
    expect(store.usedBytes()).toBeGreaterThan(512 * 1024);
    store.prune(NOW);
    const stats = store.stats();
    expect(stats.bytes).toBeLessThanOrEqual(512 * 1024);
    expect(stats.dropped.spans).toBe(4000 - stats.spans);
    expect(stats.spans).toBeGreaterThan(0);
    expect(store.listTraces({ limit: 1 })[0]?.name).toBe('op 3999');
    store.close();
  });
});

describe('metric arithmetic', () => {
  it('interpolates quantiles inside the bucket (as histogram_quantile)', () => {
    // bounds 0.1, 0.5, 1: 10 below 0.1, 10 in (0.1, 0.5], none above
    expect(histogramQuantile(0.5, [10, 10, 0, 0], [0.1, 0.5, 1])).toBeCloseTo(0.1);
    expect(histogramQuantile(0.75, [10, 10, 0, 0], [0.1, 0.5, 1])).toBeCloseTo(0.3);
    expect(histogramQuantile(0.99, [0, 0, 0, 5], [0.1, 0.5, 1])).toBe(1);
    expect(histogramQuantile(0.5, [0, 0], [1])).toBeNull();
  });

  it('turns cumulative http.server.request.duration points into per-step requests and errors per route', () => {
    const startNs = ns(NOW - 60_000);
    const metric = (
      timeMs: number,
      route: string,
      status: number,
      count: number,
      buckets: number[],
    ): ReceivedMetric => ({
      name: 'http.server.request.duration',
      unit: 's',
      type: 'histogram',
      temporality: 'cumulative',
      resource: { 'service.name': 'api' },
      scope: { name: 't' },
      dataPoints: [
        {
          attributes: { 'http.route': route, 'http.response.status_code': status },
          timeUnixNano: ns(timeMs),
          startTimeUnixNano: startNs,
          count,
          sum: 0,
          bucketCounts: buckets,
          explicitBounds: [0.1, 1],
        },
      ],
    });
    const store = new TelemetryStore();
    store.insertMetrics([metric(NOW - 20_000, '/a', 200, 4, [4, 0, 0]), metric(NOW - 20_000, '/a', 500, 1, [0, 1, 0])]);
    store.insertMetrics([
      metric(NOW - 10_000, '/a', 200, 10, [8, 2, 0]),
      metric(NOW - 10_000, '/a', 500, 1, [0, 1, 0]),
    ]);
    const series = routeSeries(store.points('http.server.request.duration'), NOW - 30_000, NOW, 10_000);
    const a = series.find((s) => s.route === '/a');
    expect(series.map((s) => s.route)).toEqual(['(all routes)', '/a']);
    expect(a?.requests).toBe(11);
    expect(a?.rate).toEqual([0, 0.5, 0.6]);
    expect(a?.errorRatio).toEqual([null, 0.2, 0]);
    store.close();
  });
});
