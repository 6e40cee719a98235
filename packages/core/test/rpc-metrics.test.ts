/**
 * `rpc.server.call.duration` and `rpc.client.call.duration` (src/tracing/rpc-metrics.ts) in the test
 * process: an instrumentation stand-in handed a real tracer provider, spans started the way
 * instrumentation-grpc starts them, and the histograms read from a real meter provider.
 */
import { metrics, type Span, SpanKind, SpanStatusCode, type TracerProvider, trace } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  TracerProvider as SdkTracerProvider,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { measureRpcCalls, rpcLabels } from '../src/tracing/rpc-metrics.js';

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const exporter = new InMemorySpanExporter();
const tracerProvider = new SdkTracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const reader = new TestReader();
const meterProvider = new MeterProvider({ readers: [reader] });

beforeAll(() => {
  metrics.setGlobalMeterProvider(meterProvider);
});
afterAll(async () => {
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
  metrics.disable();
  trace.disable();
});
beforeEach(async () => {
  await reader.collect(); // delta: start every test from zero
  exporter.reset();
});
afterEach(() => {
  vi.useRealTimers();
});

interface Point {
  attributes: Record<string, unknown>;
  value: { count: number; sum: number };
}

async function points(name: string): Promise<Point[]> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []) as unknown as Point[];
}

/** An instrumentation stand-in that keeps the tracer provider it is given, as InstrumentationBase does. */
function fakeInstrumentation(): Instrumentation & { provider?: TracerProvider } {
  const fake = {
    instrumentationName: 'fake-grpc',
    instrumentationVersion: '0',
    provider: undefined as TracerProvider | undefined,
    setTracerProvider(provider: TracerProvider) {
      fake.provider = provider;
    },
  };
  return fake as unknown as Instrumentation & { provider?: TracerProvider };
}

function measuredTracer() {
  const instrumentation = measureRpcCalls(fakeInstrumentation());
  instrumentation.setTracerProvider(tracerProvider);
  return (instrumentation.provider as TracerProvider).getTracer('@opentelemetry/instrumentation-grpc', '0.300.0');
}

describe('rpcLabels', () => {
  it('names the method package.Service/Method and the status by its gRPC name', () => {
    expect(rpcLabels({ 'rpc.service': 'demo.Echo', 'rpc.method': 'Say', 'rpc.grpc.status_code': 5 }, false)).toEqual({
      'rpc.system.name': 'grpc',
      'rpc.method': 'demo.Echo/Say',
      'rpc.status_code': 'NOT_FOUND',
    });
  });

  it('maps every gRPC status code to its name, and an unknown code to its number', () => {
    const names = [
      'OK',
      'CANCELLED',
      'UNKNOWN',
      'INVALID_ARGUMENT',
      'DEADLINE_EXCEEDED',
      'NOT_FOUND',
      'ALREADY_EXISTS',
      'PERMISSION_DENIED',
      'RESOURCE_EXHAUSTED',
      'FAILED_PRECONDITION',
      'ABORTED',
      'OUT_OF_RANGE',
      'UNIMPLEMENTED',
      'INTERNAL',
      'UNAVAILABLE',
      'DATA_LOSS',
      'UNAUTHENTICATED',
    ];
    const labelled = [...names.keys(), 17].map(
      (code) => rpcLabels({ 'rpc.grpc.status_code': code }, false)['rpc.status_code'],
    );
    expect(labelled).toEqual([...names, '17']);
  });

  it('uses _OTHER without both service and method, and UNKNOWN without a numeric status', () => {
    const labels = (attrs: Record<string, string | number>) => rpcLabels(attrs, false);
    expect(labels({ 'rpc.method': 'Say', 'rpc.grpc.status_code': '0' })).toMatchObject({
      'rpc.method': '_OTHER',
      'rpc.status_code': 'UNKNOWN',
    });
    expect(labels({ 'rpc.service': 'demo.Echo' })['rpc.method']).toBe('_OTHER');
    expect(labels({ 'rpc.service': 'demo.Echo', 'rpc.method': 7 })['rpc.method']).toBe('_OTHER');
  });

  it('adds server.address for clients only, from server.address or else net.peer.name', () => {
    expect(rpcLabels({ 'server.address': 'a.example', 'net.peer.name': 'b.example' }, true)['server.address']).toBe(
      'a.example',
    );
    expect(rpcLabels({ 'net.peer.name': 'b.example' }, true)['server.address']).toBe('b.example');
    expect(rpcLabels({ 'server.address': 1, 'net.peer.name': 'b.example' }, true)['server.address']).toBe('b.example');
    expect(rpcLabels({ 'server.address': 'a.example', 'net.peer.name': 'b.example' }, false)).not.toHaveProperty(
      'server.address',
    );
    expect(rpcLabels({ 'net.peer.name': 'b.example' }, false)).not.toHaveProperty('server.address');
    expect(rpcLabels({ 'net.peer.name': 2 }, true)).not.toHaveProperty('server.address');
  });
});

