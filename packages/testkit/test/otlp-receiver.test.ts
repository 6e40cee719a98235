import { gzipSync } from 'node:zlib';
import { context, SeverityNumber, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPLogExporter as HttpLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as HttpMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as HttpTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { type OtlpReceiver, type ReceivedSpan, spanTree, startOtlpReceiver } from '../src/index.js';

type Protocol = 'http/protobuf' | 'http/json';
type ExporterConfig = NonNullable<ConstructorParameters<typeof ProtoTraceExporter>[0]>;

const receivers: OtlpReceiver[] = [];

async function receiver(opts?: Parameters<typeof startOtlpReceiver>[0]): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver(opts);
  receivers.push(r);
  return r;
}

afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

interface Exported {
  traceId: string;
  parentSpanId: string;
  childSpanId: string;
}

/**
 * Runs the real OpenTelemetry SDK (traces, logs, metrics) with real OTLP exporters
 * pointed at `r`, and flushes everything.
 */
async function exportEverything(r: OtlpReceiver, protocol: Protocol, gzip = false): Promise<Exported> {
  const config = (signal: string): ExporterConfig => ({
    url: `${r.url}/v1/${signal}`,
    ...(gzip ? { compression: 'gzip' as ExporterConfig['compression'] } : {}),
  });
  const proto = protocol === 'http/protobuf';
  const resource = resourceFromAttributes({ 'service.name': 'receiver-test', 'service.version': '1.2.3' });

  const tracerProvider = new TracerProvider({
    resource,
    spanProcessors: [
      new SimpleSpanProcessor({
        exporter: proto ? new ProtoTraceExporter(config('traces')) : new HttpTraceExporter(config('traces')),
      }),
    ],
  });
  const loggerProvider = new LoggerProvider({
    resource,
    processors: [
      new SimpleLogRecordProcessor({
        exporter: proto ? new ProtoLogExporter(config('logs')) : new HttpLogExporter(config('logs')),
      }),
    ],
  });
  const reader = new PeriodicExportingMetricReader({
    exporter: proto ? new ProtoMetricExporter(config('metrics')) : new HttpMetricExporter(config('metrics')),
    exportIntervalMillis: 60_000,
  });
  const meterProvider = new MeterProvider({ resource, readers: [reader] });

  try {
    const tracer = tracerProvider.getTracer('receiver-test-scope', '0.0.1');
    const parent = tracer.startSpan('GET /orders/:id', {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200, 'obs.ratio': 0.5 },
    });
    const parentCtx = trace.setSpan(context.active(), parent);
    const child = tracer.startSpan(
      'db.query',
      {
        kind: SpanKind.CLIENT,
        attributes: { 'db.system.name': 'postgresql', 'obs.flag': true, 'obs.tags': ['a', 'b'] },
      },
      parentCtx,
    );
    child.addEvent('retry', { attempt: 2 });
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'connection reset' });
    child.end();
    parent.setStatus({ code: SpanStatusCode.OK });

    loggerProvider.getLogger('receiver-test-logger').emit({
      body: 'order loaded',
      severityNumber: SeverityNumber.WARN,
      severityText: 'WARN',
      attributes: { 'order.id': 42 },
      context: parentCtx,
    });
    parent.end();

    const meter = meterProvider.getMeter('receiver-test-meter', '0.0.2');
    const counter = meter.createCounter('orders.loaded', { unit: '{order}', description: 'Orders loaded' });
    counter.add(2, { route: '/orders/:id' });
    counter.add(3, { route: '/orders/:id' });
    const histogram = meter.createHistogram('orders.duration', { unit: 'ms' });
    histogram.record(5, { route: '/orders/:id' });
    histogram.record(120, { route: '/orders/:id' });

    await Promise.all([tracerProvider.forceFlush(), loggerProvider.forceFlush(), meterProvider.forceFlush()]);
    return {
      traceId: parent.spanContext().traceId,
      parentSpanId: parent.spanContext().spanId,
      childSpanId: child.spanContext().spanId,
    };
  } finally {
    await Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown(), meterProvider.shutdown()]);
  }
}

