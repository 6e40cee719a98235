import { once } from 'node:events';
import { createServer, IncomingMessage, request, type Server, ServerResponse } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { type Context, context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { getRPCMetadata, RPCType, setRPCMetadata } from '@opentelemetry/core';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { activeRequestId } from '../src/context.js';
import { captureDiagnostics } from '../src/diag.js';
import {
  type BeginOptions,
  type ObservedRequest,
  RequestObserver,
  type ServerTelemetry,
} from '../src/http/observer.js';
import { MetricAttributeCache } from '../src/http/server-attributes.js';
import { type LogLine, memoryLogger, sleep } from './helpers.js';

type Handler = (req: IncomingMessage, res: ServerResponse, observed: ObservedRequest, ctx: Context) => void;

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const tracer = provider.getTracer('observer-test');

let server: Server;
let baseUrl: string;
let lines: LogLine[];
let observer: RequestObserver;
/** Per test: what the server does once the observer has begun. */
let handler: Handler;
let beginOptions: BeginOptions;
/** Settles when the response of the last request has closed (after the observer's own listener ran). */
let closed: Promise<void>;
let markClosed: () => void;
/** The RPC metadata context of the last request. */
let lastContext: Context;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  server = createServer((req, res) => {
    const span = tracer.startSpan(`${req.method} server`);
    const ctx = setRPCMetadata(trace.setSpan(context.active(), span), { type: RPCType.HTTP, span });
    lastContext = ctx;
    context.with(ctx, () => {
      const observed = observer.begin(req, res, beginOptions);
      res.once('close', () => {
        span.end();
        markClosed();
      });
      context.with(observed.context, () => handler(req, res, observed, ctx));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await provider.shutdown();
  context.disable();
});

beforeEach(() => {
  const mem = memoryLogger();
  lines = mem.lines;
  observer = new RequestObserver(() => mem.logger);
  beginOptions = {};
  closed = new Promise((resolve) => {
    markClosed = resolve;
  });
  handler = (_req, res) => res.end('ok');
});

afterEach(() => {
  exporter.reset();
});

interface Reply {
  status: number;
  body: string;
}

function get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Request, wait until the server side has closed the response, and a little more for stray lines. */
async function roundTrip(path: string, headers?: Record<string, string>): Promise<Reply> {
  const reply = await get(path, headers);
  await closed;
  await sleep(10);
  return reply;
}

function completions(): LogLine[] {
  return lines.filter((l) => l.msg === 'request completed' || l.msg === 'request aborted');
}

describe('RequestObserver', () => {
  it('writes one completion line with method, route, path without query, status, duration and request id', async () => {
    handler = (_req, res, observed) => {
      observed.setRoute('/users/:id');
      res.setHeader('x-request-id', observed.id);
      res.statusCode = 201;
      res.end('created');
    };
    const reply = await roundTrip('/users/42?token=abc&x=1', { 'x-request-id': 'incoming-id-1' });
    expect(reply.status).toBe(201);
    expect(lines).toHaveLength(1);
    const line = lines[0] as LogLine;
    expect(line).toMatchObject({
      level: 'info',
      msg: 'request completed',
      service: 'test-service',
      'http.request.method': 'GET',
      'http.route': '/users/:id',
      'url.path': '/users/42',
      'http.response.status_code': 201,
      request_id: 'incoming-id-1',
    });
    expect(line.duration_ms).toEqual(expect.any(Number));
    expect(line.duration_ms as number).toBeGreaterThan(0);
    expect(line).not.toHaveProperty('aborted');
    expect(JSON.stringify(line)).not.toContain('token=abc');
    const span = exporter.getFinishedSpans()[0];
    expect(line.trace_id).toBe(span?.spanContext().traceId);
    expect(line.span_id).toBe(span?.spanContext().spanId);
    expect(line.trace_flags).toBe('01');
  });

  it('makes a request id when the incoming one is malformed, and puts it in the context', async () => {
    let seenInContext: string | undefined;
    let observedId: string | undefined;
    let idInObservedContext: string | undefined;
    handler = (_req, res, observed) => {
      seenInContext = activeRequestId();
      observedId = observed.id;
      idInObservedContext = activeRequestId(observed.context);
      res.end();
    };
    await roundTrip('/x', { 'x-request-id': 'bad id with spaces' });
    const id = lines[0]?.request_id as string;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(observedId).toBe(id);
    expect(idInObservedContext).toBe(id);
    expect(seenInContext).toBe(id);
  });

  it('writes the route template on the OpenTelemetry RPC metadata', async () => {
    handler = (_req, res, observed) => {
      observed.setRoute('/orders/:orderId');
      res.end();
    };
    await roundTrip('/orders/7');
    expect(getRPCMetadata(lastContext)?.route).toBe('/orders/:orderId');
    expect(lines[0]?.['http.route']).toBe('/orders/:orderId');
  });

  it('falls back to resolveRoute when no route was set', async () => {
    beginOptions = { resolveRoute: () => '/fallback/:id' };
    await roundTrip('/fallback/1');
    expect(lines[0]?.['http.route']).toBe('/fallback/:id');
  });

  it('prefers setRoute over resolveRoute', async () => {
    beginOptions = { resolveRoute: () => '/fallback/:id' };
    handler = (_req, res, observed) => {
      observed.setRoute('/set/:id');
      res.end();
    };
    await roundTrip('/set/1');
    expect(lines[0]?.['http.route']).toBe('/set/:id');
  });

  it('drops a mount-path route recorded for a request no route matched', async () => {
    let matched = false;
    beginOptions = { routeMatched: () => matched, resolveRoute: () => '/fallback' };
    handler = (_req, res) => {
      // what instrumentation-express does for /api/v1/nowhere under app.use('/api/v1', router)
      const rpc = getRPCMetadata(lastContext);
      if (rpc) rpc.route = '/api/v1';
      res.statusCode = 404;
      res.end();
    };
    await roundTrip('/api/v1/nowhere');
    expect(lines[0]?.['http.route']).toBeUndefined();
    expect(getRPCMetadata(lastContext)?.route).toBeUndefined();

    matched = true;
    closed = new Promise((resolve) => {
      markClosed = resolve;
    });
    lines.length = 0;
    await roundTrip('/api/v1/somewhere');
    expect(lines[0]?.['http.route']).toBe('/api/v1');
  });

  it('logs a response the server destroyed with an error as a failure, not as a client abort', async () => {
    handler = (_req, res) => {
      res.write('partial');
      setTimeout(() => res.destroy(new TypeError('stream source failed')), 10);
    };
    void get('/broken-stream').catch(() => undefined); // the client never sees an end
    await closed;
    await sleep(10);
    expect(completions()).toHaveLength(1);
    expect(completions()[0]).toMatchObject({ msg: 'request completed', level: 'error', 'error.type': 'TypeError' });
    expect(completions()[0]?.aborted).toBeUndefined();
  });

  it('logs a response destroyed because the client went away (EPIPE, premature close) as aborted, not failed', async () => {
    // Koa streams bodies through Stream.pipeline, which destroys the response with the error of a write
    // to the client's reset connection when that write comes before the connection's close.
    handler = (_req, res) => {
      res.write('partial');
      setTimeout(() => res.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })), 10);
    };
    void get('/gone').catch(() => undefined);
    await closed;
    expect(completions()).toHaveLength(1);
    expect(completions()[0]).toMatchObject({ msg: 'request aborted', level: 'warn', aborted: true });
    expect(completions()[0]).not.toHaveProperty('error.type');
  });

  it('leaves http.route out when nothing knows the route', async () => {
    await roundTrip('/unknown');
    expect(lines[0]).toMatchObject({ msg: 'request completed', 'url.path': '/unknown' });
    expect(lines[0]).not.toHaveProperty('http.route');
  });

  it('logs a 5xx completion at level error and a 4xx at level info', async () => {
    handler = (_req, res) => {
      res.statusCode = 503;
      res.end();
    };
    await roundTrip('/down');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', msg: 'request completed', 'http.response.status_code': 503 });
    lines.length = 0;
    closed = new Promise((resolve) => {
      markClosed = resolve;
    });
    handler = (_req, res) => {
      res.statusCode = 404;
      res.end();
    };
    await roundTrip('/missing');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'request completed', 'http.response.status_code': 404 });
  });

  it('logs nothing for an ignored path, with or without a query string', async () => {
    observer.ignorePath('/health/live');
    expect(observer.isIgnored('/health/live')).toBe(true);
    expect(observer.isIgnored('/health/ready')).toBe(false);
    handler = (_req, res, observed) => {
      observed.setRoute('/health/live');
      observed.recordError(new Error('ignored'));
      res.statusCode = 500;
      res.end();
    };
    const reply = await roundTrip('/health/live?probe=1');
    expect(reply.status).toBe(500);
    expect(lines).toEqual([]);
    expect(getRPCMetadata(lastContext)?.route).toBeUndefined();
  });

  it('records an error once, at level error with its stack and request id, even when called twice', async () => {
    handler = (_req, res, observed) => {
      observed.recordError(new Error('first failure'));
      observed.recordError(new Error('second failure'));
      res.statusCode = 500;
      res.end();
    };
    await roundTrip('/fail', { 'x-request-id': 'rid-fail' });
    const failures = lines.filter((l) => l.msg === 'request failed');
    expect(failures).toHaveLength(1);
    const failure = failures[0] as LogLine;
    const err = failure.err as Record<string, string>;
    expect(failure.level).toBe('error');
    expect(failure.request_id).toBe('rid-fail');
    expect(err.message).toBe('first failure');
    expect(err.stack).toContain('Error: first failure\n    at ');
    expect(JSON.stringify(lines)).not.toContain('second failure');
    expect(completions()).toHaveLength(1);
    expect(completions()[0]?.level).toBe('error');

    const span = exporter.getFinishedSpans()[0];
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'first failure' });
    expect(span?.events.filter((e) => e.name === 'exception')).toHaveLength(1);
  });

  it('keeps an in-process request made inside another request to itself: its route and error stay off the outer one', async () => {
    let innerContext: Context | undefined;
    handler = (_req, res, observed) => {
      // what light-my-request (app.inject(), supertest-style in-process calls) does: a request and a
      // response on no real socket, handed to the app while this request's context is active
      const innerReq = new IncomingMessage(new Socket());
      innerReq.method = 'GET';
      innerReq.url = '/inner/7';
      const innerRes = new ServerResponse(innerReq);
      const inner = observer.begin(innerReq, innerRes, {});
      innerContext = inner.context;
      inner.setRoute('/inner/:id');
      inner.recordError(new Error('inner failure'));
      innerRes.statusCode = 500;
      innerRes.end();
      innerRes.emit('close');
      expect(activeRequestId()).toBe(observed.id);
      res.end('outer ok');
    };
    await roundTrip('/outer/1', { 'x-request-id': 'rid-outer' });
    const outer = completions().find((l) => l['url.path'] === '/outer/1');
    const inner = completions().find((l) => l['url.path'] === '/inner/7');
    // the outer request set no route: it has none (not the inner one's)
    expect(outer).toMatchObject({ level: 'info', request_id: 'rid-outer', 'http.response.status_code': 200 });
    expect(outer).not.toHaveProperty('http.route');
    expect(getRPCMetadata(lastContext)?.route).toBeUndefined();
    expect(inner).toMatchObject({ level: 'error', 'http.route': '/inner/:id', 'http.response.status_code': 500 });
    expect(inner?.request_id).not.toBe('rid-outer');
    expect(getRPCMetadata(innerContext as Context)).toBeUndefined();
    // the inner failure is the inner request's: not on the outer SERVER span, which the inner work stays under
    const [span] = exporter.getFinishedSpans();
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(span?.events).toEqual([]);
    expect(inner?.trace_id).toBe(span?.spanContext().traceId);
    expect(lines.find((l) => l.msg === 'request failed')?.request_id).toBe(inner?.request_id);
  });

  it('writes exactly one "request aborted" line when the client goes away before a slow response', async () => {
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    let answeredLate!: () => void;
    const lateAnswer = new Promise<void>((resolve) => {
      answeredLate = resolve;
    });
    handler = (_req, res) => {
      started();
      // a slow handler that answers long after the client has gone
      setTimeout(() => {
        res.end('too late');
        answeredLate();
      }, 200);
    };
    const req = request(`${baseUrl}/slow`, { agent: false });
    req.on('error', () => {});
    req.end();
    await handlerStarted;
    req.destroy();
    await closed;
    await lateAnswer; // the late res.end() must not add a line
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      msg: 'request aborted',
      aborted: true,
      'url.path': '/slow',
      'http.request.method': 'GET',
    });
    expect(lines[0]).not.toHaveProperty('http.response.status_code');
    expect(lines[0]?.duration_ms as number).toBeGreaterThan(0);
  });
});

