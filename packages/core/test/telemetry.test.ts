/**
 * The pipeline built from the standard variables, in process: the sampler takes
 * `OTEL_TRACES_SAMPLER_ARG`, the span limits reach the tracer provider, `b3` and `b3multi` write
 * their own header formats, and shutting the pipeline down delivers buffered spans, metrics and log
 * records to a real OTLP receiver. Each config is resolved from an explicit environment, never
 * process.env, so the OpenTelemetry SDK's own reading of the variables cannot make a test pass.
 */
import { startOtlpReceiver } from '@obs/testkit';
import type { Context } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';
import { captureDiagnostics } from '../src/diag.js';
import { reportDrops, resetDrops } from '../src/export-health.js';
import { createLoggerProvider } from '../src/logging/export.js';
import { REDACTED } from '../src/logging/redact.js';
import { opentelemetry } from '../src/otel.js';
import { startTelemetry, type Telemetry } from '../src/sdk.js';
import { createTracerProvider } from '../src/tracing/provider.js';

const { context, logs, metrics, propagation, ROOT_CONTEXT, trace, TraceFlags } = opentelemetry;

/** Nothing exported; only the pino instrumentation (there is no empty list): the pipeline alone. */
const QUIET = {
  OTEL_SERVICE_NAME: 'telemetry-test',
  OTEL_TRACES_EXPORTER: 'console',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
  OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pino',
};
const HOOKS = { ignoreIncomingPath: () => false, redactKeys: [] };

let running: Telemetry | undefined;

afterEach(async () => {
  await running?.shutdown();
  running = undefined;
  trace.disable();
  metrics.disable();
  logs.disable();
  propagation.disable();
  context.disable();
});

function tracerFor(env: Record<string, string>) {
  const config = resolveConfig({}, { ...QUIET, ...env });
  const provider = createTracerProvider(config, resourceFromAttributes({ 'service.name': 'telemetry-test' }));
  if (!provider) throw new Error('no tracer provider');
  return provider.getTracer('telemetry-test');
}

function sampledOf(env: Record<string, string>, spans = 200): number {
  const tracer = tracerFor(env);
  let sampled = 0;
  for (let i = 0; i < spans; i++) {
    const span = tracer.startSpan(`s${i}`, {}, ROOT_CONTEXT);
    if (span.spanContext().traceFlags & TraceFlags.SAMPLED) sampled++;
    span.end();
  }
  return sampled;
}

describe('sampler', () => {
  it.each([
    ['traceidratio', '0', 0],
    ['traceidratio', '1', 200],
    ['parentbased_traceidratio', '0', 0],
    ['parentbased_traceidratio', '1', 200],
  ])('%s with OTEL_TRACES_SAMPLER_ARG=%s samples %i of 200 root spans', (sampler, arg, expected) => {
    expect(sampledOf({ OTEL_TRACES_SAMPLER: sampler, OTEL_TRACES_SAMPLER_ARG: arg })).toBe(expected);
  });

  it.each([
    // sampler, root sampled, child of a sampled parent sampled, child of an unsampled parent sampled
    ['always_on', true, true, true],
    ['always_off', false, false, false],
    ['parentbased_always_on', true, true, false],
    ['parentbased_always_off', false, true, false],
    ['', true, true, false], // unset: parentbased_always_on
  ])('%j samples root %s, child of sampled %s, child of unsampled %s', (sampler, root, ofSampled, ofUnsampled) => {
    const tracer = tracerFor(sampler ? { OTEL_TRACES_SAMPLER: sampler } : {});
    const sampledIn = (ctx: Context) => {
      const span = tracer.startSpan('s', {}, ctx);
      span.end();
      return (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
    };
    const parent = (flags: number) =>
      trace.setSpanContext(ROOT_CONTEXT, {
        traceId: 'a'.repeat(32),
        spanId: 'b'.repeat(16),
        traceFlags: flags,
        isRemote: true,
      });
    expect([
      sampledIn(ROOT_CONTEXT),
      sampledIn(parent(TraceFlags.SAMPLED)),
      sampledIn(parent(TraceFlags.NONE)),
    ]).toEqual([root, ofSampled, ofUnsampled]);
  });

  it('traceidratio with OTEL_TRACES_SAMPLER_ARG=0.5 samples about half (binomial, 2000 spans: 800..1200)', () => {
    const sampled = sampledOf({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' }, 2000);
    expect(sampled).toBeGreaterThan(800);
    expect(sampled).toBeLessThan(1200);
  });
});

describe('span limits', () => {
  it('OTEL_SPAN_* limits truncate values and cap attributes, events and links on the spans', () => {
    const tracer = tracerFor({
      OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '5',
      OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '2',
      OTEL_SPAN_EVENT_COUNT_LIMIT: '1',
      OTEL_SPAN_LINK_COUNT_LIMIT: '1',
    });
    const link = { context: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 } };
    const span = tracer.startSpan('limited', { links: [link, link] }, ROOT_CONTEXT);
    span.setAttributes({ first: 'abcdefghij', second: 'x', third: 'y' });
    span.addEvent('one');
    span.addEvent('two');
    span.end();
    const read = span as unknown as ReadableSpan;
    expect(read.attributes).toEqual({ first: 'abcde', second: 'x' });
    expect(read.droppedAttributesCount).toBe(1);
    expect(read.events.map((e) => e.name)).toEqual(['two']); // the SDK keeps the newest event
    expect(read.links).toHaveLength(1);
  });

  it('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT applies to spans when no span-specific limit is set', () => {
    const span = tracerFor({ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '3' }).startSpan('limited', {}, ROOT_CONTEXT);
    span.setAttribute('value', 'abcdef');
    span.end();
    expect((span as unknown as ReadableSpan).attributes).toEqual({ value: 'abc' });
  });
});

describe('propagators', () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const spanId = 'b7ad6b7169203331';

  function injected(propagators: string): Record<string, string> {
    running = startTelemetry(resolveConfig({}, { ...QUIET, OTEL_PROPAGATORS: propagators }), HOOKS);
    const carrier: Record<string, string> = {};
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED });
    propagation.inject(ctx, carrier);
    return carrier;
  }

  it('b3 writes the single b3 header only', () => {
    expect(injected('b3')).toEqual({ b3: `${traceId}-${spanId}-1` });
  });

  it('b3multi writes the X-B3-* headers only', () => {
    expect(injected('b3multi')).toEqual({ 'x-b3-traceid': traceId, 'x-b3-spanid': spanId, 'x-b3-sampled': '1' });
  });

  it('tracecontext writes traceparent only', () => {
    expect(injected('tracecontext')).toEqual({ traceparent: `00-${traceId}-${spanId}-01` });
  });
});

