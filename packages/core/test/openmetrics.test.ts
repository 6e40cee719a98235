/**
 * The OpenMetrics exposition with exemplars (src/metrics/openmetrics.ts, src/metrics/exemplars.ts)
 * through the real metrics pipeline: format negotiation, the format's rules (checked by Debian's
 * exemplars of sampled requests on the buckets they fell in, the filter. Debian's `promtool check
 * metrics` (2.42) parses only the text format 0.0.4, so it checks that one; a real Prometheus ingesting
 * the OpenMetrics text is test/openmetrics-prometheus.test.ts.
 */
import { execFileSync } from 'node:child_process';
import type { Attributes, Context } from '@opentelemetry/api';
import { ROOT_CONTEXT, TraceFlags, trace, ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';
import { ExemplarRegistry, HistogramExemplars, MAX_EXEMPLAR_SERIES } from '../src/metrics/exemplars.js';
import { METRICS } from '../src/metrics/names.js';
import { OPENMETRICS_CONTENT_TYPE, prefersOpenMetrics, serializeOpenMetrics } from '../src/metrics/openmetrics.js';
import { createMetricsPipeline, type MetricsPipeline, PROMETHEUS_CONTENT_TYPE } from '../src/metrics/pipeline.js';
import { sdkMetrics } from '../src/otel.js';

/** The Accept header Prometheus 2.x sends with every scrape. */
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

let pipeline: MetricsPipeline | undefined;
afterEach(async () => {
  await pipeline?.shutdown();
  pipeline = undefined;
});

function start(env: Record<string, string> = {}): MetricsPipeline {
  pipeline = createMetricsPipeline(
    resolveConfig({}, { OTEL_SERVICE_NAME: 'om-test', ...env }),
    resourceFromAttributes({ 'service.name': 'om-test' }),
  );
  return pipeline;
}

function spanContext(n: number, sampled: boolean): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: n.toString(16).padStart(32, 'a'),
    spanId: n.toString(16).padStart(16, 'b'),
    traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
  });
}

function serverHistogram(p: MetricsPipeline) {
  const def = METRICS.httpServerRequestDuration;
  return p.meterProvider
    .getMeter('@obs/core')
    .createHistogram(def.name, { unit: def.unit, advice: { explicitBucketBoundaries: [...(def.buckets ?? [])] } });
}

/** `promtool check metrics` on an exposition: its exit code and output. */
function promtool(body: string): { status: number; output: string } {
  try {
    const output = execFileSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    return { status: 0, output };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { status: e.status, output: `${e.stdout}${e.stderr}` };
  }
}

const GET_USERS: Attributes = Object.freeze({
  'http.request.method': 'GET',
  'url.scheme': 'http',
  'http.route': '/users/:id',
  'http.response.status_code': 200,
});

describe('format negotiation', () => {
  it('answers OpenMetrics to Prometheus and to an explicit OpenMetrics Accept, text 0.0.4 otherwise', () => {
    expect(prefersOpenMetrics(PROMETHEUS_ACCEPT)).toBe(true);
    expect(prefersOpenMetrics('application/openmetrics-text')).toBe(true);
    expect(prefersOpenMetrics('application/openmetrics-text; version=1.0.0, */*')).toBe(true);
    expect(prefersOpenMetrics(undefined)).toBe(false);
    expect(prefersOpenMetrics('*/*')).toBe(false);
    expect(prefersOpenMetrics('text/html,application/xhtml+xml,*/*;q=0.8')).toBe(false);
    expect(prefersOpenMetrics('text/plain, application/openmetrics-text;q=0.5')).toBe(false);
    expect(prefersOpenMetrics('application/openmetrics-text;version=2.0.0,text/plain;q=0.5')).toBe(false);
    expect(prefersOpenMetrics('application/openmetrics-text;q=0')).toBe(false);
  });

  it('renders the content type it negotiated', async () => {
    const p = start();
    expect((await p.render(PROMETHEUS_ACCEPT)).contentType).toBe(OPENMETRICS_CONTENT_TYPE);
    expect((await p.render('*/*')).contentType).toBe(PROMETHEUS_CONTENT_TYPE);
    expect((await p.render()).contentType).toBe(PROMETHEUS_CONTENT_TYPE);
  });
});