/** Asserts everything {@link exportEverything} sent was decoded faithfully. */
async function expectEverything(r: OtlpReceiver, ids: Exported): Promise<void> {
  const [parent] = await r.waitForSpans((s) => s.name === 'GET /orders/:id');
  const [child] = await r.waitForSpans((s) => s.name === 'db.query');
  await r.waitFor(() => r.logs.length >= 1 && r.metrics.length >= 2);
  if (!parent || !child) throw new Error('unreachable');

  expect(parent.traceId).toBe(ids.traceId);
  expect(parent.traceId).toMatch(/^[0-9a-f]{32}$/);
  expect(parent.spanId).toBe(ids.parentSpanId);
  expect(parent.spanId).toMatch(/^[0-9a-f]{16}$/);
  expect(parent.parentSpanId).toBeUndefined();
  expect(parent.kind).toBe(2);
  expect(parent.status).toEqual({ code: 1 });
  expect(parent.attributes).toEqual({
    'http.request.method': 'GET',
    'http.response.status_code': 200,
    'obs.ratio': 0.5,
  });
  expect(parent.resource['service.name']).toBe('receiver-test');
  expect(parent.resource['service.version']).toBe('1.2.3');
  expect(parent.scope).toEqual({ name: 'receiver-test-scope', version: '0.0.1' });
  expect(typeof parent.startTimeUnixNano).toBe('bigint');
  expect(parent.endTimeUnixNano).toBeGreaterThanOrEqual(parent.startTimeUnixNano);
  expect(parent.durationMs).toBeGreaterThanOrEqual(0);
  expect(parent.durationMs).toBeLessThan(60_000);
  // A sane wall-clock timestamp (after 2020), not a truncated or mangled int64.
  expect(parent.startTimeUnixNano).toBeGreaterThan(1_577_836_800_000_000_000n);

  expect(child.traceId).toBe(ids.traceId);
  expect(child.spanId).toBe(ids.childSpanId);
  expect(child.parentSpanId).toBe(ids.parentSpanId);
  expect(child.kind).toBe(3);
  expect(child.status).toEqual({ code: 2, message: 'connection reset' });
  expect(child.attributes).toEqual({ 'db.system.name': 'postgresql', 'obs.flag': true, 'obs.tags': ['a', 'b'] });
  expect(child.events).toEqual([{ name: 'retry', timeUnixNano: expect.any(BigInt), attributes: { attempt: 2 } }]);
  expect(child.links).toEqual([]);

  const log = r.logs[0];
  expect(log).toMatchObject({
    body: 'order loaded',
    severityNumber: 13,
    severityText: 'WARN',
    attributes: { 'order.id': 42 },
    traceId: ids.traceId,
    spanId: ids.parentSpanId,
    scope: { name: 'receiver-test-logger' },
  });
  expect(log?.resource['service.name']).toBe('receiver-test');
  expect(log?.timeUnixNano).toBeGreaterThan(1_577_836_800_000_000_000n);

  const counter = r.metrics.find((m) => m.name === 'orders.loaded');
  expect(counter).toMatchObject({
    type: 'sum',
    unit: '{order}',
    description: 'Orders loaded',
    temporality: 'cumulative',
    isMonotonic: true,
    scope: { name: 'receiver-test-meter', version: '0.0.2' },
    dataPoints: [{ attributes: { route: '/orders/:id' }, value: 5 }],
  });
  expect(counter?.resource['service.name']).toBe('receiver-test');

  const histogram = r.metrics.find((m) => m.name === 'orders.duration');
  expect(histogram).toMatchObject({ type: 'histogram', unit: 'ms', temporality: 'cumulative' });
  expect(histogram?.dataPoints).toHaveLength(1);
  const point = histogram?.dataPoints[0];
  expect(point).toMatchObject({ attributes: { route: '/orders/:id' }, count: 2, sum: 125 });
  expect(point?.explicitBounds?.length).toBeGreaterThan(0);
  expect(point?.bucketCounts).toHaveLength((point?.explicitBounds?.length ?? 0) + 1);
  expect(point?.bucketCounts?.reduce((a, b) => a + b, 0)).toBe(2);
}

