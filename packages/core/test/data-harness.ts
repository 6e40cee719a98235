/**
 * In-process telemetry for the data-layer tests: @obs's own metrics pipeline (Prometheus reader,
 * with its views) and curated instrumentations (pg, mysql2, ioredis, redis, amqplib, configured as
 * in production), spans kept in memory. Drivers must be loaded with {@link driver} (a CommonJS
 * require) after {@link startDataTelemetry}, so that the instrumentations patch them.
 */
import { createRequire } from 'node:module';
import { context, metrics, propagation, type Span, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { resolveConfig } from '../src/config/resolve.js';
import { createMetricsPipeline, type MetricsPipeline } from '../src/metrics/pipeline.js';
import { createInstrumentations } from '../src/tracing/instrumentations.js';

export const HOST = '127.0.0.1';
export const PG = { host: HOST, port: 5432, user: 'postgres', database: 'test' };
export const MYSQL = { host: HOST, port: 3306, user: 'root', password: '', database: 'test' };
export const REDIS_URL = `redis://${HOST}:6379`;
export const AMQP_URL = `amqp://guest:guest@${HOST}:5672`;

export interface DataTelemetry {
  spans: InMemorySpanExporter;
  pipeline: MetricsPipeline;
  tracerProvider: TracerProvider;
  shutdown(): Promise<void>;
}

/** Install the global providers and the data instrumentations (once per test file). */
export function startDataTelemetry(): DataTelemetry {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const spans = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] });
  trace.setGlobalTracerProvider(tracerProvider);
  const config = resolveConfig({ serviceName: 'data-test' }, {});
  const pipeline = createMetricsPipeline(config, resourceFromAttributes({ 'service.name': 'data-test' }));
  metrics.setGlobalMeterProvider(pipeline.meterProvider);
  const instrumentations = createInstrumentations(['pg', 'mysql2', 'ioredis', 'redis', 'amqplib'], {
    ignoreIncomingPath: () => false,
  });
  const unregister = registerInstrumentations({
    instrumentations,
    tracerProvider,
    meterProvider: pipeline.meterProvider,
  });
  return {
    spans,
    pipeline,
    tracerProvider,
    async shutdown() {
      unregister();
      await tracerProvider.shutdown();
      await pipeline.shutdown();
      contextManager.disable();
    },
  };
}

/** Load a driver through CommonJS `require`, which the instrumentations hook. */
export const driver = createRequire(import.meta.url);

/** Run `fn` in a SERVER span standing for an incoming request; returns its result and the span. */
export async function inRequest<T>(name: string, fn: () => Promise<T>): Promise<{ result: T; span: Span }> {
  const tracer = trace.getTracer('data-test');
  return tracer.startActiveSpan(name, { kind: SpanKind.SERVER }, async (span) => {
    try {
      return { result: await fn(), span };
    } finally {
      span.end();
    }
  });
}

/** One sample of the Prometheus exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse the text exposition into samples (label values unescaped). */
export function parseSamples(body: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_all, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Scrape the pipeline as `/metrics` would. */
export async function scrape(pipeline: MetricsPipeline): Promise<{ body: string; samples: Sample[] }> {
  const { body } = await pipeline.render();
  return { body, samples: parseSamples(body) };
}

/** Sum of the samples of `name` whose labels include `labels`; undefined when none matches. */
export function sampleValue(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const matching = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return matching.length === 0 ? undefined : matching.reduce((sum, s) => sum + s.value, 0);
}

/** Finished spans that satisfy `predicate`. */
export function spansWhere(exporter: InMemorySpanExporter, predicate: (span: ReadableSpan) => boolean): ReadableSpan[] {
  return exporter.getFinishedSpans().filter(predicate);
}

/** Poll until `check` returns a value other than undefined/false (rejects after `timeoutMs`). */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
