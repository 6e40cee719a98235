/**
 * Metrics recorded with the real OpenTelemetry metrics SDK, serialised by the real OTLP serializers
 * (`@opentelemetry/otlp-transformer`), decoded back; exemplars and summaries, which the JS SDK never
 * sends, are encoded with the official proto definitions (`exportRequestType`).
 */
import { ValueType } from '@opentelemetry/api';
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  InstrumentType,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import {
  type DecodedExport,
  decodeExportRequest,
  exportRequestType,
  type ReceivedMetric,
  type Wire,
} from '../src/index.js';

class CollectingReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

function metricsOf(decoded: DecodedExport): ReceivedMetric[] {
  if (decoded.signal !== 'metrics') throw new Error(`decoded ${decoded.signal}`);
  return decoded.metrics;
}

const nanos = ([seconds, ns]: [number, number]) => BigInt(seconds) * 1_000_000_000n + BigInt(ns);

/** One collection of a counter (delta), an up-down counter, a gauge, and explicit and exponential histograms. */
async function collect(): Promise<ResourceMetrics> {
  const reader = new CollectingReader({
    aggregationTemporalitySelector: (type) =>
      type === InstrumentType.COUNTER ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout' }),
    readers: [reader],
    views: [{ instrumentName: 'payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('meter-a', '0.1.0');
  const requests = meter.createCounter('requests', {
    unit: '{request}',
    description: 'Requests served',
    valueType: ValueType.INT,
  });
  requests.add(5, { route: '/a' });
  requests.add(2, { route: '/a' });
  const inFlight = meter.createUpDownCounter('in_flight');
  inFlight.add(3);
  inFlight.add(-1.5);
  meter.createGauge('temperature', { unit: 'Cel' }).record(21.5, { room: 'lab' });
  const latency = meter.createHistogram('latency', { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100] } });
  for (const v of [5, 50, 500, 60]) latency.record(v);
  const size = meter.createHistogram('payload.size');
  for (const v of [1, 2, 4]) size.record(v);
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics;
}

describe('metric export requests from the OpenTelemetry serializers', () => {
  const serializers: [Wire, (rm: ResourceMetrics) => Uint8Array | undefined][] = [
    ['protobuf', (rm) => ProtobufMetricsSerializer.serializeRequest(rm)],
    ['json', (rm) => JsonMetricsSerializer.serializeRequest(rm)],
  ];
  for (const [wire, serialize] of serializers) {
    it(`decode sums, gauges and histograms with their points, temporality and buckets (${wire})`, async () => {
      const rm = await collect();
      const sdkPoints = new Map(rm.scopeMetrics[0]?.metrics.map((m) => [m.descriptor.name, m.dataPoints[0]]) ?? []);
      const times = (name: string) => {
        const point = sdkPoints.get(name);
        if (!point) throw new Error(`no point for ${name}`);
        return { startTimeUnixNano: nanos(point.startTime), timeUnixNano: nanos(point.endTime) };
      };
      const resource = { 'service.name': 'checkout' };
      const scope = { name: 'meter-a', version: '0.1.0' };
      const metrics = metricsOf(decodeExportRequest('metrics', Buffer.from(serialize(rm) ?? []), wire));
      // the SDK's order of instruments is not their creation order
      expect(metrics.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
        {
          name: 'in_flight',
          type: 'sum',
          temporality: 'cumulative',
          isMonotonic: false,
          dataPoints: [{ attributes: {}, ...times('in_flight'), value: 1.5 }],
          resource,
          scope,
        },
        {
          name: 'latency',
          unit: 'ms',
          type: 'histogram',
          temporality: 'cumulative',
          dataPoints: [
            {
              attributes: {},
              ...times('latency'),
              count: 4,
              sum: 615,
              bucketCounts: [1, 2, 1],
              explicitBounds: [10, 100],
            },
          ],
          resource,
          scope,
        },
        {
          name: 'payload.size',
          type: 'exponentialHistogram',
          temporality: 'cumulative',
          dataPoints: [{ attributes: {}, ...times('payload.size'), count: 3, sum: 7 }],
          resource,
          scope,
        },
        {
          name: 'requests',
          unit: '{request}',
          description: 'Requests served',
          type: 'sum',
          temporality: 'delta',
          isMonotonic: true,
          dataPoints: [{ attributes: { route: '/a' }, ...times('requests'), value: 7 }],
          resource,
          scope,
        },
        {
          name: 'temperature',
          unit: 'Cel',
          type: 'gauge',
          dataPoints: [{ attributes: { room: 'lab' }, ...times('temperature'), value: 21.5 }],
          resource,
          scope,
        },
      ]);
    });
  }
});

describe('metric fields the JS SDK does not send', () => {
  const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
  const SPAN_ID = 'b7ad6b7169203331';
  const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');

  it('decodes exemplars (value, time, trace and span id) and a summary from protobuf', () => {
    const type = exportRequestType('metrics');
    const request = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'http.server.request.duration',
                  histogram: {
                    aggregationTemporality: 2,
                    dataPoints: [
                      {
                        timeUnixNano: '2000',
                        count: '1',
                        bucketCounts: ['0', '1'],
                        explicitBounds: [0.5],
                        exemplars: [
                          { timeUnixNano: '1500', asDouble: 0.75, traceId: b64(TRACE_ID), spanId: b64(SPAN_ID) },
                          { timeUnixNano: '1600', asInt: '3' },
                        ],
                      },
                    ],
                  },
                },
                {
                  name: 'rpc.latency',
                  summary: { dataPoints: [{ startTimeUnixNano: '10', timeUnixNano: '20', count: '2', sum: 9 }] },
                },
                { name: 'no.data' },
              ],
            },
          ],
        },
      ],
    };
    const body = Buffer.from(type.encode(type.fromObject(request)).finish());
    expect(metricsOf(decodeExportRequest('metrics', body, 'protobuf'))).toEqual([
      {
        name: 'http.server.request.duration',
        type: 'histogram',
        temporality: 'cumulative',
        dataPoints: [
          {
            attributes: {},
            timeUnixNano: 2000n,
            startTimeUnixNano: 0n,
            count: 1,
            bucketCounts: [0, 1],
            explicitBounds: [0.5],
            exemplars: [
              { timeUnixNano: 1500n, value: 0.75, traceId: TRACE_ID, spanId: SPAN_ID },
              { timeUnixNano: 1600n, value: 3 },
            ],
          },
        ],
        resource: {},
        scope: { name: '' },
      },
      {
        name: 'rpc.latency',
        type: 'summary',
        dataPoints: [{ attributes: {}, timeUnixNano: 20n, startTimeUnixNano: 10n, count: 2, sum: 9 }],
        resource: {},
        scope: { name: '' },
      },
    ]);
  });

  it('decodes JSON exemplars with hex ids, temporality by enum name and a point without a value', () => {
    const request = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'jobs',
                  sum: {
                    aggregationTemporality: 'AGGREGATION_TEMPORALITY_DELTA',
                    dataPoints: [
                      { timeUnixNano: '5', exemplars: [{ timeUnixNano: '4', asDouble: 1, traceId: TRACE_ID }] },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const decoded = decodeExportRequest('metrics', Buffer.from(JSON.stringify(request)), 'json');
    expect(metricsOf(decoded)).toEqual([
      {
        name: 'jobs',
        type: 'sum',
        temporality: 'delta',
        isMonotonic: false,
        dataPoints: [
          {
            attributes: {},
            timeUnixNano: 5n,
            startTimeUnixNano: 0n,
            value: 0,
            exemplars: [{ timeUnixNano: 4n, value: 1, traceId: TRACE_ID }],
          },
        ],
        resource: {},
        scope: { name: '' },
      },
    ]);
  });
});