describe('shutdown', () => {
  it('delivers buffered spans, metrics and log records to the OTLP endpoint before it resolves', async () => {
    const receiver = await startOtlpReceiver();
    try {
      running = startTelemetry(
        resolveConfig(
          {},
          {
            ...QUIET,
            OTEL_TRACES_EXPORTER: 'otlp',
            OTEL_METRICS_EXPORTER: 'otlp',
            OTEL_LOGS_EXPORTER: 'otlp',
            OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
            // nothing leaves on a timer during the test: only shutdown can deliver it
            OTEL_BSP_SCHEDULE_DELAY: '600000',
            OTEL_BLRP_SCHEDULE_DELAY: '600000',
            OTEL_METRIC_EXPORT_INTERVAL: '600000',
          },
        ),
        HOOKS,
      );
      trace.getTracer('telemetry-test').startSpan('buffered span').end();
      metrics.getMeter('telemetry-test').createCounter('buffered_total').add(3);
      logs.getLogger('telemetry-test').emit({ body: 'buffered record' });
      expect(receiver.requests).toHaveLength(0);

      const telemetry = running;
      running = undefined;
      await telemetry.shutdown();

      expect(receiver.spans.map((s) => s.name)).toEqual(['buffered span']);
      const counter = receiver.metrics.find((m) => m.name === 'buffered_total');
      expect(counter?.dataPoints.map((p) => p.value)).toEqual([3]);
      expect(receiver.logs.map((l) => l.body)).toEqual(['buffered record']);
    } finally {
      await receiver.close();
    }
  });
});