describe('measureRpcCalls', () => {
  it('records a SERVER span duration in seconds once, with the labels set during the call', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    vi.advanceTimersByTime(10_000); // a process that has run a while
    const span = measuredTracer().startSpan('grpc.demo.Echo/Say', { kind: SpanKind.SERVER });
    span.setAttributes({ 'rpc.service': 'demo.Echo', 'rpc.method': 'Say' });
    vi.advanceTimersByTime(1500);
    span.setStatus({ code: SpanStatusCode.ERROR }).setAttribute('rpc.grpc.status_code', 5);
    span.end();
    vi.advanceTimersByTime(1000);
    span.end();
    const [point, ...others] = await points('rpc.server.call.duration');
    expect(others).toEqual([]);
    expect(point?.attributes).toEqual({
      'rpc.system.name': 'grpc',
      'rpc.method': 'demo.Echo/Say',
      'rpc.status_code': 'NOT_FOUND',
    });
    expect(point?.value.count).toBe(1);
    expect(point?.value.sum).toBe(1.5);
    expect(await points('rpc.client.call.duration')).toEqual([]);
  });

  it('records a CLIENT span under rpc.client.call.duration with server.address', async () => {
    const span = measuredTracer().startSpan('grpc.demo.Echo/Say', { kind: SpanKind.CLIENT });
    span.setAttribute('rpc.service', 'demo.Echo').setAttribute('rpc.method', 'Say');
    span.setAttributes({ 'server.address': '127.0.0.1' }).setAttributes({ 'rpc.grpc.status_code': 0 });
    span.end();
    const [point, ...others] = await points('rpc.client.call.duration');
    expect(others).toEqual([]);
    expect(point?.attributes).toEqual({
      'rpc.system.name': 'grpc',
      'rpc.method': 'demo.Echo/Say',
      'rpc.status_code': 'OK',
      'server.address': '127.0.0.1',
    });
    expect(point?.value.count).toBe(1);
    expect(await points('rpc.server.call.duration')).toEqual([]);
  });

  it('leaves the span as it was: attributes, name, context, end time and tracer scope', async () => {
    const span = measuredTracer().startSpan('grpc.demo.Echo/Say', { kind: SpanKind.SERVER });
    span.setAttribute('rpc.service', 'demo.Echo').setAttributes({ 'rpc.method': 'Say' });
    expect((span as unknown as { name: string }).name).toBe('grpc.demo.Echo/Say');
    expect(span.isRecording()).toBe(true);
    span.updateName('renamed').setAttribute('rpc.grpc.status_code', 0);
    const endMs = (Math.floor(Date.now() / 1000) + 60) * 1000;
    span.end(endMs);
    const [done, ...others] = exporter.getFinishedSpans();
    expect(others).toEqual([]);
    expect(done?.name).toBe('renamed');
    expect(done?.spanContext()).toEqual(span.spanContext());
    expect(done?.attributes).toEqual({ 'rpc.service': 'demo.Echo', 'rpc.method': 'Say', 'rpc.grpc.status_code': 0 });
    expect(done?.endTime).toEqual([endMs / 1000, 0]);
    expect(done?.instrumentationScope).toMatchObject({
      name: '@opentelemetry/instrumentation-grpc',
      version: '0.300.0',
    });
    expect((await points('rpc.server.call.duration'))[0]?.attributes['rpc.status_code']).toBe('OK');
  });

  it('measures neither INTERNAL spans nor spans started with startActiveSpan', async () => {
    const tracer = measuredTracer();
    const internal = tracer.startSpan('internal', { kind: SpanKind.INTERNAL });
    internal.end();
    tracer.startSpan('no options').end();
    const result = tracer.startActiveSpan('active', { kind: SpanKind.SERVER }, (span: Span) => {
      span.end();
      return 7;
    });
    expect(result).toBe(7);
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['internal', 'no options', 'active']);
    expect(await points('rpc.server.call.duration')).toEqual([]);
    expect(await points('rpc.client.call.duration')).toEqual([]);
  });

  it('wraps the global tracer provider at once, and returns the instrumentation it was given', async () => {
    const fake = fakeInstrumentation();
    trace.setGlobalTracerProvider(tracerProvider);
    try {
      expect(measureRpcCalls(fake)).toBe(fake);
      (fake.provider as TracerProvider).getTracer('t').startSpan('at once', { kind: SpanKind.SERVER }).end();
    } finally {
      trace.disable();
    }
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['at once']);
    expect((await points('rpc.server.call.duration'))[0]?.value.count).toBe(1);
  });
});