describe('startOtlpReceiver with real OpenTelemetry exporters', () => {
  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    const contentType = protocol === 'http/protobuf' ? 'application/x-protobuf' : 'application/json';

    it(`decodes traces, logs and metrics sent as ${protocol}`, async () => {
      const r = await receiver();
      const ids = await exportEverything(r, protocol);
      await expectEverything(r, ids);
      expect(new Set(r.requests.map((q) => q.signal))).toEqual(new Set(['traces', 'logs', 'metrics']));
      for (const q of r.requests) {
        expect(q.contentType).toBe(contentType);
        expect(q.contentEncoding).toBeUndefined();
        expect(q.path).toBe(`/v1/${q.signal}`);
        expect(q.bytes).toBeGreaterThan(0);
      }
    });

    it(`decodes gzip-compressed ${protocol}`, async () => {
      const r = await receiver();
      const ids = await exportEverything(r, protocol, true);
      await expectEverything(r, ids);
      expect(r.requests.length).toBeGreaterThanOrEqual(3);
      for (const q of r.requests) expect(q.contentEncoding).toBe('gzip');
    });
  }
});

describe('startOtlpReceiver over plain HTTP', () => {
  const post = (r: OtlpReceiver, path: string, body: string | Uint8Array, headers: Record<string, string>) =>
    fetch(`${r.url}${path}`, { method: 'POST', body, headers });

  it('listens on an ephemeral loopback port', async () => {
    const r = await receiver();
    expect(r.port).toBeGreaterThan(0);
    expect(r.url).toBe(`http://127.0.0.1:${r.port}`);
  });

  it('answers an empty protobuf request with an empty protobuf response', async () => {
    const r = await receiver();
    const res = await post(r, '/v1/traces', new Uint8Array(0), { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    expect((await res.arrayBuffer()).byteLength).toBe(0);
    expect(r.spans).toEqual([]);
    expect(r.requests).toHaveLength(1);
  });

  it('accepts hand-written OTLP/JSON: numeric and string int64s, enum names, snake_case', async () => {
    const r = await receiver();
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'json-svc' } }] },
          scopeSpans: [
            {
              scope: { name: 'manual' },
              spans: [
                {
                  traceId: '5B8EFFF798038103D269B633813FC60C',
                  spanId: 'EEE19B7EC3C1B174',
                  parentSpanId: '',
                  name: 'root',
                  kind: 'SPAN_KIND_SERVER',
                  startTimeUnixNano: '1000000000000000000',
                  endTimeUnixNano: 1000000000250000000,
                  attributes: [
                    { key: 'big', value: { intValue: '9007199254740993' } },
                    { key: 'small', value: { intValue: 7 } },
                    { key: 'd', value: { doubleValue: 1.5 } },
                    { key: 'b', value: { bytesValue: Buffer.from('hi').toString('base64') } },
                    {
                      key: 'kv',
                      value: { kvlistValue: { values: [{ key: 'x', value: { arrayValue: { values: [] } } }] } },
                    },
                  ],
                  status: { code: 'STATUS_CODE_ERROR', message: 'boom' },
                },
                {
                  trace_id: '5b8efff798038103d269b633813fc60c',
                  span_id: '1111111111111111',
                  parent_span_id: 'eee19b7ec3c1b174',
                  name: 'child',
                  kind: 1,
                  start_time_unix_nano: '1700000000100000000',
                  end_time_unix_nano: '1700000000200000000',
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await post(r, '/v1/traces', JSON.stringify(body), { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({});
    const [root, child] = r.spans;
    expect(root).toMatchObject({
      traceId: '5b8efff798038103d269b633813fc60c',
      spanId: 'eee19b7ec3c1b174',
      kind: 2,
      startTimeUnixNano: 1_000_000_000_000_000_000n,
      endTimeUnixNano: 1_000_000_000_250_000_000n,
      durationMs: 250,
      status: { code: 2, message: 'boom' },
      resource: { 'service.name': 'json-svc' },
      scope: { name: 'manual' },
    });
    expect(root?.parentSpanId).toBeUndefined();
    expect(root?.attributes).toEqual({
      big: 9_007_199_254_740_993n,
      small: 7,
      d: 1.5,
      b: new Uint8Array(Buffer.from('hi')),
      kv: { x: [] },
    });
    expect(child).toMatchObject({ parentSpanId: 'eee19b7ec3c1b174', kind: 1, durationMs: 100, status: { code: 0 } });
  });

  it('answers 400 to garbage and stores nothing', async () => {
    const r = await receiver();
    const garbage = Buffer.from('this is definitely not an OTLP payload \u0000\u00ff\u00fe');
    const cases: [string, string | Uint8Array, Record<string, string>][] = [
      ['/v1/traces', garbage, { 'content-type': 'application/x-protobuf' }],
      ['/v1/logs', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]), { 'content-type': 'application/x-protobuf' }],
      ['/v1/metrics', '{"resourceMetrics": [', { 'content-type': 'application/json' }],
      ['/v1/traces', '"just a string"', { 'content-type': 'application/json' }],
      ['/v1/traces', '{"resourceSpans": 5}', { 'content-type': 'application/json' }],
      ['/v1/traces', garbage, { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }],
      ['/v1/traces', gzipSync(garbage), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }],
    ];
    for (const [path, body, headers] of cases) {
      const res = await post(r, path, body, headers);
      expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(400);
      await res.text();
    }
    expect(r.requests).toHaveLength(cases.length);
    expect(r.spans).toEqual([]);
    expect(r.logs).toEqual([]);
    expect(r.metrics).toEqual([]);
    // Still serving.
    const ok = await post(r, '/v1/logs', '{}', { 'content-type': 'application/json' });
    expect(ok.status).toBe(200);
  });

  it("accepts the signal paths under a prefix, as vendors' gateways take them", async () => {
    const r = await receiver();
    const body = JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'hi' } }] }] }] });
    const res = await post(r, '/otlp/v1/logs', body, { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    expect(r.requests.map((q) => [q.signal, q.path])).toEqual([['logs', '/otlp/v1/logs']]);
    expect(r.logs.map((l) => l.body)).toEqual(['hi']);
    expect((await post(r, '/otlp/v1/logsx', body, { 'content-type': 'application/json' })).status).toBe(404);
    expect((await post(r, '/v1/traces/x', body, { 'content-type': 'application/json' })).status).toBe(404);
  });

  it('answers 404 to unknown paths, 405 to other methods, 415 to other content types', async () => {
    const r = await receiver();
    const notFound = await post(r, '/v1/profiles', '{}', { 'content-type': 'application/json' });
    expect(notFound.status).toBe(404);
    expect((await fetch(`${r.url}/`)).status).toBe(404);
    expect((await fetch(`${r.url}/v1/traces`)).status).toBe(405);
    const unsupported = await post(r, '/v1/traces', 'x', { 'content-type': 'text/plain' });
    expect(unsupported.status).toBe(415);
  });

  it('answers with the configured failure status and does not store the data', async () => {
    const r = await receiver({ respondWith: 503 });
    const res = await post(r, '/v1/logs', JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{}] }] }] }), {
      'content-type': 'application/json',
    });
    expect(res.status).toBe(503);
    expect(r.logs).toEqual([]);
    expect(r.requests).toHaveLength(1);
  });

  it('delays its answers by delayMs', async () => {
    const r = await receiver({ delayMs: 150 });
    const started = Date.now();
    const res = await post(r, '/v1/metrics', '{}', { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('reset() empties everything; close() is idempotent', async () => {
    const r = await startOtlpReceiver();
    await post(
      r,
      '/v1/logs',
      JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'x' } }] }] }] }),
      {
        'content-type': 'application/json',
      },
    );
    expect(r.logs).toHaveLength(1);
    const logs = r.logs;
    r.reset();
    expect(logs).toHaveLength(0);
    expect(r.requests).toHaveLength(0);
    await r.close();
    await r.close();
    await expect(fetch(`${r.url}/v1/logs`, { method: 'POST' })).rejects.toThrow();
  });

  it('waitFor resolves with the value and rejects with a clear error on timeout', async () => {
    const r = await receiver();
    await expect(r.waitFor(() => 'ready')).resolves.toBe('ready');
    await expect(r.waitFor(() => r.spans.length > 0, { timeoutMs: 100, intervalMs: 10 })).rejects.toThrow(
      /waitFor timed out after 100 ms: received 0 span\(s\), 0 log\(s\), 0 metric\(s\) in 0 request\(s\)/,
    );
    await expect(r.waitForSpans((s) => s.name === 'never', 2, 100)).rejects.toThrow(
      /expected 2 matching span\(s\), got 0/,
    );
  });
});

