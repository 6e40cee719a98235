/**
 * What the decoder promises on a body that is not a valid export request: it throws `BadRequest`
 * (which an OTLP/HTTP server answers with 400), never another error and never a partial result.
 */
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { BadRequest, decodeExportRequest, type Signal, type Wire } from '../src/index.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

function failure(signal: Signal, body: Buffer | string, wire: Wire): BadRequest {
  try {
    decodeExportRequest(signal, Buffer.from(body), wire);
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequest);
    expect((err as BadRequest).name).toBe('BadRequest');
    return err as BadRequest;
  }
  throw new Error('decoded without an error');
}

/** A JSON trace request with one span, `fields` merged into the span. */
const spanRequest = (fields: Record<string, unknown>) =>
  JSON.stringify({
    resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: TRACE_ID, spanId: SPAN_ID, name: 's', ...fields }] }] }],
  });

async function realSpans() {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  provider.getTracer('t').startSpan('a span with a name long enough to truncate').end();
  await provider.forceFlush();
  return exporter.getFinishedSpans();
}

describe('protobuf bodies that are not export requests', () => {
  it('rejects bytes that are not protobuf', () => {
    const err = failure('traces', Buffer.from([0xff, 0xff, 0xff, 0xff]), 'protobuf');
    expect(err.message).toMatch(/^invalid protobuf ExportTraceServiceRequest: /);
  });

  it('rejects a real request cut short', async () => {
    const whole = Buffer.from(ProtobufTraceSerializer.serializeRequest(await realSpans()) ?? []);
    const err = failure('traces', whole.subarray(0, whole.length - 10), 'protobuf');
    expect(err.message).toMatch(/^invalid protobuf ExportTraceServiceRequest: index out of range/);
  });

  it('rejects a field of the wrong wire type', () => {
    // field 1 (resource_logs) as a varint instead of a length-delimited message
    const err = failure('logs', Buffer.from([0x08, 0x01]), 'protobuf');
    expect(err.message).toMatch(/^invalid protobuf ExportLogsServiceRequest: /);
  });
});

describe('JSON bodies that are not export requests', () => {
  it('rejects text that is not JSON, e.g. a real request cut short', async () => {
    const whole = Buffer.from(JsonTraceSerializer.serializeRequest(await realSpans()) ?? []);
    expect(failure('traces', whole.subarray(0, whole.length - 3), 'json').message).toMatch(/^invalid JSON: /);
  });

  it('rejects JSON that is not an object', () => {
    expect(failure('metrics', '[]', 'json').message).toBe('OTLP/JSON body is not an object');
    expect(failure('logs', 'null', 'json').message).toBe('OTLP/JSON body is not an object');
  });

  it('rejects a list field that is not an array', () => {
    expect(failure('traces', '{"resourceSpans":{}}', 'json').message).toBe('field resourceSpans is not an array');
  });

  it('rejects a span without a trace id or span id (or with all-zero ids)', () => {
    expect(failure('traces', spanRequest({ traceId: undefined }), 'json').message).toBe(
      'span without trace id or span id',
    );
    expect(failure('traces', spanRequest({ spanId: '0000000000000000' }), 'json').message).toBe(
      'span without trace id or span id',
    );
  });

  it('rejects ids that are not hex strings', () => {
    expect(failure('traces', spanRequest({ traceId: 'not-hex' }), 'json').message).toBe(
      'invalid trace/span id: not-hex',
    );
    expect(failure('traces', spanRequest({ spanId: 42 }), 'json').message).toBe('trace/span id is not a string');
  });

  it('rejects timestamps that are not int64', () => {
    expect(failure('traces', spanRequest({ startTimeUnixNano: { seconds: 1 } }), 'json').message).toBe(
      'not an int64: {"seconds":1}',
    );
    expect(failure('traces', spanRequest({ endTimeUnixNano: '12abc' }), 'json').message).toMatch(
      /^invalid traces request: Cannot convert 12abc to a BigInt/,
    );
  });

  it('rejects a metric value that is not a number', () => {
    const request = {
      resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'm', gauge: { dataPoints: [{ asDouble: true }] } }] }] }],
    };
    expect(failure('metrics', JSON.stringify(request), 'json').message).toBe('not an int64: true');
  });

  it('rejects unknown enum names', () => {
    expect(failure('traces', spanRequest({ kind: 'SPAN_KIND_NOPE' }), 'json').message).toBe(
      'not a SpanKind value: "SPAN_KIND_NOPE"',
    );
    expect(failure('traces', spanRequest({ kind: 'constructor' }), 'json').message).toBe(
      'not a SpanKind value: "constructor"',
    );
    const logs = JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityNumber: true }] }] }] });
    expect(failure('logs', logs, 'json').message).toBe('not a SeverityNumber value: true');
  });
});
