/**
 * Spans made by the real OpenTelemetry SDK, serialised by the real OTLP serializers
 * (`@opentelemetry/otlp-transformer`, as @obs/core's exporters send them), decoded back.
 */
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { type DecodedExport, decodeExportRequest, type ReceivedSpan, type Wire } from '../src/index.js';

function spansOf(decoded: DecodedExport): ReceivedSpan[] {
  if (decoded.signal !== 'traces') throw new Error(`decoded ${decoded.signal}`);
  return decoded.spans;
}

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const LINKED_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const LINKED_SPAN_ID = '00f067aa0ba902b7';

/** A parent SERVER span and a child CLIENT span with attributes, an event, an error status and a link. */
async function sdkSpans(): Promise<ReadableSpan[]> {
  const exporter = new InMemorySpanExporter();
  let next = 0;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.instance.id': 'i-1' }),
    idGenerator: {
      generateTraceId: () => TRACE_ID,
      generateSpanId: () => ['b7ad6b7169203331', 'a2fb4a1d1a96d312'][next++] ?? 'ffffffffffffffff',
    },
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('scope-a', '1.2.3');
  const parent = tracer.startSpan('GET /cart', {
    kind: SpanKind.SERVER,
    startTime: 1_700_000_000_123,
    attributes: { 'http.response.status_code': 200 },
  });
  const child = tracer.startSpan(
    'SELECT cart',
    {
      kind: SpanKind.CLIENT,
      startTime: 1_700_000_000_130,
      attributes: { count: 3, name: 'cart', cached: false, ratio: 0.25, tags: ['a', 'b'] },
      links: [
        {
          context: { traceId: LINKED_TRACE_ID, spanId: LINKED_SPAN_ID, traceFlags: 1 },
          attributes: { reason: 'batch' },
        },
      ],
    },
    trace.setSpan(context.active(), parent),
  );
  child.addEvent('retry', { attempt: 2 }, 1_700_000_000_140);
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'deadlock' });
  child.end(1_700_000_000_150.5);
  parent.setStatus({ code: SpanStatusCode.OK });
  parent.end(1_700_000_000_200);
  await provider.forceFlush();
  return exporter.getFinishedSpans();
}

const resource = { 'service.name': 'checkout', 'service.instance.id': 'i-1' };
const scope = { name: 'scope-a', version: '1.2.3' };

const expected: ReceivedSpan[] = [
  {
    traceId: TRACE_ID,
    spanId: 'a2fb4a1d1a96d312',
    parentSpanId: 'b7ad6b7169203331',
    name: 'SELECT cart',
    kind: 3,
    startTimeUnixNano: 1_700_000_000_130_000_000n,
    endTimeUnixNano: 1_700_000_000_150_500_000n,
    durationMs: 20.5,
    attributes: { count: 3, name: 'cart', cached: false, ratio: 0.25, tags: ['a', 'b'] },
    status: { code: 2, message: 'deadlock' },
    events: [{ name: 'retry', timeUnixNano: 1_700_000_000_140_000_000n, attributes: { attempt: 2 } }],
    links: [{ traceId: LINKED_TRACE_ID, spanId: LINKED_SPAN_ID, attributes: { reason: 'batch' } }],
    resource,
    scope,
  },
  {
    traceId: TRACE_ID,
    spanId: 'b7ad6b7169203331',
    name: 'GET /cart',
    kind: 2,
    startTimeUnixNano: 1_700_000_000_123_000_000n,
    endTimeUnixNano: 1_700_000_000_200_000_000n,
    durationMs: 77,
    attributes: { 'http.response.status_code': 200 },
    status: { code: 1 },
    events: [],
    links: [],
    resource,
    scope,
  },
];

describe('trace export requests from the OpenTelemetry serializers', () => {
  const serializers: [Wire, (spans: ReadableSpan[]) => Uint8Array | undefined][] = [
    ['protobuf', (spans) => ProtobufTraceSerializer.serializeRequest(spans)],
    ['json', (spans) => JsonTraceSerializer.serializeRequest(spans)],
  ];
  for (const [wire, serialize] of serializers) {
    it(`decode every field of the spans (${wire}): hex ids, parent, kind, nanosecond times, attributes, status, events, links`, async () => {
      const body = Buffer.from(serialize(await sdkSpans()) ?? []);
      expect(decodeExportRequest('traces', body, wire)).toEqual({ signal: 'traces', spans: expected });
    });
  }

  it('an empty request decodes to no spans', () => {
    expect(decodeExportRequest('traces', Buffer.alloc(0), 'protobuf')).toEqual({ signal: 'traces', spans: [] });
  });
});