describe('OpenMetrics exposition', () => {
  it('follows the format and gives the same series as the text format (which passes promtool)', async () => {
    const p = start();
    const meter = p.meterProvider.getMeter('app', '1.2.3');
    meter.createCounter('orders.placed', { description: 'Orders "placed"\nby customers' }).add(3, { shop: 'a\\b"c' });
    meter.createCounter('jobs_total').add(2);
    meter.createUpDownCounter('queue.depth').add(5, { queue: 'q' });
    meter.createGauge('temperature', { unit: 'Cel' }).record(-1.5);
    serverHistogram(p).record(0.042, GET_USERS, spanContext(1, true));

    const om = (await p.render(PROMETHEUS_ACCEPT)).body;
    expect(om.endsWith('\n# EOF\n')).toBe(true);
    expect(om).toContain('# TYPE orders_placed counter\n# HELP orders_placed Orders \\"placed\\"\\nby customers\n');
    expect(om).toContain('orders_placed_total{shop="a\\\\b\\"c",otel_scope_name="app",otel_scope_version="1.2.3"} 3\n');
    expect(om).toContain('# TYPE jobs counter\n');
    expect(om).toContain('jobs_total{otel_scope_name="app",otel_scope_version="1.2.3"} 2\n');
    expect(om).toContain('# TYPE queue_depth gauge\n');
    expect(om).toContain('# TYPE target_info gauge\n');
    expect(om).toMatch(/^target_info\{.*service_name="om-test".*\} 1$/m);
    expect(om).not.toContain('# UNIT');

    // every sample of the 0.0.4 text is in the OpenMetrics text with the same name, labels and value
    const text = (await p.render()).body;
    expect(promtool(text)).toEqual({ status: 0, output: '' });
    const samples = (body: string) =>
      body
        .split('\n')
        .filter((line) => line && !line.startsWith('#'))
        .map((line) => line.replace(/ # \{.*$/, ''))
        .sort();
    expect(samples(om)).toEqual(samples(text));
  });
});

/** The exemplar of each bucket line of one histogram series: `le` -> `[trace_id, span_id, value]`. */
function bucketExemplars(body: string, route: string): Map<string, [string, string, number]> {
  const out = new Map<string, [string, string, number]>();
  const line =
    /^http_server_request_duration_bucket\{(.*)le="([^"]+)"\} \d+ # \{trace_id="(\w+)",span_id="(\w+)"\} (\S+) (\d+\.\d{3})$/;
  for (const text of body.split('\n')) {
    const m = line.exec(text);
    if (m?.[1]?.includes(`http_route="${route}"`))
      out.set(m[2] as string, [m[3] as string, m[4] as string, Number(m[5])]);
  }
  return out;
}

describe('exemplars', () => {
  it('puts the latest sampled measurement of each bucket on that bucket, per series', async () => {
    const p = start();
    const histogram = serverHistogram(p);
    histogram.record(0.003, GET_USERS, spanContext(1, true)); // le 0.005
    histogram.record(0.04, GET_USERS, spanContext(2, true)); // le 0.05
    histogram.record(0.05, GET_USERS, spanContext(3, true)); // le 0.05 (inclusive), replaces 2
    histogram.record(0.3, GET_USERS, spanContext(4, false)); // le 0.5, not sampled
    histogram.record(12, GET_USERS, spanContext(5, true)); // +Inf
    histogram.record(0.005, GET_USERS); // no span
    // the same series from an attribute object that is not the cached one (other key order, not frozen)
    histogram.record(
      0.07,
      {
        'http.response.status_code': 200,
        'http.route': '/users/:id',
        'url.scheme': 'http',
        'http.request.method': 'GET',
      },
      spanContext(6, true),
    );
    const other = Object.freeze({ ...GET_USERS, 'http.route': '/orders' });
    histogram.record(0.2, other, spanContext(7, true));

    const { body } = await p.render(PROMETHEUS_ACCEPT);
    const users = bucketExemplars(body, '/users/:id');
    expect([...users.keys()]).toEqual(['0.005', '0.05', '0.075', '+Inf']);
    expect(users.get('0.005')).toEqual(['1'.padStart(32, 'a'), '1'.padStart(16, 'b'), 0.003]);
    expect(users.get('0.05')).toEqual(['3'.padStart(32, 'a'), '3'.padStart(16, 'b'), 0.05]);
    expect(users.get('0.075')?.[0]).toBe('6'.padStart(32, 'a'));
    expect(users.get('+Inf')?.[2]).toBe(12);
    expect([...bucketExemplars(body, '/orders')]).toEqual([
      ['0.25', ['7'.padStart(32, 'a'), '7'.padStart(16, 'b'), 0.2]],
    ]);
    // the 0.0.4 text has no exemplars
    expect((await p.render()).body).not.toContain('trace_id');
  });

  it('keeps exemplars of unsampled spans with always_on and none with always_off', async () => {
    let p = start({ OTEL_METRICS_EXEMPLAR_FILTER: 'always_on' });
    serverHistogram(p).record(0.3, GET_USERS, spanContext(4, false));
    expect([...bucketExemplars((await p.render(PROMETHEUS_ACCEPT)).body, '/users/:id').keys()]).toEqual(['0.5']);
    await p.shutdown();

    p = start({ OTEL_METRICS_EXEMPLAR_FILTER: 'always_off' });
    serverHistogram(p).record(0.3, GET_USERS, spanContext(4, true));
    const { body } = await p.render(PROMETHEUS_ACCEPT);
    expect(body).toContain('http_server_request_duration_count{');
    expect(body).not.toContain('trace_id');
  });

  it('keeps exemplars for the client and database durations, not for other histograms', async () => {
    const p = start();
    const meter = p.meterProvider.getMeter('any');
    meter
      .createHistogram('http.client.request.duration')
      .record(0.2, { 'server.address': 'api' }, spanContext(8, true));
    meter
      .createHistogram('db.client.operation.duration')
      .record(0.02, { 'db.system.name': 'postgresql' }, spanContext(9, true));
    meter.createHistogram('app.job.duration').record(0.2, {}, spanContext(10, true));
    const { body } = await p.render(PROMETHEUS_ACCEPT);
    expect(body).toMatch(/^http_client_request_duration_bucket\{.*\} 1 # \{trace_id="a+8"/m);
    expect(body).toMatch(/^db_client_operation_duration_bucket\{.*\} 1 # \{trace_id="a+9"/m);
    expect(body).not.toMatch(/^app_job_duration_bucket.* # \{/m);
  });
});

describe('exemplars: series, buckets and bounds', () => {
  it('keeps one exemplar per bucket of a series, the latest, and lists only the buckets that have one', () => {
    const store = new HistogramExemplars([1, 2], 'trace_based');
    const attrs = { route: '/a' };
    store.offer(1, attrs, spanContext(1, true)); // le 1 (inclusive)
    store.offer(1.5, attrs, spanContext(2, true)); // le 2
    store.offer(1.7, attrs, spanContext(3, true)); // le 2, replaces 2
    store.offer(9, attrs, spanContext(4, false)); // +Inf, not sampled
    const list = store.exemplars({ route: '/a' });
    expect(list.map((e) => [e.value, e.traceId, e.spanId])).toEqual([
      [1, '1'.padStart(32, 'a'), '1'.padStart(16, 'b')],
      [1.7, '3'.padStart(32, 'a'), '3'.padStart(16, 'b')],
    ]);
    expect(list.every((e) => e.timeMs > 0 && e.timeMs <= Date.now())).toBe(true);
    expect(store.exemplars({ route: '/b' })).toEqual([]);
    const registry = new ExemplarRegistry('always_on');
    expect(registry.exemplars('http.server.request.duration', {})).toEqual([]);
  });

  it('finds a series whatever attribute object it is recorded with, ignoring undefined values, never by a mutated object', () => {
    const store = new HistogramExemplars([1], 'always_on');
    const mutable: Attributes = { route: '/a' };
    store.offer(0.5, mutable, spanContext(1, true));
    mutable.route = '/b'; // the same object, now another series
    store.offer(0.6, mutable, spanContext(2, true));
    store.offer(0.7, { route: '/c', gone: undefined }, spanContext(3, true));
    expect(store.exemplars({ route: '/a' }).map((e) => e.value)).toEqual([0.5]);
    expect(store.exemplars({ route: '/b' }).map((e) => e.value)).toEqual([0.6]);
    expect(store.exemplars({ route: '/c' }).map((e) => e.value)).toEqual([0.7]);
    // always_on still needs a valid span context
    store.offer(
      0.8,
      { route: '/d' },
      trace.setSpanContext(ROOT_CONTEXT, { traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 1 }),
    );
    expect(store.exemplars({ route: '/d' })).toEqual([]);
  });

  it(`keeps exemplars for ${MAX_EXEMPLAR_SERIES} series per histogram, and records further series without them`, () => {
    const store = new HistogramExemplars([1], 'trace_based');
    const ctx = spanContext(1, true);
    for (let i = 0; i <= MAX_EXEMPLAR_SERIES; i++) store.offer(0.5, { i }, ctx);
    expect(store.exemplars({ i: MAX_EXEMPLAR_SERIES - 1 })).toHaveLength(1);
    expect(store.exemplars({ i: MAX_EXEMPLAR_SERIES })).toEqual([]);
  });

  it('uses the SDK default buckets without advice, shares a store between scopes, and renders series that have none', async () => {
    const p = start();
    const first = p.meterProvider.getMeter('one').createHistogram('http.client.request.duration', { unit: 's' });
    const second = p.meterProvider.getMeter('two').createHistogram('http.client.request.duration', { unit: 's' });
    first.record(3, { 'server.address': 'api' }, spanContext(1, true)); // le 5
    first.record(20, { 'server.address': 'api' }, spanContext(2, true)); // le 25
    second.record(7, { 'server.address': 'api' }, spanContext(3, true)); // le 10
    first.record(1, { 'server.address': 'quiet' }); // no span: a series without exemplars
    const counter = p.meterProvider.getMeter('one').createCounter('calls');
    counter.add(1);
    const { body } = await p.render(PROMETHEUS_ACCEPT);
    const exemplarLines = body
      .split('\n')
      .filter((l) => l.includes(' # {'))
      .map((l) => /^(\w+)\{.*otel_scope_name="(\w+)",le="([^"]+)"\} (\d+) # \{trace_id="a+(\d)"/.exec(l)?.slice(1));
    expect(exemplarLines).toEqual([
      ['http_client_request_duration_bucket', 'one', '5', '1', '1'],
      ['http_client_request_duration_bucket', 'one', '10', '1', '3'],
      ['http_client_request_duration_bucket', 'one', '25', '2', '2'],
      ['http_client_request_duration_bucket', 'two', '5', '0', '1'],
      ['http_client_request_duration_bucket', 'two', '10', '1', '3'],
      ['http_client_request_duration_bucket', 'two', '25', '1', '2'],
    ]);
    expect(body).toMatch(/^http_client_request_duration_count\{server_address="quiet",otel_scope_name="one"\} 1$/m);
    expect(body).toContain('calls_total{otel_scope_name="one"} 1\n');
  });
});

describe('serializeOpenMetrics', () => {
  const { AggregationTemporality, DataPointType } = sdkMetrics;
  const time: [number, number] = [1700000000, 0];
  const point = <T>(attributes: Attributes, value: T) => ({ startTime: time, endTime: time, attributes, value });
  const descriptor = (name: string, description = '') => ({ name, description, unit: '', valueType: ValueType.DOUBLE });
  const sum = (name: string, monotonic: boolean, points: ReturnType<typeof point<number>>[], description = '') =>
    ({
      descriptor: descriptor(name, description),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: monotonic,
      dataPoints: points,
    }) as MetricData;
  const gauge = (name: string, points: ReturnType<typeof point<number>>[]) =>
    ({
      descriptor: descriptor(name),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints: points,
    }) as MetricData;

  it('writes names, labels, values and families as the format requires', () => {
    const histogram = {
      descriptor: descriptor('latency', 'Latency'),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: [
        point({}, { buckets: { boundaries: [1, 2], counts: [1, 0, 2] }, count: 3, sum: undefined, min: 0, max: 9 }),
      ],
    } as unknown as MetricData;
    const exponential = {
      descriptor: descriptor('expo'),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
      dataPoints: [],
    } as unknown as MetricData;
    const resourceMetrics = {
      resource: resourceFromAttributes({ 'service.name': 'svc' }),
      scopeMetrics: [
        {
          scope: { name: 'lib', version: '1.2', schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' },
          metrics: [
            sum('http..requests', true, [point({ route: 'a\\b"c\nd', gone: undefined, '9lives': true, n: 5 }, 3)]),
            sum('queue.size', false, [point({}, Number.NEGATIVE_INFINITY)]),
            gauge('0temp', [point({}, Number.POSITIVE_INFINITY)]),
            gauge('9temp', [point({}, 1)]),
            gauge('!!!', [point({}, 1)]),
            gauge('', [point({}, 1)]),
            gauge('target_info', [point({}, 2)]),
            sum('mixed', true, [point({}, 1)]),
            histogram,
            exponential,
          ],
        },
        {
          scope: { name: 'other' },
          metrics: [
            sum('http..requests', true, [point({}, 4)], 'Requests\\all'),
            sum('http..requests', true, [point({ x: '1' }, 1)], 'Other help'),
            gauge('mixed', [point({}, 1)]),
            sum('mixed', true, [point({}, 1)]),
          ],
        },
      ],
    } as unknown as ResourceMetrics;
    const lib =
      'otel_scope_name="lib",otel_scope_schema_url="https://opentelemetry.io/schemas/1.30.0",otel_scope_version="1.2"';
    expect(
      serializeOpenMetrics(resourceMetrics, () => [
        { value: 1, timeMs: 1700000000123, traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) },
        { value: 5, timeMs: 1700000001000, traceId: 'c'.repeat(32), spanId: 'd'.repeat(16) },
        { value: 7, timeMs: 1700000002000, traceId: 'e'.repeat(32), spanId: 'f'.repeat(16) },
        { value: 6, timeMs: 1700000001500, traceId: '1'.repeat(32), spanId: '2'.repeat(16) },
      ]),
    ).toBe(
      [
        '# TYPE target_info gauge',
        '# HELP target_info Target metadata',
        'target_info{service_name="svc"} 1',
        '# TYPE http_requests counter',
        '# HELP http_requests Requests\\\\all',
        `http_requests_total{route="a\\\\b\\"c\\nd",_9lives="true",n="5",${lib}} 3`,
        'http_requests_total{otel_scope_name="other"} 4',
        'http_requests_total{x="1",otel_scope_name="other"} 1',
        '# TYPE queue_size gauge',
        `queue_size{${lib}} -Inf`,
        '# TYPE _0temp gauge',
        `_0temp{${lib}} +Inf`,
        '# TYPE _9temp gauge',
        `_9temp{${lib}} 1`,
        '# TYPE latency histogram',
        '# HELP latency Latency',
        `latency_bucket{${lib},le="1"} 1 # {trace_id="${'a'.repeat(32)}",span_id="${'b'.repeat(16)}"} 1 1700000000.123`,
        `latency_bucket{${lib},le="2"} 1`,
        `latency_bucket{${lib},le="+Inf"} 3 # {trace_id="${'e'.repeat(32)}",span_id="${'f'.repeat(16)}"} 7 1700000002.000`,
        `latency_count{${lib}} 3`,
        '# EOF',
        '',
      ].join('\n'),
    );
  });

  it('writes a family without exemplars and a series without labels', () => {
    const resourceMetrics = {
      resource: resourceFromAttributes({}),
      scopeMetrics: [{ scope: { name: '' }, metrics: [gauge('up', [point({}, 1)])] }],
    } as unknown as ResourceMetrics;
    expect(serializeOpenMetrics(resourceMetrics)).toBe(
      '# TYPE target_info gauge\n# HELP target_info Target metadata\ntarget_info 1\n# TYPE up gauge\nup{otel_scope_name=""} 1\n# EOF\n',
    );
  });
});

describe('prefersOpenMetrics: the weights of the Accept header', () => {
  it.each([
    ['application/openmetrics-text', true],
    ['application/openmetrics-text;q=0.5', true],
    ['application/openmetrics-text; version=1.0.0', true],
    ['application/openmetrics-text; version=0.0.1', true],
    ['application/openmetrics-text; version=2.0.0', false],
    ['application/openmetrics-text; charset=utf-8', true],
    ['application/openmetrics-text;q=abc', false],
    ['application/openmetrics-text;q=0', false],
    ['application/openmetrics-text;q=0.9,text/plain;q=0.5', true],
    ['application/openmetrics-text;q=0.5,text/plain;q=0.5', true],
    ['application/openmetrics-text;q=0.5, TEXT/PLAIN;q=0.6', false],
    ['application/openmetrics-text;q=0.5,text/*;q=0.6', false],
    ['application/openmetrics-text;q=0.5,*/*;q=0.6', false],
    ['*/*;q=0.4,application/openmetrics-text;q=0.5', true],
    ['text/plain;q=0.1,*/*;q=1,application/openmetrics-text;q=0.5', true],
    ['text/*;q=0.1,*/*;q=1,application/openmetrics-text;q=0.5', true],
    ['text/plain;version=0.0.4', false],
    ['', false],
  ])('%j -> %s', (accept, expected) => {
    expect(prefersOpenMetrics(accept)).toBe(expected);
  });
});