describe('log export', () => {
  const resource = resourceFromAttributes({ 'service.name': 'telemetry-test' });
  const logExportFor = (env: Record<string, string>) =>
    createLoggerProvider(resolveConfig({}, { ...QUIET, ...env }), resource);

  it('is off with OTEL_LOGS_EXPORTER=none', () => {
    expect(logExportFor({})).toBeUndefined();
  });

  it('hands the queued OTLP records to the exit-time export once, with the attribute limits that were set', async () => {
    const exported = logExportFor({
      OTEL_LOGS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://127.0.0.1:9/v1/logs',
      OTEL_BLRP_SCHEDULE_DELAY: '600000',
      OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: '3',
    });
    if (!exported) throw new Error('no log export');
    const attributes = Object.fromEntries(Array.from({ length: 130 }, (_, i) => [`a${i}`, 'abcdef']));
    exported.provider.getLogger('t').emit({ body: 'first', attributes });
    exported.provider.getLogger('t').emit({ body: 'second' });
    const taken = exported.takeQueued();
    expect(taken).toHaveLength(1);
    expect(taken[0]?.target).toEqual({
      signal: 'logs',
      otlp: expect.objectContaining({ url: 'http://127.0.0.1:9/v1/logs' }),
    });
    const records = taken[0]?.items as { body: unknown; attributes: Record<string, unknown> }[];
    expect(records.map((r) => r.body)).toEqual(['first', 'second']);
    // the value length limit applies; the count limit keeps the SDK's default (128)
    expect(Object.keys(records[0]?.attributes ?? {})).toHaveLength(128);
    expect(records[0]?.attributes.a0).toBe('abc');
    expect(exported.takeQueued()).toEqual([]);
    await exported.provider.shutdown();
  });

  it('counts the records a full queue drops under the logs signal', async () => {
    resetDrops();
    const diagnostics: string[] = [];
    const restore = captureDiagnostics(diagnostics);
    const receiver = await startOtlpReceiver();
    try {
      const exported = logExportFor({
        OTEL_LOGS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BLRP_SCHEDULE_DELAY: '600000',
        OTEL_BLRP_MAX_QUEUE_SIZE: '2',
        OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '2',
      });
      if (!exported) throw new Error('no log export');
      // a full batch (2) goes to the exporter, the next two wait in the queue, the fifth is dropped
      for (let i = 0; i < 5; i++) exported.provider.getLogger('t').emit({ body: `r${i}` });
      reportDrops();
      expect(diagnostics).toEqual([
        expect.stringContaining('telemetry dropped since start: 1 log records (queue_full: 1)'),
      ]);
      await exported.provider.shutdown();
      expect(receiver.logs.map((l) => l.body)).toEqual(['r0', 'r1', 'r2', 'r3']);
    } finally {
      restore();
      resetDrops();
      await receiver.close();
    }
  });

  it('writes each record to the console with OTEL_LOGS_EXPORTER=console, as it is emitted', async () => {
    const printed: unknown[] = [];
    const spy = vi.spyOn(console, 'dir').mockImplementation((item) => {
      printed.push(item);
    });
    try {
      const exported = logExportFor({ OTEL_LOGS_EXPORTER: 'console' });
      if (!exported) throw new Error('no log export');
      exported.provider.getLogger('t').emit({ body: 'to the console' });
      await exported.provider.forceFlush();
      expect(printed).toEqual([expect.objectContaining({ body: 'to the console' })]);
      expect(exported.takeQueued()).toEqual([]);
      await exported.provider.shutdown();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('span export', () => {
  const resource = resourceFromAttributes({ 'service.name': 'telemetry-test' });
  const providerFor = (env: Record<string, string>) =>
    createTracerProvider(resolveConfig({}, { ...QUIET, ...env }), resource);

  it('is off with OTEL_TRACES_EXPORTER=none', () => {
    expect(providerFor({ OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
  });

  it('writes redacted spans to the console with OTEL_TRACES_EXPORTER=console', async () => {
    const printed: unknown[] = [];
    const spy = vi.spyOn(console, 'dir').mockImplementation((item) => {
      printed.push(item);
    });
    try {
      const provider = providerFor({ OTEL_TRACES_EXPORTER: 'console' });
      if (!provider) throw new Error('no tracer provider');
      provider
        .getTracer('t')
        .startSpan('to the console', { attributes: { 'db.password': 'pw' } })
        .end();
      await provider.forceFlush();
      expect(printed).toEqual([
        expect.objectContaining({ name: 'to the console', attributes: { 'db.password': REDACTED } }),
      ]);
      await provider.shutdown();
    } finally {
      spy.mockRestore();
    }
  });

  it('counts the spans a full queue drops under the traces signal, and exports the rest over OTLP', async () => {
    resetDrops();
    const diagnostics: string[] = [];
    const restore = captureDiagnostics(diagnostics);
    const receiver = await startOtlpReceiver();
    try {
      const provider = providerFor({
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '600000',
        OTEL_BSP_MAX_QUEUE_SIZE: '2',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2',
      });
      if (!provider) throw new Error('no tracer provider');
      // a full batch (2) goes to the exporter, the next two wait in the queue, the fifth is dropped
      for (let i = 0; i < 5; i++) provider.getTracer('t').startSpan(`s${i}`, {}, ROOT_CONTEXT).end();
      reportDrops();
      expect(diagnostics).toEqual([expect.stringContaining('telemetry dropped since start: 1 spans (queue_full: 1)')]);
      await provider.shutdown();
      expect(receiver.spans.map((s) => s.name)).toEqual(['s0', 's1', 's2', 's3']);
    } finally {
      restore();
      resetDrops();
      await receiver.close();
    }
  });
});