describe('RequestObserver.ignorePath', () => {
  it('matches paths as routers do: any letter case, with or without a trailing slash', () => {
    const observer = new RequestObserver(() => memoryLogger().logger);
    observer.ignorePath('/metrics');
    observer.ignorePath('/health/live/');
    for (const path of ['/metrics', '/Metrics', '/metrics/', '/health/live', '/HEALTH/LIVE/']) {
      expect(observer.isIgnored(path), path).toBe(true);
    }
    for (const path of ['/metrics/x', '/', '/health', '/metricsx']) expect(observer.isIgnored(path), path).toBe(false);
  });
});

describe('completion-line fields', () => {
  it("adds the app's fields under @obs's own, redacted like every field", async () => {
    beginOptions = {
      fields: (req) => ({
        'tenant.id': req.headers['x-tenant-id'],
        api_token: 'tok-secret-1',
        'http.route': '/not/the/route',
        request_id: 'not-the-id',
      }),
    };
    handler = (_req, res, observed) => {
      observed.setRoute('/users/:id');
      res.end('ok');
    };
    await roundTrip('/users/1', { 'x-tenant-id': 'acme', 'x-request-id': 'fields-core-1' });
    expect(completions()).toHaveLength(1);
    expect(completions()[0]).toMatchObject({
      'tenant.id': 'acme',
      api_token: '[Redacted]',
      'http.route': '/users/:id',
      request_id: 'fields-core-1',
    });
  });

  it('writes the line without them, marked fields_failed, when fields() throws; the request is answered; one warning', async () => {
    const diagnostics: string[] = [];
    const restore = captureDiagnostics(diagnostics);
    try {
      beginOptions = {
        // a different message each time: diagnostics drop a repeated one, the fields' own flag must
        fields: (req) => {
          throw new Error(`no user on this request (${req.url === '/a' ? 'first' : 'second'})`);
        },
      };
      const first = await roundTrip('/a');
      expect(first).toEqual({ status: 200, body: 'ok' });
      closed = new Promise((resolve) => {
        markClosed = resolve;
      });
      await roundTrip('/b');
      expect(completions()).toHaveLength(2);
      for (const line of completions()) {
        expect(line).toMatchObject({ msg: 'request completed', fields_failed: true, 'http.response.status_code': 200 });
      }
      expect(diagnostics.filter((d) => d.includes('fields() option threw'))).toHaveLength(1);
      expect(diagnostics[0]).toContain('no user on this request (first)');
    } finally {
      restore();
    }
  });

  it('adds nothing when fields() returns something that is not an object', async () => {
    beginOptions = { fields: () => 'tenant' as unknown as Record<string, unknown> };
    await roundTrip('/c');
    const line = completions()[0] as LogLine;
    expect(Object.keys(line)).not.toContain('0');
    expect(line).not.toHaveProperty('fields_failed');
  });

  it('adds the standard fields OBS_HTTP_LOG_FIELDS names, by their semantic-convention names', async () => {
    observer.useLogFields(['user_agent.original', 'client.address', 'http.response.body.size']);
    handler = (_req, res) => {
      res.setHeader('content-length', 5);
      res.end('hello');
    };
    await roundTrip('/d', { 'user-agent': 'agent/1.0', 'x-forwarded-for': '203.0.113.7, 10.0.0.1' });
    expect(completions()[0]).toMatchObject({
      'user_agent.original': 'agent/1.0',
      'client.address': '203.0.113.7',
      'http.response.body.size': 5,
    });
  });

  it('takes the size from writeHead() headers, Forwarded before X-Forwarded-For, and the peer without forwarding headers', async () => {
    observer.useLogFields(['client.address', 'http.response.body.size']);
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Length': '3' });
      res.end('abc');
    };
    await roundTrip('/e', { forwarded: 'for="[2001:db8::1]";proto=https', 'x-forwarded-for': '203.0.113.7' });
    expect(completions()[0]).toMatchObject({ 'client.address': '2001:db8::1', 'http.response.body.size': 3 });
    closed = new Promise((resolve) => {
      markClosed = resolve;
    });
    handler = (_req, res) => {
      res.write('chunked, ');
      res.end('no length');
    };
    await roundTrip('/f');
    const line = completions()[1] as LogLine;
    expect(line['client.address']).toBe('127.0.0.1');
    expect(line).not.toHaveProperty(['http.response.body.size']);
    expect(line).not.toHaveProperty(['user_agent.original']);
  });

  it('adds none of them by default', async () => {
    await roundTrip('/g', { 'user-agent': 'agent/1.0' });
    const line = completions()[0] as LogLine;
    for (const key of ['user_agent.original', 'client.address', 'http.response.body.size', 'fields_failed']) {
      expect(line).not.toHaveProperty([key]);
    }
  });
});

