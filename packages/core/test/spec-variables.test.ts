/**
 * The OpenTelemetry SDK environment variables of issue 18 in the running pipeline: the log record,
 * event and link attribute limits, timeouts of `0` ("no limit"), the `container` resource detector,
 * and `OTEL_SDK_DISABLED`, which switches the SDK off but not context propagation (in process, and
 * through a real server under the preload whose incoming and outgoing requests carry the caller's
 * trace context). Configs are resolved from explicit environments, never process.env.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Service, startOtlpReceiver, startService } from '@obs/testkit';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';
import { captureDiagnostics } from '../src/diag.js';
import { opentelemetry } from '../src/otel.js';
import { startTelemetry, type Telemetry } from '../src/sdk.js';

const { context, logs, metrics, propagation, ROOT_CONTEXT, trace, TraceFlags } = opentelemetry;
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const CORE = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;
const REGISTER = pathToFileURL(fileURLToPath(new URL('../../register/dist/index.js', import.meta.url))).href;

const QUIET = {
  OTEL_SERVICE_NAME: 'spec-test',
  OTEL_TRACES_EXPORTER: 'console',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
  OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'pino',
};
const HOOKS = { ignoreIncomingPath: () => false, redactKeys: [] };
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

let running: Telemetry | undefined;
let service: Service | undefined;
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
  await service?.stop('SIGKILL').catch(() => undefined);
  service = undefined;
  trace.disable();
  metrics.disable();
  logs.disable();
  propagation.disable();
  context.disable();
});

const start = (env: Record<string, string>) => {
  running = startTelemetry(resolveConfig({}, { ...QUIET, ...env }), HOOKS);
  return running;
};

/** Shut `running` down (delivers everything buffered) and forget it. */
async function shutDown(): Promise<void> {
  const telemetry = running;
  running = undefined;
  await telemetry?.shutdown();
}

describe('attribute limits', () => {
  it('OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT and OTEL_LINK_ATTRIBUTE_COUNT_LIMIT cap the attributes of each event and link', () => {
    start({ OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: '1', OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: '2' });
    const link = {
      context: { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 },
      attributes: { a: 1, b: 2, c: 3 },
    };
    const span = trace.getTracer('spec-test').startSpan('limited', { links: [link] }, ROOT_CONTEXT);
    span.addEvent('event', { a: 1, b: 2, c: 3 });
    span.end();
    const read = span as unknown as ReadableSpan;
    expect(Object.keys(read.events[0]?.attributes ?? {})).toHaveLength(1);
    expect(Object.keys(read.links[0]?.attributes ?? {})).toHaveLength(2);
  });

  it('OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT and _VALUE_LENGTH_LIMIT cap the log records exported', async () => {
    const receiver = await startOtlpReceiver();
    try {
      start({
        OTEL_LOGS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT: '2',
        OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: '3',
      });
      logs.getLogger('spec-test').emit({ body: 'limited', attributes: { a: 'abcdef', b: 'x', c: 'y' } });
      await shutDown();
      expect(receiver.logs.map((l) => l.attributes)).toEqual([{ a: 'abc', b: 'x' }]);
    } finally {
      await receiver.close();
    }
  });
});

describe('timeouts of 0 mean no limit', () => {
  it('the OTLP, batch and metric export timeouts set to 0 deliver all three signals, without a warning', async () => {
    const receiver = await startOtlpReceiver();
    const warnings: string[] = [];
    const restore = captureDiagnostics(warnings);
    try {
      start({
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_LOGS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_TIMEOUT: '0',
        OTEL_BSP_EXPORT_TIMEOUT: '0',
        OTEL_BLRP_EXPORT_TIMEOUT: '0',
        OTEL_METRIC_EXPORT_TIMEOUT: '0',
      });
      trace.getTracer('spec-test').startSpan('span').end();
      metrics.getMeter('spec-test').createCounter('count_total').add(1);
      logs.getLogger('spec-test').emit({ body: 'record' });
      await shutDown();
      expect(receiver.spans.map((s) => s.name)).toEqual(['span']);
      expect(receiver.metrics.map((m) => m.name)).toContain('count_total');
      expect(receiver.logs.map((l) => l.body)).toEqual(['record']);
      expect(warnings).toEqual([]);
    } finally {
      restore();
      await receiver.close();
    }
  });
});

describe('container resource detector', () => {
  it('OTEL_NODE_RESOURCE_DETECTORS=container adds the (asynchronous, file-reading) container detector', async () => {
    const warnings: string[] = [];
    const restore = captureDiagnostics(warnings);
    try {
      const withContainer = start({ OTEL_NODE_RESOURCE_DETECTORS: 'env,container' }).resource;
      expect(withContainer.asyncAttributesPending).toBe(true);
      await withContainer.waitForAsyncAttributes?.();
      expect(warnings).toEqual([]);
    } finally {
      restore();
    }
  });

  it('without it, the resource has no asynchronous attributes', () => {
    expect(start({ OTEL_NODE_RESOURCE_DETECTORS: 'env' }).resource.asyncAttributesPending).toBe(false);
  });
});

describe('OTEL_SDK_DISABLED keeps propagation', () => {
  it('in process: the propagators inject and extract', () => {
    start({ OTEL_SDK_DISABLED: 'true' });
    const carrier: Record<string, string> = {};
    const ctx = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: TraceFlags.SAMPLED,
    });
    propagation.inject(ctx, carrier);
    expect(carrier).toEqual({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` });
    expect(trace.getSpanContext(propagation.extract(ROOT_CONTEXT, carrier))?.traceId).toBe(TRACE_ID);
  });

  it('a server under the preload passes the caller’s trace context on to the services it calls', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const downstream: Server = createServer((req, res) => {
      seen.push(req.headers);
      res.end('ok');
    });
    await new Promise<void>((resolve) => downstream.listen(0, '127.0.0.1', resolve));
    try {
      service = await startService({
        cwd: FIXTURES,
        entry: 'export-server.mjs',
        preload: REGISTER,
        readyPath: false,
        env: { OBS_CORE_URL: CORE, OTEL_SDK_DISABLED: 'true' },
      });
      const to = `http://127.0.0.1:${(downstream.address() as { port: number }).port}/`;
      const res = await service.fetch(`/call?to=${encodeURIComponent(to)}`, {
        headers: { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`, baggage: 'tenant=t1' },
      });
      expect(await res.text()).toBe('called');
      // fetch (undici), then http.get: both carry the caller's trace and span ids and its baggage
      expect(seen.map((h) => [h.traceparent, h.baggage])).toEqual([
        [`00-${TRACE_ID}-${SPAN_ID}-01`, 'tenant=t1'],
        [`00-${TRACE_ID}-${SPAN_ID}-01`, 'tenant=t1'],
      ]);
      const line = await service.waitForLog((l) => l.msg === 'called');
      expect(line.trace_id).toBe(TRACE_ID);
    } finally {
      downstream.close();
    }
  });
});
