/**
 * The pipeline built from the standard variables, in process: the sampler takes
 * `OTEL_TRACES_SAMPLER_ARG`, the span limits reach the tracer provider, `b3` and `b3multi` write
 * their own header formats, and shutting the pipeline down delivers buffered spans, metrics and log
 * records to a real OTLP receiver. The SDK's own diagnostics, the resource, `OTEL_SDK_DISABLED`, the
 * instrumentations' start and stop, `forceFlush` and `takeUndelivered` are checked after them (written
 * from the surviving mutants of `src/sdk.ts`, docs/testing.md). Each config is resolved from an explicit environment, never
 * process.env, so the OpenTelemetry SDK's own reading of the variables cannot make a test pass.
 */
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { startOtlpReceiver } from '@obs/testkit';
import type { Context, Tracer } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type InstrumentationName, resolveConfig } from '../src/config/resolve.js';
import { captureDiagnostics } from '../src/diag.js';
import { reportDrops, resetDrops } from '../src/export-health.js';
import { createLoggerProvider } from '../src/logging/export.js';
import { REDACTED } from '../src/logging/redact.js';
import { opentelemetry } from '../src/otel.js';
import { startTelemetry, type Telemetry } from '../src/sdk.js';
import { createTracerProvider } from '../src/tracing/provider.js';

const { context, diag, logs, metrics, propagation, ROOT_CONTEXT, trace, TraceFlags } = opentelemetry;

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
  diag.disable();
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

/**
 * The pipeline exporting every signal over OTLP to `endpoint`, with nothing leaving on a timer during
 * a test: only a flush or the shutdown can deliver what it buffers.
 */
function startBuffering(endpoint: string): Telemetry {
  const env = {
    ...QUIET,
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_METRICS_EXPORTER: 'otlp',
    OTEL_LOGS_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '600000',
    OTEL_BLRP_SCHEDULE_DELAY: '600000',
    OTEL_METRIC_EXPORT_INTERVAL: '600000',
  };
  return startTelemetry(resolveConfig({}, env), HOOKS);
}