describe('spanTree', () => {
  const span = (over: Partial<ReceivedSpan> & Pick<ReceivedSpan, 'traceId' | 'spanId' | 'name'>): ReceivedSpan => {
    const start = over.startTimeUnixNano ?? 0n;
    const end = over.endTimeUnixNano ?? start + 1_000_000n;
    return {
      kind: 1,
      attributes: {},
      status: { code: 0 },
      events: [],
      links: [],
      resource: {},
      scope: { name: 't' },
      ...over,
      startTimeUnixNano: start,
      endTimeUnixNano: end,
      durationMs: Number(end - start) / 1e6,
    };
  };
  const t1 = 'a'.repeat(32);
  const t2 = 'b'.repeat(32);

  it('renders traces as indented trees with duration and status', () => {
    const spans = [
      span({
        traceId: t1,
        spanId: '2'.repeat(16),
        parentSpanId: '1'.repeat(16),
        name: 'db.query',
        startTimeUnixNano: 2_000_000n,
        endTimeUnixNano: 6_100_000n,
      }),
      span({
        traceId: t2,
        spanId: '9'.repeat(16),
        name: 'job',
        startTimeUnixNano: 50_000_000n,
        status: { code: 2, message: 'x' },
      }),
      span({
        traceId: t1,
        spanId: '1'.repeat(16),
        name: 'GET /users',
        startTimeUnixNano: 1_000_000n,
        endTimeUnixNano: 13_340_000n,
        status: { code: 1 },
      }),
      span({
        traceId: t1,
        spanId: '3'.repeat(16),
        parentSpanId: '2'.repeat(16),
        name: 'pg.connect',
        startTimeUnixNano: 2_500_000n,
      }),
      span({
        traceId: t1,
        spanId: '4'.repeat(16),
        parentSpanId: '1'.repeat(16),
        name: 'render',
        startTimeUnixNano: 7_000_000n,
        status: { code: 1 },
      }),
      span({
        traceId: t1,
        spanId: '5'.repeat(16),
        parentSpanId: 'f'.repeat(16),
        name: 'orphan',
        startTimeUnixNano: 8_000_000n,
      }),
    ];
    expect(spanTree(spans)).toBe(
      [
        `trace ${t1}`,
        '  GET /users (12.3 ms) OK',
        '    db.query (4.1 ms) UNSET',
        '      pg.connect (1.0 ms) UNSET',
        '    render (1.0 ms) OK',
        '  orphan (1.0 ms) UNSET',
        `trace ${t2}`,
        '  job (1.0 ms) ERROR',
      ].join('\n'),
    );
  });

  it('handles no spans and parent cycles', () => {
    expect(spanTree([])).toBe('(no spans)');
    const cyclic = [
      span({ traceId: t1, spanId: '1'.repeat(16), parentSpanId: '2'.repeat(16), name: 'a' }),
      span({ traceId: t1, spanId: '2'.repeat(16), parentSpanId: '1'.repeat(16), name: 'b' }),
    ];
    expect(spanTree(cyclic)).toBe([`trace ${t1}`, '  a (1.0 ms) UNSET', '    b (1.0 ms) UNSET'].join('\n'));
  });
});
