/**
 * One observation per request (src/http/observation.ts) in the modes the @obs instance runs it in:
 * @obs making the SERVER span, instrumentation-http making it (`OBS_HTTP_SERVER_INSTRUMENTATION=otel`),
 * the SDK disabled (only the caller's trace context passed on), and in-process requests (`inject`).
 * Written from the surviving StrykerJS mutants of that module (docs/testing.md, "Mutation testing").
 */
import { once } from 'node:events';
import { createServer, IncomingMessage, request, type Server, ServerResponse } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { context, propagation, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { getRPCMetadata, RPCType, setRPCMetadata, W3CTraceContextPropagator } from '@opentelemetry/core';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RequestErrors, RequestOutcome } from '../src/errors/request.js';
import { RequestObserver, type ServerTelemetry } from '../src/http/observer.js';
import { MetricAttributeCache } from '../src/http/server-attributes.js';
import { memoryLogger, sleep } from './helpers.js';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const tracer = provider.getTracer('observation-test');
const servers: Server[] = [];

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT}-01`;

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});

afterEach(() => exporter.reset());

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  await provider.shutdown();
  context.disable();
  propagation.disable();
});

class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

function telemetry(overrides: Partial<ServerTelemetry> = {}): ServerTelemetry {
  return {
    ownsServerSpan: true,
    tracer,
    duration: new MeterProvider().getMeter('observation-test').createHistogram('http.server.request.duration'),
    metricAttributes: new MetricAttributeCache(),
    redactQuery: (q) => q,
    ...overrides,
  };
}

/**
 * A server whose requests arrive through `observer.arrive()` (what the server hook does), then
 * `onRequest`. Request `path`; settles once the server side's response has closed (the line is written).
 */
async function serveOne(
  obs: RequestObserver,
  path: string,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
  headers: Record<string, string> = {},
): Promise<void> {
  let responseClosed: Promise<unknown> = Promise.resolve();
  const s = createServer((req, res) => {
    obs.arrive(req, res);
    responseClosed = once(res, 'close'); // after the observer's own listener
    onRequest(req, res);
  });
  servers.push(s);
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => {
    const req = request(`http://127.0.0.1:${port}${path}`, { headers, agent: false }, (res) => {
      res.resume();
      res.on('end', resolve);
      res.on('error', () => resolve());
    });
    req.on('error', () => resolve());
    req.end();
  });
  await responseClosed;
}

/** A bare in-process request and response (what `app.inject()` hands an app): no real socket. */
function inProcess(url: string): { req: IncomingMessage; res: ServerResponse } {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = url;
  return { req, res: new ServerResponse(req) };
}

function finish(res: ServerResponse, status = 200): void {
  res.statusCode = status;
  res.end();
  res.emit('close');
}

/** An error tracker that remembers what it was given. */
function recordingTracker(): { errors: RequestErrors; noted: unknown[]; outcomes: RequestOutcome[] } {
  const noted: unknown[] = [];
  const outcomes: RequestOutcome[] = [];
  const errors: RequestErrors = {
    recorded: () => {},
    noted: (err) => noted.push(err),
    logged: () => {},
    complete: (outcome) => outcomes.push(outcome),
  };
  return { errors, noted, outcomes };
}

