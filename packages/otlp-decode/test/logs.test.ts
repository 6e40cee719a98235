/**
 * Log records emitted through the real OpenTelemetry logs SDK, serialised by the real OTLP
 * serializers (`@opentelemetry/otlp-transformer`), decoded back.
 */
import { context, SeverityNumber, trace } from '@opentelemetry/api';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemoryLogRecordExporter,
  LoggerProvider,
  type ReadableLogRecord,
  SimpleLogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import { describe, expect, it } from 'vitest';
import { type DecodedExport, decodeExportRequest, type ReceivedLog, type Wire } from '../src/index.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

function logsOf(decoded: DecodedExport): ReceivedLog[] {
  if (decoded.signal !== 'logs') throw new Error(`decoded ${decoded.signal}`);
  return decoded.logs;
}

/** A record inside a span with a structured body, and a plain one outside any span. */
async function sdkLogRecords(): Promise<ReadableLogRecord[]> {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout' }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger('pino', '10.4.0');
  const inSpan = trace.setSpanContext(context.active(), { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
  logger.emit({
    timestamp: 1_700_000_000_123,
    observedTimestamp: 1_700_000_000_999,
    severityNumber: SeverityNumber.WARN,
    severityText: 'warn',
    body: { msg: 'slow query', ms: 1200, tags: ['db', 'pg'] },
    attributes: { 'code.function': 'load', retries: 2 },
    context: inSpan,
  });
  logger.emit({ timestamp: 1_700_000_001_000, body: 'plain line' });
  await provider.forceFlush();
  return exporter.getFinishedLogRecords();
}

describe('log export requests from the OpenTelemetry serializers', () => {
  const serializers: [Wire, (records: ReadableLogRecord[]) => Uint8Array | undefined][] = [
    ['protobuf', (records) => ProtobufLogsSerializer.serializeRequest(records)],
    ['json', (records) => JsonLogsSerializer.serializeRequest(records)],
  ];
  for (const [wire, serialize] of serializers) {
    it(`decode time, severity, body, attributes and the correlated span (${wire})`, async () => {
      const body = Buffer.from(serialize(await sdkLogRecords()) ?? []);
      const resource = { 'service.name': 'checkout' };
      const scope = { name: 'pino', version: '10.4.0' };
      expect(logsOf(decodeExportRequest('logs', body, wire))).toEqual([
        {
          timeUnixNano: 1_700_000_000_123_000_000n,
          severityNumber: 13,
          severityText: 'warn',
          body: { msg: 'slow query', ms: 1200, tags: ['db', 'pg'] },
          attributes: { 'code.function': 'load', retries: 2 },
          traceId: TRACE_ID,
          spanId: SPAN_ID,
          resource,
          scope,
        },
        { timeUnixNano: 1_700_000_001_000_000_000n, body: 'plain line', attributes: {}, resource, scope },
      ]);
    });
  }

  it('reads a severity given by its enum name, and the observed time when the time is unset (OTLP/JSON)', () => {
    const request = {
      resourceLogs: [
        {
          scopeLogs: [
            { logRecords: [{ timeUnixNano: '0', observedTimeUnixNano: '7', severityNumber: 'SEVERITY_NUMBER_ERROR' }] },
          ],
        },
      ],
    };
    const decoded = decodeExportRequest('logs', Buffer.from(JSON.stringify(request)), 'json');
    expect(logsOf(decoded)).toEqual([
      { timeUnixNano: 7n, severityNumber: 17, body: undefined, attributes: {}, resource: {}, scope: { name: '' } },
    ]);
  });
});
