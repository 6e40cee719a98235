/**
 * The one server hook (src/http/server-hook.ts) with a real node:http server whose request listener
 * knows nothing of @obs: the SERVER span, its context in the handler, the request id, the metric and
 * the completion line all come from Node's `http.server.request.start` channel.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rawRequest } from '@obs/testkit';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { activeRequestId } from '../src/context.js';
import { captureDiagnostics } from '../src/diag.js';
import { RequestObserver } from '../src/http/observer.js';
import { MetricAttributeCache } from '../src/http/server-attributes.js';
import { instrumentServers } from '../src/http/server-hook.js';
import { createTextRedaction } from '../src/logging/redact-text.js';
import { RequestContextManager } from '../src/sdk.js';
import { type LogLine, memoryLogger } from './helpers.js';

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const exporter = new InMemorySpanExporter();
const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const reader = new TestReader();
const meterProvider = new MeterProvider({ readers: [reader] });
const manager = new RequestContextManager().enable();

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler;
let lines: LogLine[];
let server: Server;
let port: number;
let stop: () => void;
let observer: RequestObserver;

beforeAll(async () => {
  context.setGlobalContextManager(manager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const mem = memoryLogger();
  lines = mem.lines;
  observer = new RequestObserver(() => mem.logger);
  observer.useTelemetry(
    {
      ownsServerSpan: true,
      tracer: tracerProvider.getTracer('@obs/core'),
      duration: meterProvider.getMeter('@obs/core').createHistogram('http.server.request.duration', { unit: 's' }),
      metricAttributes: new MetricAttributeCache(),
      redactQuery: createTextRedaction().scrubQuery,
    },
    (ctx) => manager.enter(ctx),
  );
  observer.ignorePath('/health/live');
  stop = instrumentServers(observer);
  server = createServer((req, res) => handler(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  stop();
  server.closeAllConnections();
  server.close();
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
  context.disable();
  propagation.disable();
});

beforeEach(() => {
  exporter.reset();
  lines.length = 0;
});

const send = (path: string, headers: Record<string, string> = {}) => rawRequest(port, path, { headers });

/** The completion line of a request id, once it is written (the response's 'close' comes after the client's end). */
async function completion(id: string): Promise<LogLine> {
  for (let i = 0; i < 200; i++) {
    const line = lines.find((l) => l.request_id === id && typeof l.msg === 'string' && l.msg.startsWith('request '));
    if (line) return line;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no completion line for ${id}`);
}

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';

describe('server hook', () => {
  it('makes the SERVER span from the request, active in a handler that knows nothing of @obs', async () => {
    let seen: { traceId?: string; requestId?: string } = {};
    handler = (req, res) => {
      seen = {
        traceId: trace.getSpan(context.active())?.spanContext().traceId,
        requestId: activeRequestId(),
      };
      observer.observationOf(req)?.setRoute('/users/:id');
      res.end('ok');
    };
    const res = await send('/users/7?access_token=s3cret&page=2', {
      traceparent: `00-${TRACE_ID}-${PARENT}-01`,
      'x-request-id': 'hook-1',
      'user-agent': 'hook-test/1.0',
    });
    expect(res.status).toBe(200);
    expect(seen).toEqual({ traceId: TRACE_ID, requestId: 'hook-1' });
    const line = await completion('hook-1');
    expect(line).toMatchObject({ msg: 'request completed', 'http.route': '/users/:id', 'url.path': '/users/7' });
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('GET /users/:id');
    expect(span?.kind).toBe(SpanKind.SERVER);
    expect(span?.parentSpanContext?.spanId).toBe(PARENT);
    expect(span?.spanContext().spanId).toBe(line.span_id);
    expect(span?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.scheme': 'http',
      'url.path': '/users/7',
      'url.query': 'access_token=[Redacted]&page=2',
      'server.address': '127.0.0.1',
      'server.port': port,
      'client.address': '127.0.0.1',
      'network.peer.address': '127.0.0.1',
      'network.protocol.version': '1.1',
      'user_agent.original': 'hook-test/1.0',
      'http.route': '/users/:id',
      'http.response.status_code': 200,
    });
    expect(span?.attributes['error.type']).toBeUndefined();
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('records http.server.request.duration in seconds with the route, status and error.type of 5xx', async () => {
    handler = (req, res) => {
      observer.observationOf(req)?.setRoute('/fail');
      res.statusCode = 503;
      setTimeout(() => res.end('no'), 120);
    };
    await send('/fail', { 'x-request-id': 'hook-2' });
    await completion('hook-2');
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === 'http.server.request.duration');
    const point = metric?.dataPoints.find((p) => p.attributes['http.route'] === '/fail');
    expect(point?.attributes).toEqual({
      'http.request.method': 'GET',
      'url.scheme': 'http',
      'network.protocol.version': '1.1',
      'http.route': '/fail',
      'http.response.status_code': 503,
      'error.type': '503',
    });
    const value = point?.value as { count: number; sum: number };
    expect(value.count).toBe(1);
    expect(value.sum).toBeGreaterThanOrEqual(0.1);
    expect(value.sum).toBeLessThan(5);
    const [span] = exporter.getFinishedSpans();
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes['error.type']).toBe('503');
    expect((await completion('hook-2')).level).toBe('error');
  });

  it('measures one interval: the span lasts exactly the recorded duration, which the line gives in ms', async () => {
    handler = (req, res) => {
      observer.observationOf(req)?.setRoute('/one-interval');
      setTimeout(() => res.end('ok'), 30);
    };
    await send('/one-interval', { 'x-request-id': 'hook-interval' });
    const line = await completion('hook-interval');
    const { resourceMetrics } = await reader.collect();
    const point = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === 'http.server.request.duration')
      ?.dataPoints.find((p) => p.attributes['http.route'] === '/one-interval');
    const recorded = (point?.value as { sum: number } | undefined)?.sum ?? Number.NaN;
    const [span] = exporter.getFinishedSpans();
    const [seconds, nanos] = span?.duration ?? [0, 0];
    // the exemplar a scrape attaches to this bucket leads to a span of the same duration (to the ns)
    expect(Math.abs(seconds + nanos / 1e9 - recorded)).toBeLessThan(1e-6);
    expect(recorded).toBeGreaterThanOrEqual(0.03);
    expect(line.duration_ms).toBe(Math.round(recorded * 1e6) / 1000);
  });

  it('neither traces, measures nor logs an ignored path, and traces nothing it calls', async () => {
    let childRecording: boolean | undefined;
    let responseClosed: Promise<unknown> | undefined;
    handler = (_req, res) => {
      responseClosed = once(res, 'close'); // after the observer's own 'close' listener
      const child = tracerProvider.getTracer('app').startSpan('ping-database');
      childRecording = child.isRecording();
      child.end();
      res.end('ok');
    };
    await send('/health/live', { traceparent: `00-${TRACE_ID}-${PARENT}-01`, 'x-request-id': 'hook-3' });
    await responseClosed;
    expect(childRecording).toBe(false);
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(lines.filter((l) => l.request_id === 'hook-3')).toEqual([]);
  });

  it("lets an adapter re-enter the request's context after a library replaced it around the server's emit", async () => {
    let seen: string | undefined;
    const emit = server.emit;
    const original = emit as (this: Server, event: string, ...args: unknown[]) => boolean;
    // what Sentry's server wrapper does: emit 'request' inside a context of its own
    server.emit = function (this: Server, event: string, ...args: unknown[]) {
      if (event !== 'request') return original.call(this, event, ...args);
      return context.with(ROOT_CONTEXT, () => original.call(this, event, ...args));
    } as Server['emit'];
    const reenter = (req: IncomingMessage) => {
      expect(observer.reenter(req)).toBe(true);
    };
    server.prependListener('request', reenter);
    handler = (_req, res) => {
      seen = activeRequestId();
      res.end('ok');
    };
    try {
      await send('/users/8', { 'x-request-id': 'hook-4' });
    } finally {
      server.emit = emit;
      server.removeListener('request', reenter);
    }
    expect(seen).toBe('hook-4');
  });

  it('serves the requests when observing one throws, and warns once with the first error', async () => {
    const diagnostics: string[] = [];
    const restore = captureDiagnostics(diagnostics);
    let n = 0;
    const failing = {
      arrive() {
        n += 1;
        // a different message each time: diagnostics drop a repeated one, the hook's own flag must
        throw new Error(n === 1 ? 'observer broke first' : 'observer broke again');
      },
    } as unknown as RequestObserver;
    const stopFailing = instrumentServers(failing);
    handler = (_req, res) => res.end('ok');
    try {
      expect((await send('/a', { 'x-request-id': 'hook-5' })).status).toBe(200);
      expect((await send('/b', { 'x-request-id': 'hook-6' })).status).toBe(200);
    } finally {
      stopFailing();
      restore();
    }
    expect(n).toBe(2);
    expect(diagnostics).toEqual([
      '@obs warn: request observation failed; requests are served unobserved: Error: observer broke first',
    ]);
  });

  it('stops observing when its stop function is called', async () => {
    const mem = memoryLogger();
    const second = new RequestObserver(() => mem.logger);
    const stopSecond = instrumentServers(second);
    handler = (_req, res) => res.end('ok');
    try {
      await send('/seen', { 'x-request-id': 'hook-7' });
      await waitFor(() => mem.lines.length === 1);
    } finally {
      stopSecond();
    }
    await send('/unseen', { 'x-request-id': 'hook-8' });
    await completion('hook-8'); // the first observer's line: the response has closed
    expect(mem.lines.map((l) => l.request_id)).toEqual(['hook-7']);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(condition()).toBe(true);
}