describe('trace export requests written by other senders (OTLP/JSON)', () => {
  const json = (request: unknown) =>
    spansOf(decodeExportRequest('traces', Buffer.from(JSON.stringify(request)), 'json'));

  it('accepts snake_case keys, enum names, upper-case hex ids and the legacy instrumentationLibrarySpans', () => {
    const request = {
      resource_spans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { string_value: 'legacy' } }] },
          instrumentation_library_spans: [
            {
              instrumentation_library: { name: 'old-lib' },
              spans: [
                {
                  trace_id: TRACE_ID.toUpperCase(),
                  span_id: 'B7AD6B7169203331',
                  parent_span_id: '0000000000000000',
                  name: 'legacy',
                  kind: 'SPAN_KIND_CONSUMER',
                  start_time_unix_nano: '1000',
                  end_time_unix_nano: 3000,
                  status: { code: 'STATUS_CODE_ERROR' },
                },
              ],
            },
          ],
        },
      ],
    };
    expect(json(request)).toEqual([
      {
        traceId: TRACE_ID,
        spanId: 'b7ad6b7169203331',
        name: 'legacy',
        kind: 5,
        startTimeUnixNano: 1000n,
        endTimeUnixNano: 3000n,
        durationMs: 0.002,
        attributes: {},
        status: { code: 2 },
        events: [],
        links: [],
        resource: { 'service.name': 'legacy' },
        scope: { name: 'old-lib' },
      },
    ]);
  });

  it('converts every AnyValue kind: int64 beyond 2^53 as a bigint, bytes, key-value lists, non-finite doubles', () => {
    const attrs = [
      { key: 'big', value: { intValue: '9007199254740993' } },
      { key: 'small', value: { intValue: '-42' } },
      { key: 'bytes', value: { bytesValue: Buffer.from([1, 2, 255]).toString('base64') } },
      { key: 'map', value: { kvlistValue: { values: [{ key: 'inner', value: { boolValue: true } }] } } },
      { key: 'nan', value: { doubleValue: 'NaN' } },
      { key: 'inf', value: { doubleValue: '-Infinity' } },
      { key: 'empty', value: {} },
      { value: { stringValue: 'no key: dropped' } },
    ];
    const request = {
      resourceSpans: [
        { scopeSpans: [{ spans: [{ traceId: TRACE_ID, spanId: 'b7ad6b7169203331', attributes: attrs }] }] },
      ],
    };
    const decoded = json(request);
    expect(decoded[0]?.attributes).toEqual({
      big: 9007199254740993n,
      small: -42,
      bytes: new Uint8Array([1, 2, 255]),
      map: { inner: true },
      nan: Number.NaN,
      inf: Number.NEGATIVE_INFINITY,
      empty: undefined,
    });
    expect(decoded[0]?.scope).toEqual({ name: '' });
  });

  it('accepts int64 as {low, high} (older OpenTelemetry JS senders), an enum number as a string and an unnamed event', () => {
    const start = { low: 0x2a05f200, high: 1 }; // 2^32 + 705032704 = 5000000000
    const request = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: TRACE_ID,
                  spanId: 'b7ad6b7169203331',
                  kind: '4',
                  startTimeUnixNano: start,
                  endTimeUnixNano: { low: 0x2a05f200 + 1_000_000, high: 1 },
                  events: [{ timeUnixNano: start }],
                },
              ],
            },
          ],
        },
      ],
    };
    const [span] = json(request);
    expect(span).toMatchObject({
      kind: 4,
      startTimeUnixNano: 5_000_000_000n,
      endTimeUnixNano: 5_001_000_000n,
      durationMs: 1,
      events: [{ name: '', timeUnixNano: 5_000_000_000n, attributes: {} }],
    });
  });

  it('drops a link without ids', () => {
    const request = {
      resourceSpans: [
        {
          scopeSpans: [
            { spans: [{ traceId: TRACE_ID, spanId: 'b7ad6b7169203331', links: [{ traceId: LINKED_TRACE_ID }] }] },
          ],
        },
      ],
    };
    const decoded = json(request);
    expect(decoded[0]?.links).toEqual([]);
  });
});