describe('shutdown', () => {
  it('delivers buffered spans, metrics and log records to the OTLP endpoint before it resolves', async () => {
    const receiver = await startOtlpReceiver();
    try {
      running = startBuffering(receiver.url);
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

/** The diagnostics printed while `run` runs, in a pipeline started from `env` (its start-up lines left out). */
function diagnosticsOf(env: Record<string, string>, run: () => void): string[] {
  const startup: string[] = [];
  const lines: string[] = [];
  let restore = captureDiagnostics(startup);
  try {
    running = startTelemetry(resolveConfig({}, { ...QUIET, ...env }), HOOKS);
  } finally {
    restore();
  }
  restore = captureDiagnostics(lines);
  try {
    run();
  } finally {
    restore();
  }
  return lines;
}

describe("the SDK's own diagnostics (OTEL_LOG_LEVEL)", () => {
  it('reach @obs diagnostics prefixed "opentelemetry:", an error by its message and code', () => {
    const lines = diagnosticsOf({}, () => {
      diag.error('export failed:', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
      diag.warn('plain warning', { attempt: 2 }, undefined, 'tail');
    });
    expect(lines).toEqual([
      '@obs error: opentelemetry: export failed: connect ECONNREFUSED (ECONNREFUSED)',
      '@obs warn: opentelemetry: plain warning {"attempt":2} tail',
    ]);
  });

  it('describe an error the SDK passes already serialised as JSON by its message and code', () => {
    const lines = diagnosticsOf({}, () => {
      diag.error('{"message":"14 UNAVAILABLE: No connection established","code":14}');
      diag.error('request failed', '{"message":"Bad Request","code":"400"}');
      diag.error('{"stack": "no message here"}');
      diag.error('{"not json');
      diag.error(' {"message":"not the serialised form"}');
    });
    expect(lines).toEqual([
      '@obs error: opentelemetry: 14 UNAVAILABLE: No connection established (14)',
      '@obs error: opentelemetry: request failed Bad Request (400)',
      '@obs error: opentelemetry: {"stack": "no message here"}',
      '@obs error: opentelemetry: {"not json',
      '@obs error: opentelemetry:  {"message":"not the serialised form"}',
    ]);
  });

  it('describe an error without a code, and a value JSON cannot write, without failing', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const lines = diagnosticsOf({}, () => {
      diag.error('failed', new Error('no code'), circular, { message: 42 });
      diag.error('also failed', Object.assign(new Error('code unset'), { code: undefined }), 42, null);
    });
    expect(lines).toEqual([
      '@obs error: opentelemetry: failed no code [object Object] {"message":42}',
      '@obs error: opentelemetry: also failed code unset 42 null',
    ]);
  });

  it("leave out the batch processors' queue-full warning (the drop report counts it)", () => {
    const lines = diagnosticsOf({}, () => {
      diag.warn('Dropped 12 spans because maxQueueSize reached');
      diag.warn('Not dropped: maxQueueSize reached');
      diag.warn('Exporter: Dropped 3 spans because maxQueueSize reached');
    });
    expect(lines).toEqual([
      '@obs warn: opentelemetry: Not dropped: maxQueueSize reached',
      '@obs warn: opentelemetry: Exporter: Dropped 3 spans because maxQueueSize reached',
    ]);
  });

  const emitAll = () => {
    diag.error('e');
    diag.warn('w');
    diag.info('i');
    diag.debug('d');
    diag.verbose('v');
  };
  it.each([
    ['error', ['@obs error: opentelemetry: e']],
    ['warn', ['@obs error: opentelemetry: e', '@obs warn: opentelemetry: w']],
    ['info', ['@obs error: opentelemetry: e', '@obs warn: opentelemetry: w', '@obs info: opentelemetry: i']],
    [
      'all',
      [
        '@obs error: opentelemetry: e',
        '@obs warn: opentelemetry: w',
        '@obs info: opentelemetry: i',
        '@obs debug: opentelemetry: d',
        '@obs debug: opentelemetry: v',
      ],
    ],
  ])('print at OTEL_LOG_LEVEL=%s only what that level lets through (verbose as debug)', (level, expected) => {
    expect(diagnosticsOf({ OTEL_LOG_LEVEL: level }, emitAll)).toEqual(expected);
  });

  it('are not installed at all with OTEL_LOG_LEVEL=none', () => {
    expect(diagnosticsOf({ OTEL_LOG_LEVEL: 'none' }, () => diag.error('e'))).toEqual([]);
  });

  it("leave the app's own diag logger in place with OTEL_LOG_LEVEL=none", () => {
    const seen: string[] = [];
    const own = (m: string) => {
      seen.push(m);
    };
    diag.setLogger({ error: own, warn: own, info: own, debug: own, verbose: own }, opentelemetry.DiagLogLevel.ERROR);
    running = startTelemetry(resolveConfig({}, { ...QUIET, OTEL_LOG_LEVEL: 'none' }), HOOKS);
    diag.error('to the app');
    expect(seen).toEqual(['to the app']);
  });
});

describe('the resource', () => {
  const start = async (env: Record<string, string>) => {
    running = startTelemetry(resolveConfig({}, { ...QUIET, ...env }), HOOKS);
    await running.resource.waitForAsyncAttributes?.();
    return running.resource.attributes;
  };

  it('by default: the host (name, arch in semconv terms), the process and a service instance id, not the OS', async () => {
    const attributes = await start({ OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test' });
    expect(attributes['service.name']).toBe('telemetry-test');
    expect(attributes['deployment.environment.name']).toBe('test');
    expect(attributes['telemetry.sdk.language']).toBe('nodejs');
    expect(attributes['host.name']).toBe(hostname());
    const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: 'x86', arm: 'arm32' };
    expect(attributes['host.arch']).toBe(arch[process.arch] ?? process.arch);
    expect(attributes['process.pid']).toBe(process.pid);
    expect(attributes['service.instance.id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(attributes['os.type']).toBeUndefined();
  });

  it('OTEL_NODE_RESOURCE_DETECTORS=os adds the OS and nothing else', async () => {
    const attributes = await start({ OTEL_NODE_RESOURCE_DETECTORS: 'os' });
    expect(attributes['os.type']).toBe(process.platform);
    expect(attributes['host.name']).toBeUndefined();
    expect(attributes['process.pid']).toBeUndefined();
    expect(attributes['service.instance.id']).toBeUndefined();
    expect(attributes['service.name']).toBe('telemetry-test');
  });

  it('OTEL_NODE_RESOURCE_DETECTORS=none keeps the configured attributes and the SDK defaults only', async () => {
    const attributes = await start({ OTEL_NODE_RESOURCE_DETECTORS: 'none', OTEL_RESOURCE_ATTRIBUTES: 'team=a' });
    expect(Object.keys(attributes).sort()).toEqual([
      'service.name',
      'team',
      'telemetry.sdk.language',
      'telemetry.sdk.name',
      'telemetry.sdk.version',
    ]);
  });
});

describe('propagators: baggage and none', () => {
  it('tracecontext,baggage write traceparent and baggage', () => {
    running = startTelemetry(resolveConfig({}, { ...QUIET, OTEL_PROPAGATORS: 'tracecontext,baggage' }), HOOKS);
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const spanId = 'b7ad6b7169203331';
    let ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED });
    ctx = propagation.setBaggage(ctx, propagation.createBaggage({ tenant: { value: 'a' } }));
    const carrier: Record<string, string> = {};
    propagation.inject(ctx, carrier);
    expect(carrier).toEqual({ traceparent: `00-${traceId}-${spanId}-01`, baggage: 'tenant=a' });
  });

  it('none writes nothing, and fails at nothing', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
    });
    const carrier: Record<string, string> = {};
    const lines = diagnosticsOf({ OTEL_PROPAGATORS: 'none' }, () => propagation.inject(ctx, carrier));
    expect(carrier).toEqual({});
    expect(lines).toEqual([]);
  });
});

const names = (telemetry: Telemetry) => telemetry.instrumentations.map((i) => i.instrumentationName).sort();

describe('OTEL_SDK_DISABLED', () => {
  it('makes no provider, runs only the outgoing http and undici instrumentations, and has nothing to deliver', async () => {
    running = startTelemetry(
      resolveConfig(
        {},
        { ...QUIET, OTEL_SDK_DISABLED: 'true', OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,undici,pino' },
      ),
      HOOKS,
    );
    const telemetry = running;
    expect(telemetry.tracerProvider).toBeUndefined();
    expect(telemetry.metrics).toBeUndefined();
    expect(telemetry.loggerProvider).toBeUndefined();
    expect(names(telemetry)).toEqual(['@opentelemetry/instrumentation-http', '@opentelemetry/instrumentation-undici']);
    expect(telemetry.instrumentations.every((i) => (i as unknown as { isEnabled(): boolean }).isEnabled())).toBe(true);
    telemetry.disableInstrumentation('undici');
    const enabled = () =>
      telemetry.instrumentations
        .filter((i) => (i as unknown as { isEnabled(): boolean }).isEnabled())
        .map((i) => i.instrumentationName);
    expect(enabled()).toEqual(['@opentelemetry/instrumentation-http']);
    telemetry.startRuntimeMetrics();
    expect(names(telemetry)).toHaveLength(2);
    await telemetry.forceFlush();
    expect(telemetry.takeUndelivered()).toEqual([]);
    running = undefined;
    await telemetry.shutdown();
    expect(enabled()).toEqual([]);
  });
});

const enabledNames = (telemetry: Telemetry) =>
  telemetry.instrumentations
    .filter((i) => (i as unknown as { isEnabled(): boolean }).isEnabled())
    .map((i) => i.instrumentationName)
    .sort();

/** What `runtime-node` starts: the event loop and V8 metrics, and the process CPU and memory ones. */
const RUNTIME = ['@opentelemetry/instrumentation-host-metrics', '@opentelemetry/instrumentation-runtime-node'];

describe('instrumentations', () => {
  it('start the eager ones with the pipeline, the runtime metrics once asked, once; disable by short name', async () => {
    running = startTelemetry(
      resolveConfig({}, { ...QUIET, OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'undici,runtime-node,pino' }),
      HOOKS,
    );
    const telemetry = running;
    // pino waits for its module to load (./tracing/deferred-instrumentations.ts)
    expect(names(telemetry)).toEqual(['@opentelemetry/instrumentation-undici']);
    telemetry.startRuntimeMetrics();
    telemetry.startRuntimeMetrics();
    expect(enabledNames(telemetry)).toEqual([...RUNTIME, '@opentelemetry/instrumentation-undici']);
    telemetry.disableInstrumentation('undici');
    expect(enabledNames(telemetry)).toEqual(RUNTIME);
    running = undefined;
    await telemetry.shutdown();
    expect(enabledNames(telemetry)).toEqual([]);
  });

  it(`start the runtime metrics by themselves a moment after start-up`, async () => {
    running = startTelemetry(
      resolveConfig({}, { ...QUIET, OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'runtime-node' }),
      HOOKS,
    );
    const telemetry = running;
    expect(names(telemetry)).toEqual([]);
    await expect.poll(() => names(telemetry), { timeout: 10_000, interval: 50 }).toEqual(RUNTIME);
  });

  it('never start the runtime metrics when they are not enabled', () => {
    running = startTelemetry(resolveConfig({}, { ...QUIET, OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'undici' }), HOOKS);
    running.startRuntimeMetrics();
    expect(names(running)).toEqual(['@opentelemetry/instrumentation-undici']);
  });

  it("run the app's own objects with the pipeline's providers, disable them by short name and at shutdown", async () => {
    const given: Record<string, unknown> = {};
    let enabled = true;
    const own = {
      instrumentationName: '@acme/instrumentation-soap',
      instrumentationVersion: '1.0.0',
      enable: () => {
        enabled = true;
      },
      disable: () => {
        enabled = false;
      },
      setTracerProvider: (provider: unknown) => {
        given.tracer = provider;
      },
      setMeterProvider: (provider: unknown) => {
        given.meter = provider;
      },
      setLoggerProvider: (provider: unknown) => {
        given.logger = provider;
      },
      setConfig: () => {},
      getConfig: () => ({}),
    } as unknown as Instrumentation;
    running = startTelemetry(
      resolveConfig(
        { instrumentations: [own] },
        {
          ...QUIET,
          OTEL_LOGS_EXPORTER: 'console',
          OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pino,@acme/instrumentation-soap',
        },
      ),
      HOOKS,
      [own],
    );
    const telemetry = running;
    expect(names(telemetry)).toEqual(['@acme/instrumentation-soap']);
    expect(given.tracer).toBe(telemetry.tracerProvider);
    expect(given.meter).toBe(telemetry.metrics?.meterProvider);
    expect(given.logger).toBe(telemetry.loggerProvider);
    expect(enabled).toBe(true);
    telemetry.disableInstrumentation('soap' as InstrumentationName);
    expect(enabled).toBe(false);
    own.enable();
    running = undefined;
    await telemetry.shutdown();
    expect(enabled).toBe(false);
  });
});

describe('the context manager', () => {
  it('makes a context active for the rest of the synchronous run', () => {
    running = startTelemetry(resolveConfig({}, QUIET), HOOKS);
    const key = Symbol('key');
    expect(running.enterContext).toBeTypeOf('function');
    running.enterContext?.(ROOT_CONTEXT.setValue(key, 'entered'));
    expect(context.active().getValue(key)).toBe('entered');
  });

  it('leaves one installed before it in place, and then has no enterContext', () => {
    const key = Symbol('key');
    const first = {
      active: () => ROOT_CONTEXT.setValue(key, 'first'),
      with: <A extends unknown[], F extends (...args: A) => ReturnType<F>>(
        _c: unknown,
        fn: F,
        thisArg?: unknown,
        ...args: A
      ) => fn.call(thisArg, ...args),
      bind: <T>(_c: unknown, target: T) => target,
      enable() {
        return this;
      },
      disable() {
        return this;
      },
    };
    expect(context.setGlobalContextManager(first)).toBe(true);
    const lines: string[] = [];
    const restore = captureDiagnostics(lines);
    try {
      running = startTelemetry(resolveConfig({}, { ...QUIET, OTEL_LOG_LEVEL: 'none' }), HOOKS);
    } finally {
      restore();
    }
    expect(running.enterContext).toBeUndefined();
    expect(context.active().getValue(key)).toBe('first');
  });
});

describe('forceFlush', () => {
  it('delivers buffered spans, metrics and log records and keeps the pipeline running', async () => {
    const receiver = await startOtlpReceiver();
    try {
      running = startBuffering(receiver.url);
      trace.getTracer('telemetry-test').startSpan('flushed span').end();
      metrics.getMeter('telemetry-test').createCounter('flushed_total').add(2);
      logs.getLogger('telemetry-test').emit({ body: 'flushed record' });
      await running.forceFlush();
      expect(receiver.spans.map((s) => s.name)).toEqual(['flushed span']);
      expect(receiver.metrics.find((m) => m.name === 'flushed_total')?.dataPoints.map((p) => p.value)).toEqual([2]);
      expect(receiver.logs.map((l) => l.body)).toEqual(['flushed record']);
      trace.getTracer('telemetry-test').startSpan('after the flush').end();
      await running.forceFlush();
      expect(receiver.spans.map((s) => s.name)).toEqual(['flushed span', 'after the flush']);
      const telemetry = running;
      running = undefined;
      await telemetry.shutdown();
    } finally {
      await receiver.close();
    }
  });
});

describe('module-patching instrumentations', () => {
  const requireHere = createRequire(import.meta.url);

  it('are created when their module first loads, with the providers, and not before', () => {
    running = startTelemetry(resolveConfig({}, { ...QUIET, OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pg,undici' }), HOOKS);
    expect(names(running)).toEqual(['@opentelemetry/instrumentation-undici']);
    requireHere('pg');
    expect(enabledNames(running)).toEqual([
      '@opentelemetry/instrumentation-pg',
      '@opentelemetry/instrumentation-undici',
    ]);
    running.disableInstrumentation('pg');
    expect(enabledNames(running)).toEqual(['@opentelemetry/instrumentation-undici']);
  });

  it("trace with the pipeline's provider even when another SDK installed the global one first", () => {
    const other = createTracerProvider(resolveConfig({}, QUIET), resourceFromAttributes({ 'service.name': 'other' }));
    if (!other) throw new Error('no tracer provider');
    trace.setGlobalTracerProvider(other);
    running = startTelemetry(
      resolveConfig({}, { ...QUIET, OTEL_LOG_LEVEL: 'none', OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'amqplib,undici' }),
      HOOKS,
    );
    requireHere('amqplib');
    const services = running.instrumentations.map((i) => {
      const span = (i as unknown as { tracer: Tracer }).tracer.startSpan('probe', {}, ROOT_CONTEXT);
      span.end();
      return [i.instrumentationName, (span as unknown as ReadableSpan).resource.attributes['service.name']];
    });
    expect(services.sort()).toEqual([
      ['@opentelemetry/instrumentation-amqplib', 'telemetry-test'],
      ['@opentelemetry/instrumentation-undici', 'telemetry-test'],
    ]);
  });

  it('are never created once disabled before their module loads', () => {
    running = startTelemetry(resolveConfig({}, { ...QUIET, OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'ioredis' }), HOOKS);
    running.disableInstrumentation('ioredis');
    requireHere('ioredis');
    expect(names(running)).toEqual([]);
  });

  it('are no longer created for a module that loads after shutdown', async () => {
    running = startTelemetry(resolveConfig({}, { ...QUIET, OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'mysql2' }), HOOKS);
    const telemetry = running;
    running = undefined;
    await telemetry.shutdown();
    requireHere('mysql2');
    expect(names(telemetry)).toEqual([]);
  });
});

describe('without a signal', () => {
  it('shuts down without traces or log export (no provider to stop)', async () => {
    running = startTelemetry(resolveConfig({}, { ...QUIET, OTEL_TRACES_EXPORTER: 'none' }), HOOKS);
    const telemetry = running;
    running = undefined;
    expect(telemetry.tracerProvider).toBeUndefined();
    expect(telemetry.loggerProvider).toBeUndefined();
    await expect(telemetry.forceFlush()).resolves.toBeUndefined();
    await expect(telemetry.shutdown()).resolves.toBeUndefined();
  });

  it('leaves the global tracer and logger providers free for another SDK when traces and log export are off', () => {
    running = startTelemetry(resolveConfig({}, { ...QUIET, OTEL_TRACES_EXPORTER: 'none' }), HOOKS);
    const otherTracers = createTracerProvider(
      resolveConfig({}, QUIET),
      resourceFromAttributes({ 'service.name': 'other' }),
    );
    if (!otherTracers) throw new Error('no tracer provider');
    expect(trace.setGlobalTracerProvider(otherTracers)).toBe(true);
    const otherLoggers = { getLogger: () => logs.getLogger('unused') };
    expect(logs.setGlobalLoggerProvider(otherLoggers)).toBe(true);
  });
});

// Last in the file: taking the undelivered telemetry marks the process as exiting for good.
describe('takeUndelivered', () => {
  it('hands over the buffered spans and log records as OTLP/HTTP requests, without sending them', async () => {
    const receiver = await startOtlpReceiver();
    try {
      running = startTelemetry(
        resolveConfig(
          {},
          {
            ...QUIET,
            OTEL_TRACES_EXPORTER: 'otlp',
            OTEL_LOGS_EXPORTER: 'otlp',
            OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
            OTEL_BSP_SCHEDULE_DELAY: '600000',
            OTEL_BLRP_SCHEDULE_DELAY: '600000',
          },
        ),
        HOOKS,
      );
      trace.getTracer('telemetry-test').startSpan('buffered span').end();
      logs.getLogger('telemetry-test').emit({ body: 'buffered record' });
      const requests = running.takeUndelivered();
      expect(requests.map((r) => r.url).sort()).toEqual([`${receiver.url}/v1/logs`, `${receiver.url}/v1/traces`]);
      expect(receiver.requests).toHaveLength(0);
    } finally {
      await receiver.close();
    }
  });

  it('hands over the spans alone when log export is off', () => {
    running = startTelemetry(
      resolveConfig(
        {},
        {
          ...QUIET,
          OTEL_TRACES_EXPORTER: 'otlp',
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
          OTEL_BSP_SCHEDULE_DELAY: '600000',
        },
      ),
      HOOKS,
    );
    trace.getTracer('telemetry-test').startSpan('buffered span').end();
    expect(running.takeUndelivered().map((r) => r.url)).toEqual(['http://127.0.0.1:9/v1/traces']);
  });
});
