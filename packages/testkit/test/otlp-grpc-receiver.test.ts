/**
 * The OTLP/gRPC receiver against the official OpenTelemetry gRPC exporters (the three signals,
 * metadata, gzip), a refusing receiver, and an undecodable request sent with a raw grpc-js client.
 */
import { credentials, Metadata, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { type OtlpGrpcReceiver, startOtlpGrpcReceiver } from '../src/index.js';

let receiver: OtlpGrpcReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

const resource = resourceFromAttributes({ 'service.name': 'grpc-receiver-test' });

function metadata(entries: Record<string, string>): Metadata {
  const m = new Metadata();
  for (const [k, v] of Object.entries(entries)) m.set(k, v);
  return m;
}

describe('startOtlpGrpcReceiver', () => {
  it('receives spans, log records and metrics from the official gRPC exporters, with metadata and gzip', async () => {
    const r = await startOtlpGrpcReceiver();
    receiver = r;
    expect(r.url).toBe(`http://127.0.0.1:${r.port}`);
    const options = { url: r.url, compression: 'gzip' as never, metadata: metadata({ 'x-key': 'k1' }) };
    const tracerProvider = new TracerProvider({
      resource,
      spanProcessors: [new SimpleSpanProcessor({ exporter: new OTLPTraceExporter(options) })],
    });
    const loggerProvider = new LoggerProvider({
      resource,
      processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter(options) })],
    });
    const meterProvider = new MeterProvider({
      resource,
      readers: [
        new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(options), exportIntervalMillis: 60_000 }),
      ],
    });
    tracerProvider
      .getTracer('t')
      .startSpan('grpc span', { attributes: { pad: 'x'.repeat(50_000) } })
      .end();
    loggerProvider.getLogger('t').emit({ body: 'grpc record' });
    meterProvider.getMeter('t').createCounter('grpc_total').add(2);
    await Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown(), meterProvider.shutdown()]);

    expect(r.spans.map((s) => s.name)).toEqual(['grpc span']);
    expect(r.logs.map((l) => l.body)).toEqual(['grpc record']);
    expect(r.metrics.find((m) => m.name === 'grpc_total')?.dataPoints.map((p) => p.value)).toEqual([2]);
    expect(r.calls.map((c) => c.signal).sort()).toEqual(['logs', 'metrics', 'traces']);
    expect(r.calls.every((c) => c.metadata['x-key'] === 'k1')).toBe(true);
    expect(r.calls.find((c) => c.signal === 'traces')?.bytes).toBeGreaterThan(50_000);
    expect(r.wireBytes).toBeLessThan(10_000); // gzip
    await r.waitFor(() => r.spans.length === 1);

    r.reset();
    expect([r.spans, r.logs, r.metrics, r.calls].map((a) => a.length)).toEqual([0, 0, 0, 0]);
    expect(r.wireBytes).toBe(0);
    await expect(r.waitFor(() => r.spans.length > 0, { timeoutMs: 50 })).rejects.toThrow(
      /OtlpGrpcReceiver.waitFor timed out after 50 ms: received 0 span/,
    );
  });

  it('answers with `respondWith`, recording the call but storing nothing', async () => {
    const r = await startOtlpGrpcReceiver({ respondWith: 8 }); // RESOURCE_EXHAUSTED
    receiver = r;
    const exporter = new OTLPTraceExporter({ url: r.url });
    const provider = new TracerProvider({ resource });
    const span = provider.getTracer('t').startSpan('refused');
    span.end();
    const result = await new Promise<{ code: number; error?: Error }>((resolve) =>
      exporter.export([span as never], resolve),
    );
    await exporter.shutdown();
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect((result.error as ServiceError | undefined)?.code).toBe(8);
    expect(r.calls).toHaveLength(1);
    expect(r.spans).toHaveLength(0);
  });

  it('answers INVALID_ARGUMENT to a request it cannot decode', async () => {
    const r = await startOtlpGrpcReceiver();
    receiver = r;
    const raw = (b: Buffer) => b;
    const Client = makeGenericClientConstructor(
      {
        Export: {
          path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
          requestStream: false,
          responseStream: false,
          requestSerialize: raw,
          requestDeserialize: raw,
          responseSerialize: raw,
          responseDeserialize: raw,
        },
      },
      'LogsService',
    );
    const client = new Client(`127.0.0.1:${r.port}`, credentials.createInsecure()) as unknown as {
      Export(body: Buffer, done: (err: ServiceError | null) => void): void;
      close(): void;
    };
    const err = await new Promise<ServiceError | null>((resolve) =>
      client.Export(Buffer.from([0xff, 0xff, 0xff]), resolve),
    );
    client.close();
    expect(err?.code).toBe(3);
    expect(r.calls).toHaveLength(1);
    expect(r.logs).toHaveLength(0);
  });
});