describe('Observation with @obs making the SERVER span', () => {
  it('puts HTTP RPC metadata carrying its span in the request context', async () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    obs.useTelemetry(telemetry(), undefined);
    let rpc: ReturnType<typeof getRPCMetadata>;
    let span: ReturnType<typeof trace.getSpan>;
    await serveOne(obs, '/rpc', (req, res) => {
      const ctx = obs.observationOf(req)?.context ?? ROOT_CONTEXT;
      rpc = getRPCMetadata(ctx);
      span = trace.getSpan(ctx);
      res.end();
    });
    expect(span).toBeDefined();
    expect(rpc?.type).toBe(RPCType.HTTP);
    expect(rpc?.type === RPCType.HTTP && rpc.span).toBe(span);
  });

  it('ends a span cut at shutdown with status ERROR and why, keeping the status code already sent', async () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    obs.useTelemetry(telemetry(), undefined);
    await serveOne(obs, '/long', (_req, res) => {
      res.write('partial');
      setImmediate(() => {
        obs.cutByServer(res);
        res.socket?.destroy();
      });
    });
    expect(mem.lines).toHaveLength(1);
    expect(mem.lines[0]).toMatchObject({ msg: 'request cut at shutdown', 'http.response.status_code': 200 });
    const [span] = exporter.getFinishedSpans();
    expect(span?.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'the server closed the connection at shutdown',
    });
    expect(span?.attributes['error.type']).toBe('server_shutdown');
  });

  it('keeps the recorded error as the span status of a 5xx', async () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    obs.useTelemetry(telemetry(), undefined);
    await serveOne(obs, '/broken', (req, res) => {
      obs.failed(req, new Error('handler broke'), 500);
      res.statusCode = 500;
      res.end();
    });
    const [span] = exporter.getFinishedSpans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'handler broke' });
    expect(span?.attributes['error.type']).toBe('500');
  });

  it('ends the span of a 5xx no error was recorded for with status ERROR and no message', async () => {
    const obs = new RequestObserver(() => memoryLogger().logger);
    obs.useTelemetry(telemetry(), undefined);
    await serveOne(obs, '/unavailable', (_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const [span] = exporter.getFinishedSpans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(span?.attributes['error.type']).toBe('503');
  });

  it('records the scheme https for a request on a TLS socket, on the span and the metric', async () => {
    const reader = new CollectingReader();
    const duration = new MeterProvider({ readers: [reader] }).getMeter('tls').createHistogram('duration');
    const obs = new RequestObserver(() => memoryLogger().logger);
    obs.useTelemetry(telemetry({ duration }), undefined);
    const { req, res } = inProcess('/secure');
    (req.socket as Socket & { encrypted?: boolean }).encrypted = true;
    obs.arrive(req, res);
    finish(res);
    const [span] = exporter.getFinishedSpans();
    expect(span?.attributes['url.scheme']).toBe('https');
    const { resourceMetrics } = await reader.collect();
    const schemes = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .flatMap((m) => m.dataPoints.map((p) => p.attributes['url.scheme']));
    expect(schemes).toEqual(['https']);
  });

  it("keeps an ignored path's work untraced when an adapter begins it too", async () => {
    const obs = new RequestObserver(() => memoryLogger().logger);
    obs.useTelemetry(telemetry(), undefined);
    obs.ignorePath('/health');
    let recording: boolean | undefined;
    await serveOne(obs, '/health', (req, res) => {
      const observed = obs.begin(req, res);
      const child = tracer.startSpan('ping-database', {}, observed.context);
      recording = child.isRecording();
      child.end();
      res.end();
    });
    expect(recording).toBe(false);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('makes no span for an in-process request (begin() alone)', () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    obs.useTelemetry(telemetry(), undefined);
    const { req, res } = inProcess('/injected');
    obs.begin(req, res);
    finish(res);
    expect(mem.lines).toHaveLength(1);
    expect(mem.lines[0]).not.toHaveProperty('trace_id');
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

describe('Observation with instrumentation-http making the span (otel)', () => {
  it('makes no span, adopts the one made after the server hook, and leaves it to its maker to end', async () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    obs.useTelemetry(telemetry({ ownsServerSpan: false }), undefined);
    const made = tracer.startSpan('GET');
    const rpc = { type: RPCType.HTTP as const, span: made };
    await serveOne(
      obs,
      '/things/1',
      (req, res) => {
        // what instrumentation-http does once the server hook has run: its span, active for the handlers
        context.with(setRPCMetadata(trace.setSpan(ROOT_CONTEXT, made), rpc), () => {
          obs.begin(req, res).setRoute('/things/:id');
        });
        res.end();
      },
      { traceparent: TRACEPARENT },
    );
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(mem.lines).toHaveLength(1);
    expect(mem.lines[0]).toMatchObject({
      'http.route': '/things/:id',
      trace_id: made.spanContext().traceId,
      span_id: made.spanContext().spanId,
    });
    expect(rpc).toMatchObject({ route: '/things/:id' });
    made.end();
  });
});

describe('Observation with the SDK disabled (passesContextOn)', () => {
  it("puts the caller's trace context on the line, and makes no span", async () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    obs.useTelemetry(telemetry({ ownsServerSpan: false, passesContextOn: true }), undefined);
    await serveOne(
      obs,
      '/passed',
      (req, res) => {
        obs.begin(req, res); // the adapter's first hook keeps the span it has
        res.end();
      },
      { traceparent: TRACEPARENT },
    );
    expect(mem.lines).toHaveLength(1);
    expect(mem.lines[0]).toMatchObject({ trace_id: TRACE_ID, span_id: PARENT });
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

describe('Observation of an in-process request', () => {
  it('takes the active span without RPC metadata for its line', () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    const outer = tracer.startSpan('outer');
    const { req, res } = inProcess('/in-span');
    context.with(trace.setSpan(ROOT_CONTEXT, outer), () => obs.begin(req, res));
    finish(res);
    outer.end();
    expect(mem.lines[0]).toMatchObject({ trace_id: outer.spanContext().traceId, span_id: outer.spanContext().spanId });
  });

  it('writes the route on the RPC metadata as soon as it is set', () => {
    const obs = new RequestObserver(() => memoryLogger().logger);
    const span = tracer.startSpan('server');
    const rpc = { type: RPCType.HTTP as const, span };
    const { req, res } = inProcess('/orders/7');
    const observed = context.with(setRPCMetadata(trace.setSpan(ROOT_CONTEXT, span), rpc), () => obs.begin(req, res));
    observed.setRoute('/orders/:id');
    expect(rpc).toMatchObject({ route: '/orders/:id' }); // instrumentation-http may end its span before 'close'
    finish(res);
    span.end();
  });

  it('hands noted errors and the outcome to the error tracker, and nothing of an ignored path', () => {
    const tracker = recordingTracker();
    const obs = new RequestObserver(
      () => memoryLogger().logger,
      () => ({ track: () => tracker.errors }),
    );
    obs.ignorePath('/health');
    const noted = new Error('not found');
    const { req, res } = inProcess('/missing?x=1');
    obs.begin(req, res, { requestId: 'rid-noted' }).noteError(noted);
    finish(res, 404);
    expect(tracker.noted).toEqual([noted]);
    expect(tracker.outcomes).toMatchObject([{ path: '/missing', requestId: 'rid-noted', statusCode: 404 }]);

    const probe = inProcess('/health');
    obs.begin(probe.req, probe.res).noteError(new Error('ignored'));
    finish(probe.res);
    expect(tracker.noted).toEqual([noted]);
    expect(tracker.outcomes).toHaveLength(1);
  });

  it("completes once when the response's close is emitted twice", () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    const { req, res } = inProcess('/twice');
    obs.begin(req, res);
    finish(res);
    res.emit('close');
    expect(mem.lines).toHaveLength(1);
  });

  it('writes the duration in milliseconds', async () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    const { req, res } = inProcess('/slow');
    obs.begin(req, res);
    await sleep(30);
    finish(res);
    const duration = mem.lines[0]?.duration_ms as number;
    expect(duration).toBeGreaterThanOrEqual(25);
    expect(duration).toBeLessThan(60_000);
  });
});