/** A bare in-process request and response (what `app.inject()` hands an app): no real socket. */
function inProcess(url: string): { req: IncomingMessage; res: ServerResponse } {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = url;
  return { req, res: new ServerResponse(req) };
}

/** End an in-process response and close it, as light-my-request does. */
function finish(res: ServerResponse, status = 200): void {
  res.statusCode = status;
  res.end();
  res.emit('close');
}

/** What the @obs instance gives the observer: @obs makes the SERVER span (this file's exporter). */
function testTelemetry(): ServerTelemetry {
  return {
    ownsServerSpan: true,
    tracer: provider.getTracer('observer-test'),
    duration: new MeterProvider().getMeter('observer-test').createHistogram('http.server.request.duration'),
    metricAttributes: new MetricAttributeCache(),
    redactQuery: (q) => q,
  };
}

describe('RequestObserver entry points (mutation-testing edges)', () => {
  const servers: Server[] = [];

  /** A server whose requests arrive through `observer.arrive()` (what the server hook does), then `onRequest`. */
  async function serve(
    obs: RequestObserver,
    onRequest: (req: IncomingMessage, res: ServerResponse) => void,
  ): Promise<{ server: Server; port: number }> {
    const s = createServer((req, res) => {
      obs.arrive(req, res);
      onRequest(req, res);
    });
    servers.push(s);
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    return { server: s, port: (s.address() as AddressInfo).port };
  }

  /** Request `path` from `port`; settles once the server side's response has closed (its line is written by then). */
  async function requestAndClose(port: number, path: string, closedOn: { next: Promise<void> }): Promise<void> {
    const reply = new Promise<void>((resolve, reject) => {
      const req = request(`http://127.0.0.1:${port}${path}`, { agent: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    await Promise.all([reply, closedOn.next]);
  }

  /** `next` settles when the response `listen` was last given closes (after the observer's own listener). */
  function closeWatch(): { next: Promise<void>; reset(): void; listen(res: ServerResponse): void } {
    let resolveNext = () => {};
    const watch = {
      next: Promise.resolve(),
      reset() {
        watch.next = new Promise<void>((resolve) => {
          resolveNext = resolve;
        });
      },
      listen(res: ServerResponse) {
        res.once('close', () => resolveNext());
      },
    };
    watch.reset();
    return watch;
  }

  afterAll(() => {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });

  it('leaves out every request of an ignored server (the management server), and only those', async () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    const watch = closeWatch();
    const onRequest = (_req: IncomingMessage, res: ServerResponse) => {
      watch.listen(res);
      res.end('ok');
    };
    const management = await serve(obs, onRequest);
    const app = await serve(obs, onRequest);
    obs.ignoreServer(management.server);

    await requestAndClose(management.port, '/anything', watch);
    expect(mem.lines).toEqual([]);
    watch.reset();
    await requestAndClose(app.port, '/anything', watch);
    expect(mem.lines).toHaveLength(1);
    expect(mem.lines[0]).toMatchObject({ msg: 'request completed', 'url.path': '/anything' });
  });

  it('observes arrived requests when another context manager was installed first (nothing to enter): span, id, line', async () => {
    // the bug this caught: `enter?.(start(...))` skipped the start too, and such a service recorded nothing
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    obs.useTelemetry(testTelemetry(), undefined);
    const watch = closeWatch();
    let begun: ObservedRequest | undefined;
    let arrived: ObservedRequest | undefined;
    const { port } = await serve(obs, (req, res) => {
      watch.listen(res);
      arrived = obs.observationOf(req);
      // the adapter's first hook: it continues the observation the server hook started
      begun = obs.begin(req, res, { resolveRoute: () => '/things/:id' });
      expect(obs.reenter(req)).toBe(false); // nothing to enter with
      res.end('ok');
    });
    await requestAndClose(port, '/things/1', watch);
    expect(begun).toBeDefined();
    expect(begun).toBe(arrived);
    expect(mem.lines).toHaveLength(1);
    expect(mem.lines[0]).toMatchObject({
      msg: 'request completed',
      'http.route': '/things/:id',
      request_id: begun?.id,
      'http.response.status_code': 200,
    });
    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => span.name)).toEqual(['GET /things/:id']);
    expect(mem.lines[0]?.trace_id).toBe(spans[0]?.spanContext().traceId);
  });

  it('enters the arrived request context; reenter() is false for a request it never saw', async () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    const entered: (string | undefined)[] = [];
    obs.useTelemetry(testTelemetry(), (ctx) => entered.push(activeRequestId(ctx)));
    const watch = closeWatch();
    const { port } = await serve(obs, (_req, res) => {
      watch.listen(res);
      res.end('ok');
    });
    await requestAndClose(port, '/entered', watch);
    expect(mem.lines).toHaveLength(1);
    expect(entered).toEqual([mem.lines[0]?.request_id]);
    const { req } = inProcess('/never-seen');
    expect(obs.reenter(req)).toBe(false);
    expect(entered).toHaveLength(1);
  });

  it('records a request cut by the server at shutdown as cut, with its error type', async () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    const watch = closeWatch();
    const { port } = await serve(obs, (_req, res) => {
      watch.listen(res);
      res.write('partial');
      // what the drain timeout does: tell the observer, then close the connection
      setImmediate(() => {
        obs.cutByServer(res);
        res.socket?.destroy();
      });
    });
    const req = request(`http://127.0.0.1:${port}/long`, { agent: false }, (res) => res.resume());
    req.on('error', () => {});
    req.end();
    await watch.next;
    expect(mem.lines).toHaveLength(1);
    expect(mem.lines[0]).toMatchObject({
      level: 'error',
      msg: 'request cut at shutdown',
      'error.type': 'server_shutdown',
      'url.path': '/long',
    });
    // a response it never observed: nothing to record, nothing thrown
    obs.cutByServer(inProcess('/x').res);
  });

  it('failed(): a 4xx only noted, a 5xx (from 500) recorded once, an unobserved 5xx still logged', async () => {
    handler = (req, res) => {
      observer.failed(req, new Error('bad body'), 404);
      res.statusCode = 404;
      res.end();
    };
    await roundTrip('/client-error');
    expect(lines.map((l) => l.msg)).toEqual(['request completed']);
    expect(lines[0]).toMatchObject({ level: 'info', 'http.response.status_code': 404 });
    expect(exporter.getFinishedSpans()[0]?.status.code).toBe(SpanStatusCode.UNSET);

    lines.length = 0;
    exporter.reset();
    closed = new Promise((resolve) => {
      markClosed = resolve;
    });
    handler = (req, res) => {
      observer.failed(req, new Error('handler broke'), 500);
      observer.failed(req, new Error('and again'), 500);
      res.statusCode = 500;
      res.end();
    };
    await roundTrip('/server-error', { 'x-request-id': 'rid-failed' });
    const failures = lines.filter((l) => l.msg === 'request failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ level: 'error', request_id: 'rid-failed', err: { message: 'handler broke' } });
    expect(exporter.getFinishedSpans()[0]?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'handler broke' });

    // a request the observer never saw: a 4xx is nothing, a 5xx is still logged, with its error
    lines.length = 0;
    const { req } = inProcess('/unobserved');
    observer.failed(req, new Error('client mistake'), 400);
    expect(lines).toEqual([]);
    observer.failed(req, new Error('unobserved failure'), 503);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', msg: 'request failed', err: { message: 'unobserved failure' } });
  });

  it('works with an error reporter that reports nothing (error tracking off)', () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(
      () => mem.logger,
      () => undefined,
    );
    const { req, res } = inProcess('/no-tracking');
    obs.begin(req, res).recordError(new Error('not reported'));
    finish(res, 500);
    expect(mem.lines.map((l) => l.msg)).toEqual(['request failed', 'request completed']);
  });

  it('observes a request with no socket (a hand-made in-process request) while a server is ignored', () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    obs.ignoreServer(createServer());
    const req = new IncomingMessage(null as unknown as Socket);
    req.method = 'GET';
    req.url = '/socketless';
    const res = new ServerResponse(req);
    obs.begin(req, res);
    finish(res);
    expect(mem.lines).toHaveLength(1);
    expect(mem.lines[0]).toMatchObject({ msg: 'request completed', 'url.path': '/socketless' });
  });

  it('counts a request with no URL as `/`', () => {
    const mem = memoryLogger();
    const obs = new RequestObserver(() => mem.logger);
    obs.ignorePath('/');
    const { req, res } = inProcess('');
    obs.begin(req, res);
    finish(res);
    expect(mem.lines).toEqual([]);
  });

  it("disables the framework's route instrumentation when an adapter labels routes itself", () => {
    const obs = new RequestObserver(() => memoryLogger().logger);
    obs.adapterLabelsRoutes('koa'); // before telemetry: nothing to disable yet, nothing thrown
    const disabled: string[] = [];
    obs.useTelemetry({} as ServerTelemetry, undefined, (name) => disabled.push(name));
    obs.adapterLabelsRoutes('express');
    expect(disabled).toEqual(['express']);
  });

  it('continues an observation started by another copy of @obs/core (two installed versions), not a second one', async () => {
    const dist = (await import('../dist/http/observer.js')) as unknown as typeof import('../src/http/observer.js');
    const mem = memoryLogger();
    const hookCopy = new RequestObserver(() => mem.logger);
    const adapterCopy = new dist.RequestObserver(() => mem.logger);
    const { req, res } = inProcess('/two-copies');
    const first = hookCopy.begin(req, res);
    const second = adapterCopy.begin(req, res, { resolveRoute: () => '/two-copies' });
    expect(second.id).toBe(first.id);
    finish(res);
    expect(mem.lines).toHaveLength(1);
    expect(mem.lines[0]).toMatchObject({ 'http.route': '/two-copies', request_id: first.id });
  });
});
